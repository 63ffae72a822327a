/**
 * Downloads a whole state from one snap peer, verifying every range on the way: the honest
 * requester the integration tests, the fuzz test and the serve benchmark share.
 */
import { KECCAK256_RLP, bytesToHex, equalsBytes } from '@ethereumjs/util'

import { verifyRange } from '../src/trie/rangeproof.js'
import { verifyAccountRange } from '../src/trie/responses.js'

import type { AccountBody } from '../src/trie/account.js'
import type { SnapRequester } from '../src/wire/requester.js'

const ZERO = new Uint8Array(32)
const MAX = new Uint8Array(32).fill(0xff)

/** The hash one above `h` */
export function nextHash(h: Uint8Array): Uint8Array {
  const out = Uint8Array.from(h)
  for (let i = 31; i >= 0 && ++out[i] === 256; i--) out[i] = 0
  return out
}

/** Every account of the state at `root`, in ranges of about `bytes`, each verified */
export async function crawlAccounts(
  requester: SnapRequester,
  root: Uint8Array,
  bytes: bigint,
): Promise<{ hashes: Uint8Array[]; accounts: AccountBody[]; requests: number }> {
  const hashes: Uint8Array[] = []
  const accounts: AccountBody[] = []
  let origin: Uint8Array = ZERO
  for (let requests = 1; ; requests++) {
    const reply = await requester.getAccountRange({ root, origin, limit: MAX, bytes })
    const keys = reply.accounts.map((a) => a.hash)
    if (keys.length === 0 && reply.proof.length === 0) throw new Error(`empty reply for root ${bytesToHex(root)}`)
    const bodies = reply.accounts.map((a) => a.slimBody)
    const verified = verifyAccountRange({ root, origin, hashes: keys, bodies, proof: reply.proof })
    hashes.push(...keys)
    accounts.push(...verified.accounts)
    if (!verified.more) return { hashes, accounts, requests }
    origin = nextHash(keys[keys.length - 1])
  }
}

/** The storage of `accounts` (hash, storage root), batched as a syncer would, each range verified */
export async function crawlStorage(
  requester: SnapRequester,
  root: Uint8Array,
  accounts: { hash: Uint8Array; storageRoot: Uint8Array }[],
  bytes: bigint,
): Promise<{ slots: Map<string, string[]>; requests: number }> {
  const slots = new Map<string, string[]>()
  const pending = accounts.filter((a) => !equalsBytes(a.storageRoot, KECCAK256_RLP))
  let origin: Uint8Array = ZERO
  let requests = 0
  while (pending.length > 0) {
    const batch = pending.slice(0, 128)
    requests++
    const reply = await requester.getStorageRanges({
      root,
      accounts: batch.map((a) => a.hash),
      origin,
      limit: MAX,
      bytes,
    })
    if (reply.slots.length === 0) throw new Error('empty storage reply')
    let done = 0
    for (const [i, range] of reply.slots.entries()) {
      const account = batch[i]
      const start = i === 0 ? origin : ZERO
      const proof = i === reply.slots.length - 1 ? reply.proof : []
      const keys = range.map((s) => s.hash)
      const { more } = verifyRange({
        root: account.storageRoot,
        origin: start,
        keys,
        values: range.map((s) => s.body),
        proof,
      })
      const id = bytesToHex(account.hash)
      slots.set(id, [...(slots.get(id) ?? []), ...keys.map(bytesToHex)])
      if (more) {
        origin = nextHash(keys[keys.length - 1])
        break
      }
      origin = ZERO
      done++
    }
    pending.splice(0, done)
  }
  return { slots, requests }
}
