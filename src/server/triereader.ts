/**
 * Reads trie nodes of one trie (the account trie, or one account's storage trie) from the state
 * DB, with a small shared cache of decoded inner nodes: every range request re-reads the top of
 * the trie for its proofs, and nodes are content-addressed so a cached node never goes stale.
 */
import { decodeNode } from './trienode.js'
import { nodeKey } from './statedb.js'

import type { StateDB } from './statedb.js'
import type { ChildRef, TrieNode } from './trienode.js'

/** A node read from the DB with its stored encoding (a proof or GetTrieNodes needs the bytes) */
export interface LoadedNode {
  readonly node: TrieNode
  readonly encoded: Uint8Array
}

/** Least-recently-used map with a fixed number of entries */
export class NodeCache {
  private readonly map = new Map<string, LoadedNode>()

  constructor(private readonly capacity: number) {}

  get(key: string): LoadedNode | undefined {
    const hit = this.map.get(key)
    if (hit !== undefined) {
      this.map.delete(key)
      this.map.set(key, hit)
    }
    return hit
  }

  set(key: string, value: LoadedNode): void {
    this.map.set(key, value)
    if (this.map.size > this.capacity) {
      this.map.delete(this.map.keys().next().value as string)
    }
  }
}

/** Counts DB node loads of one request, so that lookup caps apply across tries */
export interface LoadCounter {
  loads: number
}

/** Node reads of a single trie: the account trie (no prefix) or a storage trie (prefixed keys) */
export class TrieReader {
  constructor(
    private readonly db: StateDB,
    private readonly cache: NodeCache,
    private readonly counter: LoadCounter,
    private readonly prefixHex = '',
  ) {}

  /** Loads the nodes stored under these hashes; `undefined` where the DB lacks one */
  async load(hashes: Uint8Array[]): Promise<(LoadedNode | undefined)[]> {
    const keys = hashes.map((h) => nodeKey(h, this.prefixHex))
    const result: (LoadedNode | undefined)[] = keys.map((k) => this.cache.get(k))
    const missing: number[] = []
    for (let i = 0; i < keys.length; i++) if (result[i] === undefined) missing.push(i)
    if (missing.length === 0) return result
    this.counter.loads += missing.length
    const values = await this.db.getMany(missing.map((i) => keys[i]))
    for (let j = 0; j < missing.length; j++) {
      const encoded = values[j]
      if (encoded === undefined) continue
      const loaded = { node: decodeNode(encoded), encoded }
      result[missing[j]] = loaded
      // Leaves are read once per range walk; caching them would only evict the inner nodes
      if (loaded.node.kind !== 'leaf') this.cache.set(keys[missing[j]], loaded)
    }
    return result
  }

  /** Loads one node by hash */
  async loadOne(hash: Uint8Array): Promise<LoadedNode | undefined> {
    return (await this.load([hash]))[0]
  }

  /** Resolves a child reference: embedded nodes need no read */
  async resolve(ref: ChildRef): Promise<TrieNode | undefined> {
    if (ref.kind === 'inline') return ref.node
    return (await this.loadOne(ref.hash))?.node
  }
}

/** Thrown when a node reachable from a served root is missing: that state is not (fully) here */
export class MissingNodeError extends Error {}
