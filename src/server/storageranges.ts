/**
 * GetStorageRanges (snap.md §GetStorageRanges 0x02, §StorageRanges 0x03).
 */
import { KECCAK256_RLP, equalsBytes } from '@ethereumjs/util'

import { HASH_LENGTH } from '../wire/constants.js'

import { decodeFullAccount } from '../trie/account.js'
import { compareBytes } from '../trie/nibbles.js'
import { lookupKey, proveKey } from '../trie/prove.js'
import { MissingNodeError } from '../trie/reader.js'

import { isZero, mergeProofs, softLimit } from './common.js'

import type { Budget } from './budget.js'
import type { LeafWalk, StateView } from './stateview.js'
import type { TrieReader } from '../trie/reader.js'
import type { ServeLimits } from '../wire/constants.js'
import type { GetStorageRangesRequest, SlotData, StorageRangesReply } from '../wire/messages.js'

const EMPTY: StorageRangesReply = Object.freeze({ slots: [], proof: [] })
const ZERO_HASH = new Uint8Array(HASH_LENGTH)
const MAX_HASH = new Uint8Array(HASH_LENGTH).fill(0xff)

/** Storage root of an account body (consensus RLP `[nonce, balance, storageRoot, codeHash]`) */
export function storageRootOf(body: Uint8Array): Uint8Array | undefined {
  try {
    return decodeFullAccount(body).storageRoot
  } catch {
    return undefined
  }
}

interface RangeResult {
  readonly slots: SlotData[]
  /** True when the slots are the whole trie from the zero origin (no proof needed) */
  readonly complete: boolean
  readonly size: number
}

/** One account's slots from `origin`; stops at `limit`, the hard byte limit or the budget */
async function storageRange(
  walk: LeafWalk,
  owner: Uint8Array,
  reader: TrieReader,
  root: Uint8Array,
  origin: Uint8Array,
  limit: Uint8Array,
  size: number,
  hardLimit: number,
  budget: Budget,
): Promise<RangeResult> {
  const slots: SlotData[] = []
  let full = false
  const end = await walk(
    reader,
    root,
    origin,
    (hash, body) => {
      // Never cut before the first slot: a reply must carry one when one exists
      if (full || (slots.length > 0 && (size >= hardLimit || budget.exhausted()))) return false
      slots.push({ hash, body })
      size += hash.length + body.length
      full = compareBytes(hash, limit) >= 0
      return true
    },
    owner,
  )
  return { slots, complete: end === 'end' && isZero(origin), size }
}

/** The reply of {@link serveStorageRanges} for a served root, its leaves read with `walk` */
async function storageReplies(
  walk: LeafWalk,
  view: StateView,
  req: GetStorageRangesRequest,
  accountReader: TrieReader,
  limits: { soft: number; hard: number; maxAccounts: number },
  budget: Budget,
): Promise<StorageRangesReply> {
  const out: SlotData[][] = []
  let size = 0
  for (const [i, account] of req.accounts.slice(0, limits.maxAccounts).entries()) {
    if (out.length > 0 && (size >= limits.soft || budget.exhausted())) break
    const body = await lookupKey(accountReader, req.root, account)
    const root = body === undefined ? undefined : storageRootOf(body)
    if (root === undefined) return EMPTY
    const origin = i === 0 ? req.origin : ZERO_HASH
    if (equalsBytes(root, KECCAK256_RLP)) {
      out.push([])
      continue
    }
    const reader = view.storageReader(account, budget)
    const range = await storageRange(
      walk,
      account,
      reader,
      root,
      origin,
      i === 0 ? req.limit : MAX_HASH,
      size,
      limits.hard,
      budget,
    )
    out.push(range.slots)
    size = range.size
    if (range.complete) continue
    const last = range.slots[range.slots.length - 1]
    const lastProof = last === undefined ? [] : await proveKey(reader, root, last.hash)
    return { slots: out, proof: mergeProofs(await proveKey(reader, root, origin), lastProof) }
  }
  return { slots: out, proof: [] }
}

/**
 * Storage of the requested accounts in order: complete ranges up to the soft byte limit, then
 * at most one cut range, which carries the proofs of its origin and last slot and ends the
 * reply. `origin`/`limit` apply to the first account only (geth: later accounts start at zero).
 * An account without storage gets an empty list (positions stay aligned with the request); an
 * unknown root or account gives the empty reply (snap.md §GetStorageRanges, Notes).
 */
export async function serveStorageRanges(
  view: StateView,
  req: GetStorageRangesRequest,
  limits: ServeLimits,
  budget: Budget,
): Promise<StorageRangesReply> {
  if (!view.isServedRoot(req.root)) return EMPTY
  const soft = softLimit(req.bytes, limits.maxResponseBytes)
  const hard = Math.floor(soft * (1 + limits.storageSlack))
  const accountReader = view.accountReader(budget)
  try {
    return await view.withLeafWalk(req.root, (walk) =>
      storageReplies(walk, view, req, accountReader, { soft, hard, maxAccounts: limits.maxStorageAccounts }, budget),
    )
  } catch (err) {
    if (err instanceof MissingNodeError) return EMPTY
    throw err
  }
}
