/**
 * GetAccountRange (snap.md §GetAccountRange 0x00, §AccountRange 0x01).
 */

import { RLP } from '@ethereumjs/rlp'

import { EMPTY_CODE_HASH, decodeFullAccount, encodeSlimAccount } from '../trie/account.js'
import { EMPTY_ROOT } from '../trie/stackbuilder.js'
import { compareBytes } from '../trie/nibbles.js'
import { proveKey } from '../trie/prove.js'
import { MissingNodeError } from '../trie/reader.js'

import { isZero, mergeProofs, softLimit } from './common.js'

import type { Budget } from './budget.js'
import type { StateView } from './stateview.js'
import type { ServeLimits } from '../wire/constants.js'
import type { AccountData, AccountRangeReply, GetAccountRangeRequest } from '../wire/messages.js'

const EMPTY: AccountRangeReply = Object.freeze({ accounts: [], proof: [] })

/**
 * Length of the slim encoding of a consensus account body (snap.md §AccountRange): the empty
 * storage root and the empty code hash are sent as empty strings, 32 bytes shorter each. Read from
 * the body's bytes, without decoding it: it runs for every account served, and decoding and
 * re-encoding each was a large share of a loaded server's main thread (docs/serving.md)
 */
export function slimLength(body: Uint8Array): number {
  const root = storageRootAt(body)
  if (root < 0) return encodeSlimAccount(decodeFullAccount(body)).length
  let payload = body.length - 2
  if (bytesAt(body, root + 1, EMPTY_ROOT)) payload -= 32
  if (bytesAt(body, root + 34, EMPTY_CODE_HASH)) payload -= 32
  return payload + (payload < 56 ? 1 : 2)
}

/**
 * The four fields of a consensus account body (nonce, balance, storage root, code hash), as the
 * client's AccountRange encoder takes them: views into the body's bytes, for the same reason as
 * {@link slimLength} (`RLP.decode` copied each field of each account served). A body not in the
 * canonical shape is decoded by `RLP.decode`, which throws on bad data as before.
 */
export function accountFields(body: Uint8Array): Uint8Array[] {
  const root = storageRootAt(body)
  if (root < 0) return RLP.decode(body) as Uint8Array[]
  const balance = shortItemEnd(body, 2)
  return [
    shortItem(body, 2),
    shortItem(body, balance),
    body.subarray(root + 1, root + 33),
    body.subarray(root + 34, root + 66),
  ]
}

/**
 * Where the storage root's item starts in a full body of canonical shape, else -1. A full body is
 * a list of at most 108 bytes: [0xf8, length, nonce, balance, 0xa0 root, 0xa0 code hash]
 */
function storageRootAt(body: Uint8Array): number {
  if (body[0] !== 0xf8 || body[1] !== body.length - 2) return -1
  const root = shortItemEnd(body, shortItemEnd(body, 2))
  if (root < 0 || root + 66 !== body.length || body[root] !== 0xa0 || body[root + 33] !== 0xa0) return -1
  return root
}

/** Where the RLP string of at most 55 bytes at `at` ends; -1 for anything else (or not canonical) */
function shortItemEnd(b: Uint8Array, at: number): number {
  if (at < 0 || at >= b.length) return -1
  if (b[at] < 0x80) return at + 1
  // One byte below 0x80 is its own encoding: with a prefix it is not canonical, and RLP.decode refuses it
  if (b[at] === 0x81 && b[at + 1] < 0x80) return -1
  return b[at] <= 0xb7 ? at + 1 + (b[at] - 0x80) : -1
}

/** The contents of the short string at `at` (see shortItemEnd), a view */
function shortItem(b: Uint8Array, at: number): Uint8Array {
  return b[at] < 0x80 ? b.subarray(at, at + 1) : b.subarray(at + 1, at + 1 + (b[at] - 0x80))
}

/** True when `b` holds the 32 bytes of `hash` at `at` */
function bytesAt(b: Uint8Array, at: number, hash: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (b[at + i] !== hash[i]) return false
  return true
}

/**
 * Accounts from `origin` in hash order until the byte limit, `limit` (the first account at or
 * after it is the last one returned) or the budget; at least one account when one exists.
 * Proofs for the origin and the last account, none when the whole trie is returned from zero.
 * An unknown, unserved or incomplete root gives the empty reply.
 */
export async function serveAccountRange(
  view: StateView,
  req: GetAccountRangeRequest,
  limits: ServeLimits,
  budget: Budget,
): Promise<AccountRangeReply> {
  if (!view.isServedRoot(req.root)) return EMPTY
  const maxBytes = softLimit(req.bytes, limits.maxResponseBytes)
  const reader = view.accountReader(budget)
  try {
    return await view.withLeafWalk(req.root, async (walk) => {
      const accounts: AccountData[] = []
      let size = 0
      let full = false
      const end = await walk(reader, req.root, req.origin, (hash, body) => {
        if (full) return false
        accounts.push({ hash, body })
        // Counted as sent: slim (geth counts the same way, and its snap test suite expects the counts)
        size += hash.length + slimLength(body)
        full = compareBytes(hash, req.limit) >= 0 || size > maxBytes || budget.exhausted()
        return true
      })
      if (end === 'end' && isZero(req.origin)) return { accounts, proof: [] }
      const originProof = await proveKey(reader, req.root, req.origin)
      const last = accounts[accounts.length - 1]
      const lastProof = last === undefined ? [] : await proveKey(reader, req.root, last.hash)
      return { accounts, proof: mergeProofs(originProof, lastProof) }
    })
  } catch (err) {
    if (err instanceof MissingNodeError) return EMPTY
    throw err
  }
}
