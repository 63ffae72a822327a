/**
 * Generation of the flat state of a root from its trie: the account trie walked in key order, each
 * account's storage trie walked in full, the leaves packed into chunks. It runs in rounds of a
 * bounded number of leaves; each round's accounts are committed with the marker that says how far
 * the generation got, so a restart resumes at the first account not committed (and first removes
 * what a crashed round may have left beyond it).
 */
import { KECCAK256_RLP, equalsBytes } from '@ethereumjs/util'

import { decodeFullAccount } from '../../trie/account.js'
import { walkLeaves } from '../../trie/leafwalk.js'
import { NodeCache, TrieReader } from '../../trie/reader.js'
import { STATE_ENCODINGS } from '../../trie/statedb.js'

import { chunkKey, encodeChunk, splitChunks, storageFrom, trieRange } from './chunk.js'

import type { FlatLeaf } from './chunk.js'
import type { FlatMarker, FlatOp, FlatState } from './flatstate.js'
import type { StateReadStore } from '../../trie/reader.js'

/** Readers of the tries of the state being flattened */
export interface TrieReaders {
  account(): TrieReader
  storage(owner: Uint8Array): TrieReader
}

/** Readers over `store` sharing a cache of `cacheSize` inner nodes (the top levels of the tries walked) */
export function trieReaders(store: StateReadStore, cacheSize: number): TrieReaders {
  const cache = new NodeCache(cacheSize)
  return {
    account: () => new TrieReader(store, cache, { loads: 0 }),
    storage: (owner) => new TrieReader(store, cache, { loads: 0 }, owner),
  }
}

/**
 * Leaves read per round. Why 20k: ~1-2 MB of chunks per batch, and a round of the trie walk takes
 * well under a second, so a stop request is answered quickly
 */
export const GENERATION_ROUND_LEAVES = 20_000

const ZERO = new Uint8Array(32)

/** The key after `key` (32 bytes), `undefined` after the last one */
export function nextKey(key: Uint8Array): Uint8Array | undefined {
  const next = Uint8Array.from(key)
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] < 0xff) {
      next[i]++
      return next
    }
    next[i] = 0
  }
  return undefined
}

/** Up to `max` leaves from `origin`; `more` when leaves remain after them */
async function readLeaves(
  reader: TrieReader,
  root: Uint8Array,
  origin: Uint8Array,
  max: number,
): Promise<{ leaves: FlatLeaf[]; more: boolean }> {
  const leaves: FlatLeaf[] = []
  const end = await walkLeaves(reader, root, origin, (key, value) => {
    if (leaves.length >= max) return false
    leaves.push({ key, value })
    return true
  })
  return { leaves, more: end === 'stopped' }
}

/** Puts of the chunks of `leaves` (in key order) of `owner`'s trie */
export function chunkPuts(leaves: readonly FlatLeaf[], owner?: Uint8Array): FlatOp[] {
  return splitChunks(leaves).map((chunk) => ({
    type: 'put',
    key: chunkKey(chunk[0].key, owner),
    value: encodeChunk(chunk),
  }))
}

/** Writes one account's whole storage in rounds (beyond the marker: a crash leaves it to be redone) */
async function writeStorage(
  flat: FlatState,
  readers: TrieReaders,
  owner: Uint8Array,
  root: Uint8Array,
  options: GenerationOptions,
): Promise<number> {
  const reader = readers.storage(owner)
  let origin: Uint8Array | undefined = ZERO
  let slots = 0
  while (origin !== undefined) {
    options.signal?.throwIfAborted()
    const { leaves, more } = await readLeaves(reader, root, origin, options.roundLeaves ?? GENERATION_ROUND_LEAVES)
    if (leaves.length > 0) await flat.db.batch(chunkPuts(leaves, owner), STATE_ENCODINGS)
    slots += leaves.length
    origin = more ? nextKey(leaves[leaves.length - 1].key) : undefined
  }
  return slots
}

/** How a generation runs */
export interface GenerationOptions {
  /** Stops the generation between rounds */
  readonly signal?: AbortSignal
  /** See {@link GENERATION_ROUND_LEAVES} */
  readonly roundLeaves?: number
}

/** What a generation did */
export interface GenerationStats {
  accounts: number
  slots: number
}

/**
 * Generates the flat state of `root`, resuming a generation of the same root that the marker
 * records, otherwise starting over. Throws `MissingNodeError` if the trie of `root` is not complete
 * in the DB, and the signal's reason when aborted (what was committed is kept for a resume).
 */
export async function generateFlatState(
  flat: FlatState,
  readers: TrieReaders,
  root: Uint8Array,
  options: GenerationOptions = {},
): Promise<GenerationStats> {
  const stats: GenerationStats = { accounts: 0, slots: 0 }
  const marker = flat.marker
  let origin: Uint8Array | undefined = ZERO
  if (marker !== undefined && !marker.complete && equalsBytes(marker.root, root)) {
    origin = marker.next
    // A round that crashed may have written chunks beyond the marker
    await flat.clear({ gte: chunkKey(origin), lt: trieRange().lt })
    await flat.clear(storageFrom(origin))
  } else {
    await flat.commit([], { root, complete: false, next: ZERO })
    await flat.clear(trieRange())
    await flat.clear(storageFrom(ZERO))
  }
  const accountReader = readers.account()
  while (origin !== undefined) {
    options.signal?.throwIfAborted()
    const { leaves, more } = await readLeaves(
      accountReader,
      root,
      origin,
      options.roundLeaves ?? GENERATION_ROUND_LEAVES,
    )
    for (const leaf of leaves) {
      const storageRoot = decodeFullAccount(leaf.value).storageRoot
      if (!equalsBytes(storageRoot, KECCAK256_RLP))
        stats.slots += await writeStorage(flat, readers, leaf.key, storageRoot, options)
    }
    stats.accounts += leaves.length
    origin = more ? nextKey(leaves[leaves.length - 1].key) : undefined
    const next: FlatMarker =
      origin === undefined ? { root, complete: true, next: ZERO } : { root, complete: false, next: origin }
    await flat.commit(chunkPuts(leaves), next)
  }
  return stats
}
