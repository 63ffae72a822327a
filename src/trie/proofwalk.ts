/**
 * Walking a range proof along one edge. The proof is an unordered set of nodes; starting at the root,
 * the walk follows a key's path and collects the subtrees that lie wholly on one side of that path,
 * as (path, ref) pairs. Those are exactly the parts of the trie that a range's leaves cannot rebuild.
 */
import { TrieVerifyError } from './errors.js'
import { toHex, toHex0x } from './hex.js'
import { keccak256 } from './keccak.js'
import { NodeDecodeError, decodeNode } from './node.js'
import { compareNibbles, nibblesToHex } from './nibbles.js'

import type { TrieNode } from './node.js'

/** A subtree known by its ref, at a nibble path. */
export interface PathRef {
  path: Uint8Array
  ref: Uint8Array
}

/** What one edge walk found. */
export interface EdgeWalk {
  /** Subtrees wholly on the walked side of the key, in key order. */
  refs: PathRef[]
  /** The key itself is a leaf of the trie. */
  found: boolean
}

/** The proof's nodes by hash, with a record of which ones a walk used. */
export class ProofIndex {
  private readonly nodes = new Map<string, Uint8Array>()
  private readonly used = new Set<string>()

  constructor(proof: Uint8Array[]) {
    for (const node of proof) this.nodes.set(toHex(keccak256(node)), node)
  }

  /** The decoded node behind `ref` (looked up by hash, or decoded if embedded). */
  resolve(ref: Uint8Array, path: Uint8Array): TrieNode {
    let rlp = ref
    if (ref.length === 32) {
      const key = toHex(ref)
      const found = this.nodes.get(key)
      if (found === undefined) {
        const where = path.length === 0 ? 'root node' : `node at path ${nibblesToHex(path)}`
        throw new TrieVerifyError('PROOF_MISSING_NODE', `${where} ${toHex0x(ref)} not in proof`)
      }
      this.used.add(key)
      rlp = found
    }
    try {
      return decodeNode(rlp)
    } catch (err) {
      if (err instanceof NodeDecodeError) throw new TrieVerifyError('PROOF_BAD_NODE', err.message)
      throw err
    }
  }

  /**
   * Throws `PROOF_EXTRA_NODE` if some proof node was used by no walk. Deliberately stricter than geth's
   * verifier, which ignores unused nodes: honest servers (geth, Besu, ours) send only the nodes on the
   * origin and last-key paths, and a peer padding its proofs wastes our bandwidth and hashing.
   */
  assertAllUsed(): void {
    for (const key of this.nodes.keys()) {
      if (!this.used.has(key)) throw new TrieVerifyError('PROOF_EXTRA_NODE', `proof node 0x${key} is on no edge path`)
    }
  }
}

function childPath(prefix: Uint8Array, nibble: number): Uint8Array {
  const out = new Uint8Array(prefix.length + 1)
  out.set(prefix)
  out[prefix.length] = nibble
  return out
}

/**
 * Follows `key` (64 nibbles) from `root` through the proof. `side` 'left' collects the subtrees
 * before the key's path, 'right' those after it. Throws `TrieVerifyError` if a needed node is
 * missing or malformed.
 */
export function walkEdge(index: ProofIndex, root: Uint8Array, key: Uint8Array, side: 'left' | 'right'): EdgeWalk {
  // Left refs come out in key order as the walk descends; right refs deeper down sort before the
  // shallower ones, so they are gathered per level and the levels reversed at the end
  const levels: PathRef[][] = []
  let ref = root
  let pos = 0
  for (;;) {
    const node = index.resolve(ref, key.subarray(0, pos))
    const level: PathRef[] = []
    levels.push(level)
    if (node.kind === 'branch') {
      if (node.value !== undefined)
        throw new TrieVerifyError('PROOF_BAD_NODE', 'branch with a value in a fixed-length-key trie')
      if (pos >= key.length) throw new TrieVerifyError('PROOF_BAD_NODE', 'branch below full key depth')
      const k = key[pos]
      const from = side === 'left' ? 0 : k + 1
      const to = side === 'left' ? k : 16
      for (let j = from; j < to; j++) {
        const child = node.children[j]
        if (child !== undefined) level.push({ path: childPath(key.subarray(0, pos), j), ref: child })
      }
      const next = node.children[k]
      if (next === undefined) return finish(levels, side, false)
      ref = next
      pos++
      continue
    }
    const end = pos + node.path.length
    if (end > key.length || (node.kind === 'extension' && end >= key.length)) {
      throw new TrieVerifyError('PROOF_BAD_NODE', `${node.kind} path runs past the key length`)
    }
    if (node.kind === 'leaf' && end !== key.length)
      throw new TrieVerifyError('PROOF_BAD_NODE', 'leaf above full key depth')
    const order = compareNibbles(node.path, key.subarray(pos, end))
    if (order === 0) {
      if (node.kind === 'leaf') return finish(levels, side, true)
      ref = node.child
      pos = end
      continue
    }
    // The node's whole subtree lies on one side of the key
    if (order < 0 === (side === 'left')) level.push({ path: key.slice(0, pos), ref })
    return finish(levels, side, false)
  }
}

function finish(levels: PathRef[][], side: 'left' | 'right', found: boolean): EdgeWalk {
  if (side === 'right') levels.reverse()
  return { refs: levels.flat(), found }
}
