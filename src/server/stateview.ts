/**
 * The narrow view of local state that the serving functions read: which roots are served, trie
 * readers for the account trie and storage tries, and contract code.
 */
import { NodeCache, TrieReader } from '../trie/reader.js'
import { codeKey } from '../trie/statedb.js'

import type { LoadCounter, StateReadStore } from '../trie/reader.js'

/** The state a serving function reads (see the module comment) */
export interface StateView {
  /** True when `root` is a state root we serve (one of the recent canonical blocks') */
  isServedRoot(root: Uint8Array): boolean
  /** Reader of the account trie; its loads are counted on `counter` */
  accountReader(counter: LoadCounter): TrieReader
  /** Reader of the storage trie of the account with this hash */
  storageReader(accountHash: Uint8Array, counter: LoadCounter): TrieReader
  /** Contract codes by hash, `undefined` where unknown */
  getCodes(hashes: Uint8Array[], counter: LoadCounter): Promise<(Uint8Array | undefined)[]>
}

/** Which roots are served; the handler keeps it up to date with the canonical chain */
export interface ServedRoots {
  has(root: Uint8Array): boolean
}

/**
 * Decoded inner nodes kept across requests. 16k nodes of ~600 B: ~10 MB, enough for the top
 * three levels of a mainnet-sized account trie (4,369 nodes) and the hot storage tries.
 */
export const DEFAULT_NODE_CACHE_SIZE = 16384

/** A {@link StateView} over the state DB, in the client's key layout */
export class DBStateView implements StateView {
  constructor(
    private readonly db: StateReadStore,
    private readonly roots: ServedRoots,
    private readonly cache = new NodeCache(DEFAULT_NODE_CACHE_SIZE),
  ) {}

  isServedRoot(root: Uint8Array): boolean {
    return this.roots.has(root)
  }

  accountReader(counter: LoadCounter): TrieReader {
    return new TrieReader(this.db, this.cache, counter)
  }

  storageReader(accountHash: Uint8Array, counter: LoadCounter): TrieReader {
    return new TrieReader(this.db, this.cache, counter, accountHash)
  }

  async getCodes(hashes: Uint8Array[], counter: LoadCounter): Promise<(Uint8Array | undefined)[]> {
    counter.loads += hashes.length
    return this.db.getMany(hashes.map(codeKey))
  }
}
