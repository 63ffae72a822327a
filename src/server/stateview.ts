/**
 * The narrow view of local state that the serving functions read: which roots are served, trie
 * readers for the account trie and storage tries, and contract code.
 */
import { walkLeaves } from '../trie/leafwalk.js'
import { FlatStateError } from './flat/chunk.js'
import { NodeCache, TrieReader } from '../trie/reader.js'
import { codeKey } from '../trie/statedb.js'

import type { FlatStateFollower } from './flat/follower.js'
import type { LeafVisitor, WalkEnd } from '../trie/leafwalk.js'
import type { LoadCounter, StateReadStore } from '../trie/reader.js'

/**
 * Walks the leaves of one trie of a state in key order from `origin`, with `walkLeaves`' contract:
 * the account trie (`trieRoot` the state root, `owner` undefined) or `owner`'s storage trie
 * (`trieRoot` its storage root, `reader` that trie's reader)
 */
export type LeafWalk = (
  reader: TrieReader,
  trieRoot: Uint8Array,
  origin: Uint8Array,
  visit: LeafVisitor,
  owner?: Uint8Array,
) => Promise<WalkEnd>

/** The walk of the trie itself, node by node */
export const trieLeafWalk: LeafWalk = (reader, trieRoot, origin, visit) => walkLeaves(reader, trieRoot, origin, visit)

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
  /** Runs `fn` with the fastest leaf walk of the state at `stateRoot` (the flat state's when it holds that root) */
  withLeafWalk<T>(stateRoot: Uint8Array, fn: (walk: LeafWalk) => Promise<T>): Promise<T>
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

/**
 * A {@link StateView} over the state DB, in the client's key layout; with a flat state follower,
 * ranges of the root the flat state holds are read from it, and a range of another root moves the
 * flat state there (flat/follower.ts)
 */
export class DBStateView implements StateView {
  private readonly cache = new NodeCache(DEFAULT_NODE_CACHE_SIZE)

  constructor(
    private readonly db: StateReadStore,
    private readonly roots: ServedRoots,
    private readonly flat?: () => Promise<FlatStateFollower | undefined>,
  ) {}

  async withLeafWalk<T>(stateRoot: Uint8Array, fn: (walk: LeafWalk) => Promise<T>): Promise<T> {
    const follower = await this.flat?.()
    if (follower === undefined) return fn(trieLeafWalk)
    try {
      const fromFlat = await follower.flat.read(stateRoot, (flatWalk) =>
        fn((_reader, _root, origin, visit, owner) => flatWalk(owner, origin, visit)),
      )
      if (fromFlat !== undefined) return fromFlat.result
      follower.want(stateRoot)
    } catch (err) {
      // Bad stored data: forget the flat state (not waited for) and answer from the trie
      if (!(err instanceof FlatStateError)) throw err
      void follower.discard(err)
    }
    return fn(trieLeafWalk)
  }

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
