/**
 * Storage ranges (snap.md §GetStorageRanges): small tries many to a request, whole; the sub-ranges
 * of large ones one to a request. Each slot list is verified against its account's storage root
 * before anything of the reply is applied.
 *
 * After a pivot move, storage roots read under the old root are asked for under the new one. A list
 * that fails against such a root is taken as the chain's change only once the account under the new
 * root shows another storage root; under the same root, the peer lied.
 */
import { equalsBytes } from '@ethereumjs/util'

import { EMPTY_ROOT, verifyAccountRange, verifyStorageRange } from '../../trie/index.js'
import { toHex } from '../../trie/hex.js'
import { compareBytes } from '../../trie/nibbles.js'
import { checkReplySize, PeerFault, RootUnavailable } from '../peers/faults.js'
import { MAX_HASH, hashBytes, hashNumber } from './hashrange.js'
import { splitLargeStorage } from './storagequeue.js'

import type { StorageRangeResult } from '../../trie/index.js'
import type { SnapPeer } from '../peers/snappeer.js'
import type { StorageOwner, StorageSubrange } from './storagequeue.js'
import type { Applied, SyncContext, WorkKind } from './kind.js'
import type { SlotData, StorageRangesReply } from '../../wire/messages.js'

/** A request for whole small tries, or for one sub-range of a large trie */
export type StorageWork =
  | { readonly kind: 'whole'; readonly owners: StorageOwner[] }
  | {
      readonly kind: 'subrange'
      readonly sub: StorageSubrange
      readonly origin: Uint8Array
      readonly limit: Uint8Array
    }

const ZERO = hashBytes(0n)
const MAX = hashBytes(MAX_HASH)

/**
 * Reply bytes asked for when one account is looked up. Why 4 KiB: the reply is that account (or the next)
 * and the proof of its path, a few nodes of at most 532 bytes; a server sends the first account whatever
 * the limit
 */
const ACCOUNT_LOOKUP_BYTES = 4 * 1024

/** A storage reply, and what `StorageRanges.fetch` looked up for the lists that failed after a pivot move */
export interface StorageReply extends StorageRangesReply {
  /** Storage roots under the request's state root, by account (hex); the empty root for an account gone */
  readonly currentRoots?: ReadonlyMap<string, Uint8Array>
}

interface Verified {
  owner: StorageOwner
  slots: SlotData[]
  result: StorageRangeResult
}

function verify(
  root: Uint8Array,
  slots: SlotData[],
  proof: Uint8Array[],
  origin: Uint8Array,
  limit: Uint8Array,
): StorageRangeResult {
  return verifyStorageRange({
    root,
    origin,
    limit,
    hashes: slots.map((s) => s.hash),
    slots: slots.map((s) => s.body),
    proof,
    ignoreUnusedProof: true,
  })
}

function replyBytes(reply: StorageRangesReply): number {
  let n = 0
  for (const list of reply.slots) for (const s of list) n += s.hash.length + s.body.length
  for (const p of reply.proof) n += p.length
  return n
}

/** The storage root of `account` under the state `root` (the empty root if it has none), proven by `peer` */
async function storageRootAt(
  peer: SnapPeer,
  root: Uint8Array,
  account: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  const bytes = BigInt(ACCOUNT_LOOKUP_BYTES)
  const reply = await peer.getAccountRange({ root, origin: account, limit: account, bytes }, timeoutMs)
  if (reply.accounts.length === 0 && reply.proof.length === 0) throw new RootUnavailable('empty account range')
  let size = 0
  for (const a of reply.accounts) size += a.hash.length + a.slimBody.length
  for (const p of reply.proof) size += p.length
  checkReplySize(size, ACCOUNT_LOOKUP_BYTES, 'AccountRange')
  const hashes = reply.accounts.map((a) => a.hash)
  const { accounts } = verifyAccountRange({
    root,
    origin: account,
    limit: account,
    hashes,
    bodies: reply.accounts.map((a) => a.slimBody),
    proof: reply.proof,
    ignoreUnusedProof: true,
  })
  // A verified range that starts past the account proves it absent
  const at = hashes.findIndex((h) => equalsBytes(h, account))
  return at < 0 ? EMPTY_ROOT : accounts[at].storageRoot
}

/** A trie downloaded in pieces (or resumed with none left): its edge nodes are still missing; completes it top-down */
export async function completeStorage(ctx: SyncContext, owner: StorageOwner): Promise<void> {
  // The pieces' nodes must be readable, or completion would fetch them again
  await ctx.writer.flush()
  await ctx.trie.addRoot(owner.root, owner.account, owner.onStored, owner.onChanged)
}

/** See the module comment */
export class StorageRanges implements WorkKind<StorageWork, StorageReply> {
  readonly kind = 'storage'
  readonly byHash = false

  constructor(private readonly ctx: SyncContext) {}

  pick(items: number): StorageWork | undefined {
    const sub = this.ctx.storage.takeSubrange()
    if (sub !== undefined) return { kind: 'subrange', sub, ...sub.request() }
    const owners = this.ctx.storage.takeSmall(items)
    return owners.length === 0 ? undefined : { kind: 'whole', owners }
  }

  /**
   * Sends the request; then looks up, under the same state root and from the same peer, each account read
   * before a pivot move whose list fails against its old storage root (the account proof verifies against
   * the pivot's root: the peer cannot fake it). One account found unchanged proves the lie: no more lookups
   */
  async fetch(peer: SnapPeer, work: StorageWork, timeoutMs: number, limitBytes: number): Promise<StorageReply> {
    const [root, generation] = [this.ctx.root, this.ctx.generation]
    const bytes = BigInt(limitBytes)
    const accounts = work.kind === 'subrange' ? [work.sub.trie.owner.account] : work.owners.map((o) => o.account)
    const [origin, limit] = work.kind === 'subrange' ? [work.origin, work.limit] : [ZERO, MAX]
    const reply = await peer.getStorageRanges({ root, accounts, origin, limit, bytes }, timeoutMs)
    const failed = this.failedBeforeMove(work, reply, generation)
    if (failed.length === 0) return reply
    const currentRoots = new Map<string, Uint8Array>()
    for (const owner of failed) {
      const current = await storageRootAt(peer, root, owner.account, timeoutMs)
      currentRoots.set(toHex(owner.account), current)
      if (equalsBytes(current, owner.root)) break
    }
    return { ...reply, currentRoots }
  }

  verify(work: StorageWork, reply: StorageReply): void {
    this.checkReply(work, reply)
    if (work.kind === 'whole') this.verifyLists(work, reply)
    else this.verifySubrange(work, reply)
  }

  async apply(work: StorageWork, reply: StorageReply): Promise<Applied> {
    const bytes = this.checkReply(work, reply)
    const items = reply.slots.reduce((n, l) => n + l.length, 0)
    if (work.kind === 'subrange') {
      await this.applySubrange(work, reply)
      // The slot past the sub-range's limit that a server adds is the next sub-range's to count; the
      // slots are verified in order, so only the last one can be past it
      const slots = reply.slots[0] ?? []
      const past = slots.length > 0 && compareBytes(slots[slots.length - 1].hash, work.limit) > 0
      this.ctx.counters.slots += past ? slots.length - 1 : slots.length
    } else {
      await this.applyWhole(work, reply)
      this.ctx.counters.slots += items
    }
    return { items: Math.max(items, 1), bytes }
  }

  requeue(work: StorageWork): void {
    if (work.kind === 'whole') this.ctx.storage.requeue(work.owners)
    else work.sub.inFlight = false
  }

  // The reply's form (emptiness, size, list count); returns its payload bytes
  private checkReply(work: StorageWork, reply: StorageRangesReply): number {
    if (reply.slots.length === 0 && reply.proof.length === 0) throw new RootUnavailable('empty storage ranges')
    // A whole trie from key 0 has a first slot to send: a proof alone proves nothing asked for (taken, it
    // would requeue every account and count as a delivery, round after round). A sub-range's proof alone
    // proves it empty (geth's form), and is verified as such
    if (work.kind === 'whole' && reply.slots.length === 0)
      throw new PeerFault('invalid_proof', `a proof of ${reply.proof.length} nodes and no slot list`)
    const bytes = replyBytes(reply)
    checkReplySize(bytes, this.ctx.requestBytes, 'StorageRanges')
    const asked = work.kind === 'whole' ? work.owners.length : 1
    if (reply.slots.length > asked)
      throw new PeerFault('oversized', `${reply.slots.length} slot lists for ${asked} accounts`)
    return bytes
  }

  // List `i` of the reply against its owner's storage root; throws when it does not verify
  private verifyList(work: StorageWork, reply: StorageRangesReply, i: number): StorageRangeResult {
    if (work.kind === 'subrange') {
      return verify(work.sub.trie.owner.root, reply.slots[0] ?? [], reply.proof, work.origin, work.limit)
    }
    // Only the last list may be partial and carry a proof (snap.md §StorageRanges)
    const proof = i === reply.slots.length - 1 ? reply.proof : []
    return verify(work.owners[i].root, reply.slots[i], proof, ZERO, MAX)
  }

  // Owners read under a state older than `generation`'s whose lists in the reply do not verify
  private failedBeforeMove(work: StorageWork, reply: StorageRangesReply, generation: number): StorageOwner[] {
    // A sub-range's proof alone is its list; lists past the owners are judged by `checkReply`
    const owners =
      work.kind === 'whole'
        ? work.owners.slice(0, reply.slots.length)
        : work.sub.trie.abandoned
          ? []
          : [work.sub.trie.owner]
    const failed: StorageOwner[] = []
    for (const [i, owner] of owners.entries()) {
      if (owner.generation >= generation) continue
      try {
        this.verifyList(work, reply, i)
      } catch {
        failed.push(owner)
      }
    }
    return failed
  }

  // Every list against its owner's storage root; `changed` holds the owners whose account moved on
  private verifyLists(
    work: Extract<StorageWork, { kind: 'whole' }>,
    reply: StorageReply,
  ): { verified: Verified[]; changed: StorageOwner[] } {
    const verified: Verified[] = []
    const changed: StorageOwner[] = []
    reply.slots.forEach((slots, i) => {
      const owner = work.owners[i]
      try {
        verified.push({ owner, slots, result: this.verifyList(work, reply, i) })
      } catch (err) {
        if (!this.changedSinceRead(owner, reply)) throw err
        changed.push(owner)
      }
    })
    return { verified, changed }
  }

  // The sub-range's slots, or undefined when its trie was given up or its account moved on
  private verifySubrange(
    work: Extract<StorageWork, { kind: 'subrange' }>,
    reply: StorageReply,
  ): StorageRangeResult | undefined {
    if (work.sub.trie.abandoned) return undefined
    try {
      return this.verifyList(work, reply, 0)
    } catch (err) {
      if (!this.changedSinceRead(work.sub.trie.owner, reply)) throw err
      return undefined
    }
  }

  private async applyWhole(work: Extract<StorageWork, { kind: 'whole' }>, reply: StorageReply): Promise<void> {
    const { owners } = work
    // Every list is verified first: a bad one must leave nothing half-applied
    const { verified, changed } = this.verifyLists(work, reply)
    // Lists the peer did not get to are asked again
    this.ctx.storage.requeue(owners.slice(reply.slots.length))
    for (const owner of changed) owner.onChanged()
    for (const v of verified) {
      if (!v.result.more) {
        this.ctx.writer.putNodes(v.result.nodes, v.owner.account)
        v.owner.onStored()
        continue
      }
      this.ctx.writer.putNodes(v.result.nodes, v.owner.account, { completeOnly: true })
      const large = splitLargeStorage(v.owner, v.slots[v.slots.length - 1].hash, v.slots.length)
      if (!this.ctx.storage.addLarge(large)) await completeStorage(this.ctx, v.owner)
    }
  }

  private async applySubrange(work: Extract<StorageWork, { kind: 'subrange' }>, reply: StorageReply): Promise<void> {
    const { sub } = work
    const result = this.verifySubrange(work, reply)
    // Given up, or its account moved on (abandon is a no-op for a trie already given up)
    if (result === undefined) return this.ctx.storage.abandon(sub.trie)
    this.ctx.writer.putNodes(result.nodes, sub.trie.owner.account, { completeOnly: true })
    const slots = reply.slots[0] ?? []
    const lastKey = slots.length === 0 ? sub.last : hashNumber(slots[slots.length - 1].hash)
    if (result.more && lastKey < sub.last) {
      sub.next = lastKey + 1n
      sub.inFlight = false
      return
    }
    if (this.ctx.storage.finishSubrange(sub)) await completeStorage(this.ctx, sub.trie.owner)
  }

  /**
   * The owner's storage root was read from the state of an older pivot, and the account under the current
   * root (looked up by `fetch`) has another: a list that does not verify against the old storage root is
   * then the chain's doing. With the same root, or none looked up, it is the peer's.
   */
  private changedSinceRead(owner: StorageOwner, reply: StorageReply): boolean {
    if (owner.generation >= this.ctx.generation) return false
    const current = reply.currentRoots?.get(toHex(owner.account))
    return current !== undefined && !equalsBytes(current, owner.root)
  }
}
