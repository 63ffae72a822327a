/**
 * Moves a complete flat state from its root to another one by the difference of their tries: the
 * account tries are compared where their nodes differ (trie/triediff.ts), and so are the storage
 * tries of the accounts whose storage root changed. Only the chunks holding a changed leaf are
 * rewritten, and all of them are committed with the new marker in one batch. The cost follows the
 * number of changes, not the size of the state; past a bound the caller generates instead.
 */
import { KECCAK256_RLP, equalsBytes } from '@ethereumjs/util'

import { decodeFullAccount } from '../../trie/account.js'
import { compareBytes } from '../../trie/nibbles.js'
import { STATE_ENCODINGS } from '../../trie/statedb.js'
import { diffTries } from '../../trie/triediff.js'

import { FlatStateError, chunkKey, decodeChunk, trieRange } from './chunk.js'
import { chunkPuts } from './generator.js'

import type { FlatLeaf } from './chunk.js'
import type { FlatOp, FlatState } from './flatstate.js'
import type { TrieReaders } from './generator.js'

/**
 * Changed leaves a move takes on before it gives up. Why 20k: a change rewrites at most one 4 KiB
 * chunk, so the batch stays under ~80 MB; a mainnet block changes a few thousand leaves
 */
export const MAX_MOVE_CHANGES = 20_000

/** A changed leaf: `value` undefined when it is gone */
interface Change {
  readonly key: Uint8Array
  readonly value: Uint8Array | undefined
}

function storageRootOf(body: Uint8Array | undefined): Uint8Array {
  return body === undefined ? KECCAK256_RLP : decodeFullAccount(body).storageRoot
}

/** Merges sorted changes into sorted leaves */
function mergeChanges(leaves: readonly FlatLeaf[], changes: readonly Change[]): FlatLeaf[] {
  const out: FlatLeaf[] = []
  let i = 0
  for (const change of changes) {
    while (i < leaves.length && compareBytes(leaves[i].key, change.key) < 0) out.push(leaves[i++])
    if (i < leaves.length && compareBytes(leaves[i].key, change.key) === 0) i++
    if (change.value !== undefined) out.push({ key: change.key, value: change.value })
  }
  while (i < leaves.length) out.push(leaves[i++])
  return out
}

/** The first chunk key in `range` (the last one when `reverse`) */
async function firstKey(
  flat: FlatState,
  range: { gt?: string; gte?: string; lt?: string; lte?: string },
  reverse = false,
): Promise<string | undefined> {
  const keys = await flat.db.keys({ ...range, reverse, limit: 1, keyEncoding: 'utf8' }).all()
  return keys[0] as string | undefined
}

/** The ops that rewrite the chunks of `owner`'s trie holding `changes` (sorted by key) */
async function rewriteChunks(flat: FlatState, changes: readonly Change[], owner?: Uint8Array): Promise<FlatOp[]> {
  const range = trieRange(owner)
  const ops: FlatOp[] = []
  let i = 0
  while (i < changes.length) {
    // The chunk holding changes[i]: the last one starting at or before it, else the trie's first one
    const at = chunkKey(changes[i].key, owner)
    const key = (await firstKey(flat, { gte: range.gte, lte: at }, true)) ?? (await firstKey(flat, range))
    // It holds every change below the next chunk's start
    const after = key === undefined ? undefined : await firstKey(flat, { gt: key, lt: range.lt })
    const group: Change[] = []
    while (i < changes.length && (after === undefined || chunkKey(changes[i].key, owner) < after))
      group.push(changes[i++])
    let leaves: FlatLeaf[] = []
    if (key !== undefined) {
      const stored = await flat.db.get(key, STATE_ENCODINGS)
      if (!(stored instanceof Uint8Array)) throw new FlatStateError(`chunk ${key} is missing`)
      leaves = decodeChunk(stored)
      ops.push({ type: 'del', key })
    }
    ops.push(...chunkPuts(mergeChanges(leaves, group), owner))
  }
  return ops
}

/**
 * Moves the flat state, complete at `from`, to `to`. Returns false, changing nothing, when the tries
 * differ in more than `maxChanges` leaves. Throws `MissingNodeError` when a trie is not in the DB.
 */
export async function moveFlatState(
  flat: FlatState,
  readers: TrieReaders,
  from: Uint8Array,
  to: Uint8Array,
  maxChanges = MAX_MOVE_CHANGES,
): Promise<boolean> {
  const accounts: Change[] = []
  const storage: { owner: Uint8Array; before: Uint8Array; after: Uint8Array }[] = []
  const fits = await diffTries(
    readers.account(),
    from,
    to,
    (key, before, after) => {
      accounts.push({ key, value: after })
      const roots = { before: storageRootOf(before), after: storageRootOf(after) }
      if (!equalsBytes(roots.before, roots.after)) storage.push({ owner: key, ...roots })
    },
    maxChanges,
  )
  if (!fits) return false
  let budget = maxChanges - accounts.length
  const ops = await rewriteChunks(flat, accounts)
  for (const { owner, before, after } of storage) {
    const slots: Change[] = []
    const done = await diffTries(
      readers.storage(owner),
      before,
      after,
      (key, _old, value) => slots.push({ key, value }),
      budget,
    )
    if (!done) return false
    budget -= slots.length
    ops.push(...(await rewriteChunks(flat, slots, owner)))
  }
  await flat.commit(ops, { root: to, complete: true, next: new Uint8Array(32) })
  return true
}
