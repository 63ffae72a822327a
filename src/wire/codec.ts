/**
 * Requester-side snap/1 codec: requests to the RLP item lists of snap.md §Protocol Messages,
 * replies from them into typed shapes (account bodies stay slim, as sent: the range verifier
 * checks and expands them). Replies are validated structurally: a peer's garbage
 * becomes an error, never a wrongly-typed value.
 */
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToBigInt } from '@ethereumjs/util'

import { HASH_LENGTH, SnapMessageCode } from './constants.js'

import type {
  ByteCodesReply,
  ReceivedAccountRange,
  SlimAccountData,
  SlotData,
  SnapRequest,
  StorageRangesReply,
  TrieNodesReply,
} from './messages.js'
import type { NestedUint8Array } from '@ethereumjs/rlp'

type Item = Uint8Array | NestedUint8Array

/** The request as its message code and RLP item list */
export function encodeRequest(req: SnapRequest): { code: number; payload: Item[] } {
  const id = bigIntToUnpaddedBytes(req.reqId)
  const bytes = bigIntToUnpaddedBytes(req.bytes)
  switch (req.kind) {
    case 'GetAccountRange':
      return { code: SnapMessageCode.GetAccountRange, payload: [id, req.root, req.origin, req.limit, bytes] }
    case 'GetStorageRanges':
      return {
        code: SnapMessageCode.GetStorageRanges,
        payload: [id, req.root, req.accounts, req.origin, req.limit, bytes],
      }
    case 'GetByteCodes':
      return { code: SnapMessageCode.GetByteCodes, payload: [id, req.hashes, bytes] }
    case 'GetTrieNodes':
      return { code: SnapMessageCode.GetTrieNodes, payload: [id, req.root, req.paths, bytes] }
  }
}

/** A reply that is not of the shape snap/1 defines: the peer sent garbage */
export class BadReplyError extends Error {}

function bytes(item: Item | undefined, what: string): Uint8Array {
  if (!(item instanceof Uint8Array)) throw new BadReplyError(`${what}: not bytes`)
  return item
}

function list(item: Item | undefined, what: string): Item[] {
  if (!Array.isArray(item)) throw new BadReplyError(`${what}: not a list`)
  return item
}

function hash(item: Item | undefined, what: string): Uint8Array {
  const b = bytes(item, what)
  if (b.length !== HASH_LENGTH) throw new BadReplyError(`${what}: not 32 bytes`)
  return b
}

/** The request id a reply carries (its first item), bounded to uint64 */
export function replyId(payload: Item): bigint {
  const id = bytes(list(payload, 'reply')[0], 'reqId')
  if (id.length > 8) throw new BadReplyError('reqId: wider than uint64')
  return bytesToBigInt(id)
}

/** An AccountRange reply; bodies stay slim, as sent (see {@link SlimAccountData}) */
export function decodeAccountRange(payload: Item): ReceivedAccountRange {
  const [, accounts, proof] = list(payload, 'AccountRange')
  return {
    accounts: list(accounts, 'accounts').map((a, i): SlimAccountData => {
      const [h, body] = list(a, `accounts[${i}]`)
      // The client's decoder hands the body over as decoded RLP: re-encode it to the bytes sent
      return { hash: hash(h, 'account hash'), slimBody: RLP.encode(list(body, 'account body')) }
    }),
    proof: list(proof, 'proof').map((n) => bytes(n, 'proof node')),
  }
}

/** A StorageRanges reply: one slot list per requested account, and the proof of the last one */
export function decodeStorageRanges(payload: Item): StorageRangesReply {
  const [, slots, proof] = list(payload, 'StorageRanges')
  return {
    slots: list(slots, 'slots').map((set) =>
      list(set, 'slot list').map((s): SlotData => {
        const [h, body] = list(s, 'slot')
        return { hash: hash(h, 'slot hash'), body: bytes(body, 'slot data') }
      }),
    ),
    proof: list(proof, 'proof').map((n) => bytes(n, 'proof node')),
  }
}

/** A ByteCodes reply, codes in the order the peer sent them */
export function decodeByteCodes(payload: Item): ByteCodesReply {
  return { codes: list(list(payload, 'ByteCodes')[1], 'codes').map((c) => bytes(c, 'code')) }
}

/** A TrieNodes reply, nodes in the order the peer sent them */
export function decodeTrieNodes(payload: Item): TrieNodesReply {
  return { nodes: list(list(payload, 'TrieNodes')[1], 'nodes').map((n) => bytes(n, 'node')) }
}
