/**
 * Reads the nodes of one trie (the account trie, or one account's storage trie) from the state DB
 * in the client's key layout, with a small shared cache of decoded inner nodes: every range request
 * re-reads the top of the trie for its proofs, and nodes are content-addressed, so a cached node
 * never goes stale.
 */
import { unprefixedHexToBytes } from '@ethereumjs/util'

import { decodeNode } from './node.js'
import { STATE_ENCODINGS, nodeKey } from './statedb.js'

import type { TrieNode } from './node.js'
import type { AbstractLevel } from 'abstract-level'

/** Batched reads of state DB keys; `undefined` for a missing key */
export interface StateReadStore {
  getMany(keys: string[]): Promise<(Uint8Array | undefined)[]>
}

type StringKeyedLevel = AbstractLevel<string | Uint8Array, string | Uint8Array, string | Uint8Array>

/**
 * A {@link StateReadStore} over the client's `state` LevelDB. `stringValues` mirrors the client's
 * `--useStringValueTrieDB` (values stored as hex strings instead of bytes).
 */
export class LevelStateReader implements StateReadStore {
  constructor(
    private readonly db: StringKeyedLevel,
    private readonly stringValues = false,
  ) {}

  async getMany(keys: string[]): Promise<(Uint8Array | undefined)[]> {
    if (this.stringValues) {
      const values = await this.db.getMany<string, string>(keys, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
      return values.map((v) => (v === undefined || v === null ? undefined : unprefixedHexToBytes(v)))
    }
    const values = await this.db.getMany<string, Uint8Array>(keys, STATE_ENCODINGS)
    return values.map((v) => (v === undefined || v === null ? undefined : v))
  }
}

/** A node with the encoding it is stored (or embedded) as: a proof or GetTrieNodes needs the bytes */
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

/** Thrown when a node reachable from a root is not in the DB: that state is not (fully) here */
export class MissingNodeError extends Error {
  override name = 'MissingNodeError'
}

/**
 * A child reference is a 32-byte hash, or the RLP of a node shorter than 32 bytes embedded in its
 * parent (see `node.ts`); only a hash needs a read.
 */
export function isHashRef(ref: Uint8Array): boolean {
  return ref.length === 32
}

/** Node reads of a single trie: the account trie (`owner` undefined) or `owner`'s storage trie */
export class TrieReader {
  constructor(
    private readonly db: StateReadStore,
    private readonly cache: NodeCache,
    private readonly counter: LoadCounter,
    private readonly owner?: Uint8Array,
  ) {}

  /** Loads the nodes stored under these hashes; `undefined` where the DB lacks one */
  async load(hashes: Uint8Array[]): Promise<(LoadedNode | undefined)[]> {
    const keys = hashes.map((h) => nodeKey(h, this.owner))
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

  /** Resolves a child reference: an embedded node needs no read */
  async resolve(ref: Uint8Array): Promise<LoadedNode | undefined> {
    if (!isHashRef(ref)) return { node: decodeNode(ref), encoded: ref }
    return this.loadOne(ref)
  }
}
