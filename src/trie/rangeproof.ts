/**
 * Range-proof verification for snap/1 account and storage ranges, fused with trie building.
 *
 * Why not `@ethereumjs/mpt`'s `verifyMerkleRangeProof`: checked against our cases it is correct (the whole
 * trie without proof, a last range, an empty range past the end when `lastKey` is null, an empty range
 * hiding keys rejected), but an empty range given as (origin, origin) is rejected ("firstKey should be
 * less than lastKey"), it inserts every leaf with `put` into an in-memory trie (measured ~3.1-3.3k
 * leaves/s on 500- and 2000-leaf ranges, this machine kind), its nodes are thrown away so that a
 * syncer would hash everything twice, and its errors are untyped strings. This verifier instead walks
 * the proof along the two edges, collects the sibling subtrees outside the range as (path, hash) refs,
 * and streams refs + leaves + refs through the sorted `StackTrieBuilder`: the result must hash to the
 * root. Each node is hashed once, and since every ref is a real sibling, every node built is a real
 * node of the trie, ready to store.
 *
 * Cases (snap/1, `caps/snap.md`): no proof = the whole trie; an empty range with a proof = proof of
 * absence of the origin with nothing at or after it (including the range past the end of the trie,
 * which some clients wrongly reject); otherwise proofs of the origin and the last key.
 */
import { TrieVerifyError } from './errors.js'
import { ProofIndex, walkEdge } from './proofwalk.js'
import { EMPTY_ROOT, ItemOrderError, StackTrieBuilder } from './stackbuilder.js'
import { bytesToNibbles, compareBytes } from './nibbles.js'
import { toHex0x } from './hex.js'

/** A node to store under its hash. */
export interface NodeRecord {
  hash: Uint8Array
  rlp: Uint8Array
  /**
   * No proof sibling lies below it: its whole subtree is in the same verdict. Nodes on the range's
   * edge paths are not complete (their outside siblings may not be stored yet); a syncer that wants
   * "stored means subtree stored" (so that healing can skip stored subtrees) keeps only complete ones.
   */
  complete: boolean
}

/** A range response to check against a root. Keys are 32-byte hashes; values are trie values. */
export interface RangeInput {
  /** Root of the trie the range claims to come from (state root or storage root). */
  root: Uint8Array
  /** The request's origin (starting hash). */
  origin: Uint8Array
  /** The request's limit hash; only the last key may exceed it (servers finish on the first key past it). */
  limit?: Uint8Array
  keys: Uint8Array[]
  values: Uint8Array[]
  /** Proof nodes; empty when the response claims to be the whole trie. */
  proof: Uint8Array[]
  /**
   * Accept proof nodes that neither edge path uses, instead of refusing them (`PROOF_EXTRA_NODE`).
   * go-ethereum's verifier ignores them and `@ethereumjs/mpt`'s `createMerkleProof` produces them,
   * so a syncer must not drop an honest peer for them; it bounds the reply's size itself.
   */
  ignoreUnusedProof?: boolean
}

/** A verified range. */
export interface RangeVerdict {
  /** The trie holds keys after the last one returned: request the rest. */
  more: boolean
  /** Every node the range determines, including its edges' nodes: all real nodes of the trie. */
  nodes: NodeRecord[]
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return compareBytes(a, b) === 0
}

/** Checks counts, key lengths, order and bounds; throws `TrieVerifyError` with the index at fault. */
export function checkKeys(input: RangeInput): void {
  const { keys, values, origin, limit } = input
  if (keys.length !== values.length)
    throw new TrieVerifyError('LENGTH_MISMATCH', `${keys.length} keys, ${values.length} values`)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    if (key.length !== 32) throw new TrieVerifyError('BAD_KEY_LENGTH', `key of ${key.length} bytes`, i)
    if (values[i].length === 0) throw new TrieVerifyError('BAD_VALUE', 'empty value', i)
    if (i === 0) {
      if (compareBytes(key, origin) < 0) throw new TrieVerifyError('KEY_OUT_OF_RANGE', 'key before the origin', i)
    } else {
      const order = compareBytes(keys[i - 1], key)
      if (order === 0) throw new TrieVerifyError('DUPLICATE_KEY', `key ${toHex0x(key)} twice`, i)
      if (order > 0) throw new TrieVerifyError('KEYS_UNSORTED', 'key smaller than its predecessor', i)
    }
    if (limit !== undefined && i < keys.length - 1 && compareBytes(key, limit) > 0) {
      throw new TrieVerifyError('KEY_OUT_OF_RANGE', 'key after the limit is not the last one', i)
    }
  }
}

function buildRoot(refsLeft: { path: Uint8Array; ref: Uint8Array }[], input: RangeInput, refsRight: typeof refsLeft) {
  const nodes: NodeRecord[] = []
  const builder = new StackTrieBuilder({ sink: (hash, rlp, complete) => nodes.push({ hash, rlp, complete }) })
  try {
    for (const r of refsLeft) builder.addRef(r.path, r.ref)
    for (let i = 0; i < input.keys.length; i++) builder.addLeaf(input.keys[i], input.values[i])
    for (const r of refsRight) builder.addRef(r.path, r.ref)
  } catch (err) {
    if (err instanceof ItemOrderError) throw new TrieVerifyError('PROOF_INCONSISTENT', 'proof edges overlap the keys')
    throw err
  }
  return { root: builder.finish(), nodes }
}

/**
 * Verifies a range response against `input.root` and builds its nodes. Throws `TrieVerifyError` (with
 * a code per failure kind) unless the keys are exactly the trie's keys from the origin to the last one.
 */
export function verifyRange(input: RangeInput): RangeVerdict {
  checkKeys(input)
  const { root, keys, proof } = input
  if (proof.length === 0) {
    if (keys.length === 0) {
      if (same(root, EMPTY_ROOT)) return { more: false, nodes: [] }
      throw new TrieVerifyError('EMPTY_RESPONSE', 'no keys and no proof for a non-empty trie')
    }
    // No proof: the response claims the whole trie
    const built = buildRoot([], input, [])
    if (!same(built.root, root))
      throw new TrieVerifyError('ROOT_MISMATCH', `keys hash to ${toHex0x(built.root)}, not ${toHex0x(root)}`)
    return { more: false, nodes: built.nodes }
  }
  const index = new ProofIndex(proof)
  const origin = bytesToNibbles(input.origin)
  if (keys.length === 0) {
    // Proof of absence: nothing may exist at or after the origin
    walkEdge(index, root, origin, 'left')
    const right = walkEdge(index, root, origin, 'right')
    if (input.ignoreUnusedProof !== true) index.assertAllUsed()
    if (right.found || right.refs.length > 0)
      throw new TrieVerifyError('HIDDEN_KEYS', 'empty range, but the proof shows keys at or after the origin')
    return { more: false, nodes: [] }
  }
  const left = walkEdge(index, root, origin, 'left')
  const right = walkEdge(index, root, bytesToNibbles(keys[keys.length - 1]), 'right')
  if (input.ignoreUnusedProof !== true) index.assertAllUsed()
  const built = buildRoot(left.refs, input, right.refs)
  if (!same(built.root, root))
    throw new TrieVerifyError('ROOT_MISMATCH', `range hashes to ${toHex0x(built.root)}, not ${toHex0x(root)}`)
  return { more: right.refs.length > 0, nodes: built.nodes }
}
