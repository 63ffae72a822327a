/**
 * Test helpers: temp state DBs, writing the ethtest state with the builder, a proof maker over an
 * in-memory node store, and random tries.
 */
import { EMPTY_CODE_HASH, encodeFullAccount, hasCode } from '../../src/trie/account.js'
import { toHex } from '../../src/trie/hex.js'
import { keccak256 } from '../../src/trie/keccak.js'
import { decodeNode } from '../../src/trie/node.js'
import { bytesToNibbles, compareBytes } from '../../src/trie/nibbles.js'
import { EMPTY_ROOT, StackTrieBuilder } from '../../src/trie/stackbuilder.js'
import { STATE_ENCODINGS } from '../../src/trie/statedb.js'
import { tempDB } from '../helpers/db.js'

export { rng } from '../helpers/rng.js'

import type { EthtestAccount, Leaf } from './ethtest.js'
import type { StateWriter } from '../../src/trie/statedb.js'
import type { DbBackend, TempDB } from '../helpers/db.js'

/** A state DB (the client's encodings) of `backend` in a fresh temp dir; `close()` also removes the dir. */
export function tempStateDB(backend: DbBackend = 'level'): Promise<TempDB<string, Uint8Array>> {
  return tempDB<string, Uint8Array>(backend, STATE_ENCODINGS)
}

/** Writes a whole state (accounts, storage tries, codes) through `writer`; returns the state root. */
export async function writeState(writer: StateWriter, accounts: EthtestAccount[]): Promise<Uint8Array> {
  const builder = new StackTrieBuilder({ sink: writer.sink() })
  for (const a of accounts) {
    const storage = new StackTrieBuilder({ sink: writer.sink(a.hash) })
    for (const s of a.storage) storage.addLeaf(s.key, s.value)
    storage.finish()
    if (a.code !== undefined && hasCode(a.body)) writer.putCode(a.body.codeHash, a.code)
    builder.addLeaf(a.hash, encodeFullAccount(a.body))
    await writer.flushIfFull()
  }
  const root = builder.finish()
  await writer.flush()
  return root
}

/** Nodes by hex hash, as a source peer would hold them. */
export type NodeMap = Map<string, Uint8Array>

/** Builds the trie of sorted `leaves` into a node map; returns root and nodes. */
export function buildNodeMap(leaves: Leaf[]): { root: Uint8Array; nodes: NodeMap } {
  const nodes: NodeMap = new Map()
  const builder = new StackTrieBuilder({ sink: (hash, rlp) => nodes.set(toHex(hash), rlp) })
  for (const l of leaves) builder.addLeaf(l.key, l.value)
  return { root: builder.finish(), nodes }
}

/** The proof of `key` (present or absent): stored nodes on its path from the root. */
export function proveKey(nodes: NodeMap, root: Uint8Array, key: Uint8Array): Uint8Array[] {
  const path = bytesToNibbles(key)
  const proof: Uint8Array[] = []
  let ref: Uint8Array = root
  let pos = 0
  for (;;) {
    let rlp = ref
    if (ref.length === 32) {
      const found = nodes.get(toHex(ref))
      if (found === undefined) return proof
      proof.push(found)
      rlp = found
    }
    const node = decodeNode(rlp)
    if (node.kind === 'branch') {
      const next = node.children[path[pos]]
      if (next === undefined) return proof
      ref = next
      pos++
    } else if (node.kind === 'extension' && node.path.every((n, i) => path[pos + i] === n)) {
      ref = node.child
      pos += node.path.length
    } else {
      return proof
    }
  }
}

/** The union of two proofs without duplicates, as a server sends it. */
export function mergeProofs(a: Uint8Array[], b: Uint8Array[]): Uint8Array[] {
  const seen = new Map<string, Uint8Array>()
  for (const n of [...a, ...b]) seen.set(toHex(keccak256(n)), n)
  return [...seen.values()]
}

/** `n` random leaves, sorted, with values of 1..40 bytes (some embedded-size leaves deep down). */
export function randomLeaves(n: number, random: () => number): Leaf[] {
  const leaves: Leaf[] = []
  for (let i = 0; i < n; i++) {
    const key = new Uint8Array(32).map(() => Math.floor(random() * 256))
    const value = new Uint8Array(1 + Math.floor(random() * 40)).map(() => 1 + Math.floor(random() * 255))
    leaves.push({ key, value })
  }
  leaves.sort((a, b) => compareBytes(a.key, b.key))
  return leaves.filter((l, i) => i === 0 || compareBytes(leaves[i - 1].key, l.key) !== 0)
}

/** `n` random sorted leaves whose values are full account bodies (no storage, no code). */
export function randomAccountLeaves(n: number, random: () => number): Leaf[] {
  return randomLeaves(n, random).map((l) => ({
    key: l.key,
    value: encodeFullAccount({
      nonce: BigInt(l.value[0]),
      balance: BigInt(Math.floor(random() * 2 ** 48)),
      storageRoot: EMPTY_ROOT,
      codeHash: EMPTY_CODE_HASH,
    }),
  }))
}
