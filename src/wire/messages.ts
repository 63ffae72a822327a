/**
 * Typed snap/1 request and reply shapes, and validation of the requests the client's
 * `SnapProtocol` decodes. The client decodes field by field without checking types or
 * lengths, so everything from a peer is `unknown` until {@link parseSnapRequest} says otherwise.
 */
import { HASH_LENGTH } from './constants.js'

/** snap.md §GetAccountRange (0x00) */
export interface GetAccountRangeRequest {
  readonly kind: 'GetAccountRange'
  readonly reqId: bigint
  readonly root: Uint8Array
  readonly origin: Uint8Array
  readonly limit: Uint8Array
  readonly bytes: bigint
}

/** snap.md §GetStorageRanges (0x02); `origin`/`limit` are 32 bytes (empty on the wire = zero/max) */
export interface GetStorageRangesRequest {
  readonly kind: 'GetStorageRanges'
  readonly reqId: bigint
  readonly root: Uint8Array
  readonly accounts: Uint8Array[]
  readonly origin: Uint8Array
  readonly limit: Uint8Array
  readonly bytes: bigint
}

/** snap.md §GetByteCodes (0x04) */
export interface GetByteCodesRequest {
  readonly kind: 'GetByteCodes'
  readonly reqId: bigint
  readonly hashes: Uint8Array[]
  readonly bytes: bigint
}

/** snap.md §GetTrieNodes (0x06): each path set is `[accPath, slotPath1, ...]` */
export interface GetTrieNodesRequest {
  readonly kind: 'GetTrieNodes'
  readonly reqId: bigint
  readonly root: Uint8Array
  readonly paths: Uint8Array[][]
  readonly bytes: bigint
}

/** A validated snap/1 request (the four kinds a server answers) */
export type SnapRequest = GetAccountRangeRequest | GetStorageRangesRequest | GetByteCodesRequest | GetTrieNodesRequest

/** One account of an AccountRange: hash and full (consensus) RLP body; slimmed when encoded */
export interface AccountData {
  readonly hash: Uint8Array
  readonly body: Uint8Array
}

/** One slot of a StorageRanges: hash and the trie leaf value (RLP of the trimmed word) */
export interface SlotData {
  readonly hash: Uint8Array
  readonly body: Uint8Array
}

/** snap.md §AccountRange (0x01) */
export interface AccountRangeReply {
  readonly accounts: AccountData[]
  readonly proof: Uint8Array[]
}

/**
 * One account of a received AccountRange: its hash and the body exactly as sent, in slim form.
 * The requester does not expand it: the range verifier (`trie/responses.ts`) checks the slim
 * encoding strictly and turns it into the full body in one place.
 */
export interface SlimAccountData {
  readonly hash: Uint8Array
  readonly slimBody: Uint8Array
}

/** snap.md §AccountRange (0x01), as received by a requester */
export interface ReceivedAccountRange {
  readonly accounts: SlimAccountData[]
  readonly proof: Uint8Array[]
}

/** snap.md §StorageRanges (0x03) */
export interface StorageRangesReply {
  readonly slots: SlotData[][]
  readonly proof: Uint8Array[]
}

/** snap.md §ByteCodes (0x05) */
export interface ByteCodesReply {
  readonly codes: Uint8Array[]
}

/** snap.md §TrieNodes (0x07) */
export interface TrieNodesReply {
  readonly nodes: Uint8Array[]
}

/** Result of validating a decoded request: typed, or the reason it is malformed */
export type ParsedRequest =
  | { readonly ok: true; readonly request: SnapRequest }
  | { readonly ok: false; readonly reqId: bigint | undefined; readonly reason: string }

const MAX_UINT64 = (1n << 64n) - 1n
const ZERO_HASH = new Uint8Array(HASH_LENGTH)
const MAX_HASH = new Uint8Array(HASH_LENGTH).fill(0xff)

class Malformed extends Error {}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array
}

function hash(value: unknown, field: string): Uint8Array {
  if (!isBytes(value) || value.length !== HASH_LENGTH) throw new Malformed(`${field}: not 32 bytes`)
  return value
}

function hashList(value: unknown, field: string): Uint8Array[] {
  if (!Array.isArray(value)) throw new Malformed(`${field}: not a list`)
  return value.map((item, i) => hash(item, `${field}[${i}]`))
}

/** `P` fields arrive as bigint from the client's decoder; bound them to uint64 */
function uint(value: unknown, field: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MAX_UINT64) {
    throw new Malformed(`${field}: not a uint64`)
  }
  return value
}

/**
 * GetStorageRanges' `startingHash`/`limitHash` are `B`: empty means "from the start"/"to the end"
 * (geth's requester omits them); anything else must be a full hash.
 */
function optionalHash(value: unknown, field: string, fallback: Uint8Array): Uint8Array {
  if (isBytes(value) && value.length === 0) return fallback
  return hash(value, field)
}

function pathSets(value: unknown): Uint8Array[][] {
  if (!Array.isArray(value)) throw new Malformed('paths: not a list')
  return value.map((set, i) => {
    if (!Array.isArray(set) || set.length === 0) throw new Malformed(`paths[${i}]: not a non-empty list`)
    return set.map((p, j) => {
      if (!isBytes(p)) throw new Malformed(`paths[${i}][${j}]: not bytes`)
      return p
    })
  })
}

function parseFields(name: string, d: Record<string, unknown>): SnapRequest {
  const reqId = uint(d.reqId, 'reqId')
  switch (name) {
    case 'GetAccountRange':
      return {
        kind: name,
        reqId,
        root: hash(d.root, 'root'),
        origin: hash(d.origin, 'origin'),
        limit: hash(d.limit, 'limit'),
        bytes: uint(d.bytes, 'bytes'),
      }
    case 'GetStorageRanges':
      return {
        kind: name,
        reqId,
        root: hash(d.root, 'root'),
        accounts: hashList(d.accounts, 'accounts'),
        origin: optionalHash(d.origin, 'origin', ZERO_HASH),
        limit: optionalHash(d.limit, 'limit', MAX_HASH),
        bytes: uint(d.bytes, 'bytes'),
      }
    case 'GetByteCodes':
      return { kind: name, reqId, hashes: hashList(d.hashes, 'hashes'), bytes: uint(d.bytes, 'bytes') }
    case 'GetTrieNodes':
      return {
        kind: name,
        reqId,
        root: hash(d.root, 'root'),
        paths: pathSets(d.paths),
        bytes: uint(d.bytes, 'bytes'),
      }
    default:
      throw new Malformed(`${name}: not a request`)
  }
}

/**
 * Validates a request as decoded by the client's `SnapProtocol` (`{name, data}`). Field types and
 * lengths are checked here because the client's decoder passes whatever the RLP held.
 */
export function parseSnapRequest(name: string, data: unknown): ParsedRequest {
  const d = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  const reqId = typeof d.reqId === 'bigint' && d.reqId >= 0n && d.reqId <= MAX_UINT64 ? d.reqId : undefined
  try {
    return { ok: true, request: parseFields(name, d) }
  } catch (err) {
    if (!(err instanceof Malformed)) throw err
    return { ok: false, reqId, reason: err.message }
  }
}
