/**
 * Descents along one key or path of a trie in the DB: Merkle proofs of a key (present or absent),
 * single leaf lookups, and the node at a partial path (GetTrieNodes).
 */
import { KEY_NIBBLES, bytesToNibbles, compareBytes } from './nibbles.js'
import { MissingNodeError, isHashRef } from './reader.js'
import { EMPTY_ROOT } from './stackbuilder.js'

import type { LoadedNode, TrieReader } from './reader.js'

/** Where a descent along `nibbles` stopped */
interface Descent {
  /** Encodings of the stored (hashed) nodes passed, root first */
  readonly proof: Uint8Array[]
  /** The node the path ends at, if the path ends exactly at a node boundary */
  readonly node?: LoadedNode
  /** Leaf value when the full key was found */
  readonly value?: Uint8Array
}

function startsWith(nibbles: Uint8Array, at: number, prefix: Uint8Array): boolean {
  if (at + prefix.length > nibbles.length) return false
  for (let i = 0; i < prefix.length; i++) if (nibbles[at + i] !== prefix[i]) return false
  return true
}

/** Resolves a child and adds it to the proof if it is stored by hash (embedded nodes are in their parent) */
async function follow(reader: TrieReader, ref: Uint8Array, proof: Uint8Array[]): Promise<LoadedNode> {
  const loaded = await reader.resolve(ref)
  if (loaded === undefined) throw new MissingNodeError('node on path')
  if (isHashRef(ref)) proof.push(loaded.encoded)
  return loaded
}

/** Descends from `root` along `nibbles`; throws {@link MissingNodeError} on a missing node */
async function descend(reader: TrieReader, root: Uint8Array, nibbles: Uint8Array): Promise<Descent> {
  const proof: Uint8Array[] = []
  // The empty trie has no stored node: every key is absent, no path leads to a node
  if (compareBytes(root, EMPTY_ROOT) === 0) return { proof }
  let current = await follow(reader, root, proof)
  let at = 0
  for (;;) {
    if (at === nibbles.length) return { proof, node: current }
    const node = current.node
    if (node.kind === 'leaf') {
      const found = at + node.path.length === nibbles.length && startsWith(nibbles, at, node.path)
      return found ? { proof, value: node.value } : { proof }
    }
    if (node.kind === 'extension') {
      if (!startsWith(nibbles, at, node.path)) return { proof }
      at += node.path.length
      current = await follow(reader, node.child, proof)
      continue
    }
    const ref = node.children[nibbles[at]]
    if (ref === undefined) return { proof }
    at += 1
    current = await follow(reader, ref, proof)
  }
}

/**
 * The Merkle proof of a 32-byte key against `root`: the stored nodes on its path, which prove
 * the key's value or its absence (snap.md §AccountRange: "even if it does not exist")
 */
export async function proveKey(reader: TrieReader, root: Uint8Array, key: Uint8Array): Promise<Uint8Array[]> {
  return (await descend(reader, root, bytesToNibbles(key))).proof
}

/** Value stored under a 32-byte key, `undefined` when absent */
export async function lookupKey(
  reader: TrieReader,
  root: Uint8Array,
  key: Uint8Array,
): Promise<Uint8Array | undefined> {
  return (await descend(reader, root, bytesToNibbles(key))).value
}

/**
 * Encoding of the node at a nibble path (GetTrieNodes), `undefined` when the path does not end
 * at a node boundary (inside an extension's or leaf's key, or past a leaf). Embedded nodes are
 * returned in their RLP form, as their parent holds them.
 */
export async function nodeAtPath(
  reader: TrieReader,
  root: Uint8Array,
  nibbles: Uint8Array,
): Promise<Uint8Array | undefined> {
  if (nibbles.length > KEY_NIBBLES) return undefined
  const found = await descend(reader, root, nibbles)
  return found.node?.encoded
}
