/**
 * Storage ranges (snap.md §GetStorageRanges): small tries many to a request, whole; the sub-ranges
 * of large ones one to a request. Each slot list is verified against its account's storage root
 * before anything of the reply is applied.
 */
import { verifyStorageRange } from '../../trie/index.js'
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

/** A trie downloaded in pieces (or resumed with none left): its edge nodes are still missing; completes it top-down */
export async function completeStorage(ctx: SyncContext, owner: StorageOwner): Promise<void> {
  // The pieces' nodes must be readable, or completion would fetch them again
  await ctx.writer.flush()
  await ctx.trie.addRoot(owner.root, owner.account, owner.onStored, owner.onChanged)
}

/** See the module comment */
export class StorageRanges implements WorkKind<StorageWork, StorageRangesReply> {
  readonly kind = 'storage'

  constructor(private readonly ctx: SyncContext) {}

  pick(items: number): StorageWork | undefined {
    const sub = this.ctx.storage.takeSubrange()
    if (sub !== undefined) return { kind: 'subrange', sub, ...sub.request() }
    const owners = this.ctx.storage.takeSmall(items)
    return owners.length === 0 ? undefined : { kind: 'whole', owners }
  }

  fetch(peer: SnapPeer, work: StorageWork, timeoutMs: number, limitBytes: number): Promise<StorageRangesReply> {
    const bytes = BigInt(limitBytes)
    if (work.kind === 'subrange') {
      const { account } = work.sub.trie.owner
      return peer.getStorageRanges(
        { root: this.ctx.root, accounts: [account], origin: work.origin, limit: work.limit, bytes },
        timeoutMs,
      )
    }
    return peer.getStorageRanges(
      { root: this.ctx.root, accounts: work.owners.map((o) => o.account), origin: ZERO, limit: MAX, bytes },
      timeoutMs,
    )
  }

  verify(work: StorageWork, reply: StorageRangesReply): void {
    this.checkReply(work, reply)
    if (work.kind === 'whole') this.verifyLists(work.owners, reply)
    else this.verifySubrange(work, reply)
  }

  async apply(work: StorageWork, reply: StorageRangesReply): Promise<Applied> {
    const bytes = this.checkReply(work, reply)
    const items = reply.slots.reduce((n, l) => n + l.length, 0)
    if (work.kind === 'subrange') {
      await this.applySubrange(work, reply)
      // The slot past the sub-range's limit that a server adds is the next sub-range's to count
      const last = hashNumber(work.limit)
      this.ctx.counters.slots += (reply.slots[0] ?? []).filter((s) => hashNumber(s.hash) <= last).length
    } else {
      await this.applyWhole(work.owners, reply)
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

  // Every list against its owner's storage root; `changed` holds the owners whose account moved on
  private verifyLists(
    owners: StorageOwner[],
    reply: StorageRangesReply,
  ): { verified: Verified[]; changed: StorageOwner[] } {
    const verified: Verified[] = []
    const changed: StorageOwner[] = []
    reply.slots.forEach((slots, i) => {
      const last = i === reply.slots.length - 1
      try {
        // Only the last list may be partial and carry a proof (snap.md §StorageRanges)
        verified.push({
          owner: owners[i],
          slots,
          result: verify(owners[i].root, slots, last ? reply.proof : [], ZERO, MAX),
        })
      } catch (err) {
        if (!this.readBeforeMove(owners[i])) throw err
        changed.push(owners[i])
      }
    })
    return { verified, changed }
  }

  // The sub-range's slots, or undefined when its trie was given up or its account moved on
  private verifySubrange(
    { sub, origin, limit }: Extract<StorageWork, { kind: 'subrange' }>,
    reply: StorageRangesReply,
  ): StorageRangeResult | undefined {
    if (sub.trie.abandoned) return undefined
    try {
      return verify(sub.trie.owner.root, reply.slots[0] ?? [], reply.proof, origin, limit)
    } catch (err) {
      if (!this.readBeforeMove(sub.trie.owner)) throw err
      return undefined
    }
  }

  private async applyWhole(owners: StorageOwner[], reply: StorageRangesReply): Promise<void> {
    // Every list is verified first: a bad one must leave nothing half-applied
    const { verified, changed } = this.verifyLists(owners, reply)
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

  private async applySubrange(
    work: Extract<StorageWork, { kind: 'subrange' }>,
    reply: StorageRangesReply,
  ): Promise<void> {
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
   * The owner's storage root was read from the state of an older pivot. Its slots are asked for
   * under the current root, where the account may have changed: a list that does not verify
   * against the old storage root is then the chain's doing, not the peer's.
   */
  private readBeforeMove(owner: StorageOwner): boolean {
    return owner.generation < this.ctx.generation
  }
}
