/**
 * GetAccountRange (snap.md §GetAccountRange 0x00, §AccountRange 0x01).
 */

import { decodeFullAccount, encodeSlimAccount } from '../trie/account.js'
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
 * storage root and the empty code hash are sent as empty strings, 32 bytes shorter each.
 */
export function slimLength(body: Uint8Array): number {
  return encodeSlimAccount(decodeFullAccount(body)).length
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
