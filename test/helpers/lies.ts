/**
 * Lying on purpose (test-only, not in the package): the named ways a snap server can answer wrongly,
 * used by the unit tests' fake peers and by a real client process started through the test entry
 * `integration/harness/lyingnode.ts --lie=KIND` (`lyingserver.ts`) in the fault suite
 * (`integration/faults.spec.ts`): how each one reshapes the request the real server answers, and how
 * it tampers with the honest reply before it goes on the wire. Behaviours that do not apply to a kind
 * (e.g. `wrongCode` for an account range) answer that kind honestly.
 *
 * | behaviour       | accounts / storage                                 | codes                | nodes               |
 * |-----------------|----------------------------------------------------|----------------------|---------------------|
 * | `honest`        | the real server's reply                            | same                 | same                |
 * | `empty`         | empty reply (the peer lacks the root)              | no codes             | no nodes            |
 * | `silent`        | never answers: the requester times out             | same                 | same                |
 * | `corrupt`       | middle account's balance + 1 / a slot byte flipped | a code byte flipped  | a node byte flipped |
 * | `capped`        | served with a 500-byte limit (a valid short reply) | first code only      | first node only     |
 * | `partialCodes`  | honest                                             | every other code, in order | honest        |
 * | `wrongCode`     | honest                                             | middle code replaced | honest              |
 * | `dropProofNode` | last proof node removed                            | honest               | honest              |
 * | `noProof`       | proof removed                                      | honest               | honest              |
 * | `extraProof`    | edge proofs added to a complete range, then one unused node appended (last) | honest | honest   |
 * | `oversized`     | 10x the bytes, limit hash ignored (keys past it)   | 10x the bytes        | 10x the bytes       |
 * | `unrequested`   | honest                                 | a code not asked for appended | the root node appended |
 * | `lyingCont`     | first half of the (last) range, proof of its origin only | honest         | honest              |
 * | `garbage`       | a reply that fails decoding (BadReplyError)        | same                 | same                |
 * | `slow`          | honest, delivered after a delay                    | same                 | same                |
 * | `slowOnce`      | first reply held past a new peer's timeout (processes only) | same        | same                |
 * | `otherRoot`     | served from another state root (see below), its proofs | honest           | that root's nodes   |
 *
 * Storage tampering applies to the last slot list of a reply (the one that may carry a proof),
 * except `corrupt`, which flips a byte in the last non-empty list.
 *
 * `otherRoot` answers a request for a root it serves as if it had been asked for another state
 * it holds: a real process uses its genesis state (always in its DB, and on a devnet with
 * transactions really different from the recent roots; the roots just behind the head are not:
 * empty clique blocks keep their parent's root). Every reply is then well-formed and internally
 * consistent, only for the wrong state. Where no other root exists, or the request names that
 * root itself, it answers honestly. A storage trie that both states share is a correct answer.
 */
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToBigInt, equalsBytes } from '@ethereumjs/util'

import { Budget } from '../../src/server/budget.js'
import { mergeProofs } from '../../src/server/common.js'
import { serveRequest } from '../../src/server/handler.js'
import { storageRootOf } from '../../src/server/storageranges.js'
import { toHex } from '../../src/trie/hex.js'
import { keccak256 } from '../../src/trie/keccak.js'
import { bytesToNibbles } from '../../src/trie/nibbles.js'
import { encodeLeaf } from '../../src/trie/node.js'
import { lookupKey, nodeAtPath, proveKey } from '../../src/trie/prove.js'

import type { StateView } from '../../src/server/stateview.js'
import type { ServeLimits } from '../../src/wire/constants.js'
import type {
  ByteCodesReply,
  GetAccountRangeRequest,
  GetStorageRangesRequest,
  SnapRequest,
  StorageRangesReply,
  TrieNodesReply,
} from '../../src/wire/messages.js'

/** Every named behaviour (see the module comment) */
export const BEHAVIOURS = [
  'honest',
  'empty',
  'silent',
  'corrupt',
  'capped',
  'partialCodes',
  'wrongCode',
  'dropProofNode',
  'noProof',
  'extraProof',
  'oversized',
  'unrequested',
  'lyingCont',
  'garbage',
  'slow',
  'slowOnce',
  'otherRoot',
] as const

/** One named behaviour */
export type Behaviour = (typeof BEHAVIOURS)[number]

/**
 * The behaviours a client process can be made to show (`lyingnode.ts --lie=KIND`): all but `honest`
 * (the default) and `garbage` (the client's encoder only writes well-formed messages)
 */
export const LIES = BEHAVIOURS.filter((b) => b !== 'honest' && b !== 'garbage')

/** One lie a client process can tell */
export type Lie = Exclude<Behaviour, 'honest' | 'garbage'>

/** The four request kinds, by what they fetch */
export type SnapKind = 'accounts' | 'storage' | 'codes' | 'nodes'

/** The kind of each request message */
export const KIND_OF: { readonly [k in SnapRequest['kind']]: SnapKind } = Object.freeze({
  GetAccountRange: 'accounts',
  GetStorageRanges: 'storage',
  GetByteCodes: 'codes',
  GetTrieNodes: 'nodes',
})

/** The bytes a `capped` peer serves per range request, whatever was asked */
export const CAPPED_BYTES = 500n

/** How much more than asked an `oversized` peer serves */
export const OVERSIZE_FACTOR = 10n

/**
 * A well-formed trie node (a leaf, stored by hash) that belongs to no trie of any fake state:
 * `extraProof` appends it, so a verifier that ignores unused proof nodes can drop exactly it.
 */
export const UNUSED_NODE = encodeLeaf(bytesToNibbles(keccak256(Uint8Array.of(0x55))), 0, new Uint8Array(40).fill(0x55))

/** A code no fake state holds (`wrongCode`, and `unrequested` when every code was asked for) */
export const FOREIGN_CODE = Uint8Array.from([0x60, 0x00, 0xfd, 0x77, 0x72, 0x6f, 0x6e, 0x67])

const ZERO_HASH = new Uint8Array(32)
const MAX_HASH = new Uint8Array(32).fill(0xff)

/** An account of serveRequest's AccountRange args: the client's encoder input (body as full-form fields) */
export interface AccountArg {
  readonly hash: Uint8Array
  readonly body: Uint8Array[]
}

/** serveRequest's args for an AccountRange, which the client's encoder slims */
export interface AccountRangeArgs {
  readonly accounts: AccountArg[]
  readonly proof: Uint8Array[]
}

/** A reply before encoding, tagged with its kind */
export type ServedReply =
  | { readonly kind: 'accounts'; readonly reply: AccountRangeArgs }
  | { readonly kind: 'storage'; readonly reply: StorageRangesReply }
  | { readonly kind: 'codes'; readonly reply: ByteCodesReply }
  | { readonly kind: 'nodes'; readonly reply: TrieNodesReply }

/** What tampering may read besides the reply */
export interface TamperContext {
  readonly view: StateView
  /** The source state's codes by hex hash (for `unrequested`) */
  readonly codes: ReadonlyMap<string, Uint8Array>
  /** The state `otherRoot` answers from; undefined: it has none and answers honestly */
  readonly otherRoot?: Uint8Array
}

/** The empty reply of each kind */
export function emptyReply(kind: SnapKind): ServedReply {
  switch (kind) {
    case 'accounts':
      return { kind, reply: { accounts: [], proof: [] } }
    case 'storage':
      return { kind, reply: { slots: [], proof: [] } }
    case 'codes':
      return { kind, reply: { codes: [] } }
    case 'nodes':
      return { kind, reply: { nodes: [] } }
  }
}

/** The request the server answers and the limits it answers under, for behaviour `b` */
export function shapeRequest(
  req: SnapRequest,
  b: Behaviour,
  limits: ServeLimits,
): { req: SnapRequest; limits: ServeLimits } {
  const ranged = req.kind === 'GetAccountRange' || req.kind === 'GetStorageRanges'
  if (b === 'capped' && ranged) return { req: { ...req, bytes: CAPPED_BYTES }, limits }
  if (b !== 'oversized') return { req, limits }
  const bytes = req.bytes * OVERSIZE_FACTOR
  const more = { ...limits, maxResponseBytes: limits.maxResponseBytes * Number(OVERSIZE_FACTOR) }
  return { req: ranged ? { ...req, bytes, limit: MAX_HASH } : { ...req, bytes }, limits: more }
}

/**
 * The request and view an `otherRoot` server answers with: a root-bearing request for a served root
 * re-aimed at `other`, over a view that serves `other` too. Anything else is left as it is.
 */
export function aimAtOtherRoot(
  req: SnapRequest,
  view: StateView,
  other: Uint8Array | undefined,
): { req: SnapRequest; view: StateView } {
  if (
    other === undefined ||
    req.kind === 'GetByteCodes' ||
    equalsBytes(req.root, other) ||
    !view.isServedRoot(req.root)
  )
    return { req, view }
  const aimed: StateView = {
    isServedRoot: (root) => equalsBytes(root, other) || view.isServedRoot(root),
    accountReader: (counter) => view.accountReader(counter),
    storageReader: (owner, counter) => view.storageReader(owner, counter),
    getCodes: (hashes, counter) => view.getCodes(hashes, counter),
    withLeafWalk: (root, fn) => view.withLeafWalk(root, fn),
  }
  return { req: { ...req, root: other }, view: aimed }
}

/** The real server's reply to `req`, typed by kind */
export async function serveHonest(view: StateView, req: SnapRequest, limits: ServeLimits): Promise<ServedReply> {
  const { args } = await serveRequest(view, req, limits)
  // serveRequest hands back the client encoder's input for the request's reply message
  switch (req.kind) {
    case 'GetAccountRange':
      return { kind: 'accounts', reply: args as AccountRangeArgs }
    case 'GetStorageRanges':
      return { kind: 'storage', reply: args as StorageRangesReply }
    case 'GetByteCodes':
      return { kind: 'codes', reply: args as ByteCodesReply }
    case 'GetTrieNodes':
      return { kind: 'nodes', reply: args as TrieNodesReply }
  }
}

const middle = (n: number) => Math.floor(n / 2)

function flipByte(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes)
  out[at] ^= 0x01
  return out
}

/** A slot value with a byte of its word flipped, still a canonical non-zero word */
function flipSlotValue(value: Uint8Array): Uint8Array {
  const word = flipByte(RLP.decode(value) as Uint8Array, 0)
  if (word[0] === 0) word[0] = 0x80
  return RLP.encode(word)
}

function readerOf(view: StateView, owner: Uint8Array | undefined) {
  return owner === undefined ? view.accountReader(Budget.unlimited()) : view.storageReader(owner, Budget.unlimited())
}

/** Proof of `origin` and, given `last`, of the last key: what a server sends for a cut range */
async function edgeProof(
  view: StateView,
  owner: Uint8Array | undefined,
  root: Uint8Array,
  origin: Uint8Array,
  last?: Uint8Array,
): Promise<Uint8Array[]> {
  const reader = readerOf(view, owner)
  const originProof = await proveKey(reader, root, origin)
  return last === undefined ? originProof : mergeProofs(originProof, await proveKey(reader, root, last))
}

/** Storage root of the account `owner` in the state `root` (the zero hash if unknown) */
async function storageRoot(view: StateView, root: Uint8Array, owner: Uint8Array): Promise<Uint8Array> {
  const body = await lookupKey(readerOf(view, undefined), root, owner)
  return (body === undefined ? undefined : storageRootOf(body)) ?? ZERO_HASH
}

/**
 * The proof that a proof behaviour sends instead of `proof`, `undefined` for other behaviours.
 * `edges` makes the edge proofs of a complete range (`undefined` when the range is empty).
 */
async function tamperProof(
  b: Behaviour,
  proof: Uint8Array[],
  edges: (() => Promise<Uint8Array[]>) | undefined,
): Promise<Uint8Array[] | undefined> {
  switch (b) {
    case 'dropProofNode':
      return proof.slice(0, -1)
    case 'noProof':
      return []
    case 'extraProof':
      return [...(proof.length > 0 || edges === undefined ? proof : await edges()), UNUSED_NODE]
    default:
      return undefined
  }
}

async function tamperAccounts(
  r: AccountRangeArgs,
  b: Behaviour,
  req: GetAccountRangeRequest,
  view: StateView,
): Promise<AccountRangeArgs> {
  const n = r.accounts.length
  const proof = await tamperProof(
    b,
    r.proof,
    n === 0 ? undefined : () => edgeProof(view, undefined, req.root, req.origin, r.accounts[n - 1].hash),
  )
  if (proof !== undefined) return { ...r, proof }
  if (b === 'corrupt' && n > 0) {
    const accounts = [...r.accounts]
    const [nonce, balance, ...rest] = accounts[middle(n)].body
    accounts[middle(n)] = {
      ...accounts[middle(n)],
      body: [nonce, bigIntToUnpaddedBytes(bytesToBigInt(balance) + 1n), ...rest],
    }
    return { ...r, accounts }
  }
  if (b === 'lyingCont' && n >= 2) {
    return {
      accounts: r.accounts.slice(0, Math.ceil(n / 2)),
      proof: await edgeProof(view, undefined, req.root, req.origin),
    }
  }
  return r
}

/** The reply with a slot value flipped in the middle of the last non-empty list */
function corruptSlot(r: StorageRangesReply): StorageRangesReply {
  let i = r.slots.length - 1
  while (i >= 0 && r.slots[i].length === 0) i--
  if (i < 0) return r
  const slots = [...r.slots]
  const list = [...slots[i]]
  const at = middle(list.length)
  list[at] = { ...list[at], body: flipSlotValue(list[at].body) }
  slots[i] = list
  return { ...r, slots }
}

async function tamperStorage(
  r: StorageRangesReply,
  b: Behaviour,
  req: GetStorageRangesRequest,
  view: StateView,
): Promise<StorageRangesReply> {
  const at = r.slots.length - 1
  const last = r.slots[at] ?? []
  const owner = req.accounts[at]
  const origin = at === 0 ? req.origin : ZERO_HASH
  const edges = async (lastKey?: Uint8Array) =>
    edgeProof(view, owner, await storageRoot(view, req.root, owner), origin, lastKey)
  const proof = await tamperProof(b, r.proof, last.length === 0 ? undefined : () => edges(last[last.length - 1].hash))
  if (proof !== undefined) return { ...r, proof }
  if (b === 'corrupt') return corruptSlot(r)
  if (b === 'lyingCont' && last.length >= 2) {
    return { slots: [...r.slots.slice(0, at), last.slice(0, Math.ceil(last.length / 2))], proof: await edges() }
  }
  return r
}

function tamperCodes(
  r: ByteCodesReply,
  b: Behaviour,
  requested: Uint8Array[],
  codes: ReadonlyMap<string, Uint8Array>,
): ByteCodesReply {
  const n = r.codes.length
  switch (b) {
    case 'corrupt':
      return n === 0 ? r : { codes: r.codes.map((c, i) => (i === middle(n) && c.length > 0 ? flipByte(c, 0) : c)) }
    case 'capped':
      return { codes: r.codes.slice(0, 1) }
    case 'partialCodes':
      return { codes: r.codes.filter((_, i) => i % 2 === 0) }
    case 'wrongCode':
      return n === 0 ? r : { codes: r.codes.map((c, i) => (i === middle(n) ? FOREIGN_CODE : c)) }
    case 'unrequested': {
      const asked = new Set(requested.map(toHex))
      const extra = [...codes].find(([hash]) => !asked.has(hash))?.[1] ?? FOREIGN_CODE
      return { codes: [...r.codes, extra] }
    }
    default:
      return r
  }
}

async function tamperNodes(
  r: TrieNodesReply,
  b: Behaviour,
  root: Uint8Array,
  view: StateView,
): Promise<TrieNodesReply> {
  switch (b) {
    case 'corrupt': {
      const at = r.nodes.findIndex((node) => node.length > 0)
      return at < 0 ? r : { nodes: r.nodes.map((node, i) => (i === at ? flipByte(node, node.length - 1) : node)) }
    }
    case 'capped':
      return { nodes: r.nodes.slice(0, 1) }
    case 'unrequested': {
      const rootNode = await nodeAtPath(view.accountReader(Budget.unlimited()), root, new Uint8Array(0))
      return { nodes: [...r.nodes, rootNode ?? UNUSED_NODE] }
    }
    default:
      return r
  }
}

/** The reply behaviour `b` sends instead of the honest `served` to the original request `req` */
export async function tamper(
  served: ServedReply,
  b: Behaviour,
  req: SnapRequest,
  ctx: TamperContext,
): Promise<ServedReply> {
  if (served.kind === 'accounts' && req.kind === 'GetAccountRange') {
    return { kind: 'accounts', reply: await tamperAccounts(served.reply, b, req, ctx.view) }
  }
  if (served.kind === 'storage' && req.kind === 'GetStorageRanges') {
    return { kind: 'storage', reply: await tamperStorage(served.reply, b, req, ctx.view) }
  }
  if (served.kind === 'codes' && req.kind === 'GetByteCodes') {
    return { kind: 'codes', reply: tamperCodes(served.reply, b, req.hashes, ctx.codes) }
  }
  if (served.kind === 'nodes' && req.kind === 'GetTrieNodes') {
    return { kind: 'nodes', reply: await tamperNodes(served.reply, b, req.root, ctx.view) }
  }
  throw new Error(`a ${served.kind} reply does not answer ${req.kind}`)
}

/**
 * The reply behaviour `b` makes for `req` (any but `silent`, `slow`'s delay and `garbage`, which
 * happen on the wire): what the lying server and the unit tests' fake peers both send
 */
export async function tell(
  b: Behaviour,
  req: SnapRequest,
  limits: ServeLimits,
  ctx: TamperContext,
): Promise<ServedReply> {
  if (b === 'empty') return emptyReply(KIND_OF[req.kind])
  const aimed = b === 'otherRoot' ? aimAtOtherRoot(req, ctx.view, ctx.otherRoot) : { req, view: ctx.view }
  const shaped = shapeRequest(aimed.req, b, limits)
  return tamper(await serveHonest(aimed.view, shaped.req, shaped.limits), b, req, ctx)
}

/** How many items a reply carries (accounts, slots, codes or nodes) */
export function itemCount(served: ServedReply): number {
  switch (served.kind) {
    case 'accounts':
      return served.reply.accounts.length
    case 'storage':
      return served.reply.slots.reduce((n, s) => n + s.length, 0)
    case 'codes':
      return served.reply.codes.length
    case 'nodes':
      return served.reply.nodes.length
  }
}
