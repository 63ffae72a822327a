/**
 * Storage-range work. Small storage tries are fetched whole, many accounts per request; a trie that
 * does not fit one reply becomes a large trie whose remaining key space is split into sub-ranges
 * fetched concurrently (at most {@link MAX_SUBRANGES} each, so a huge contract cannot fan the work out
 * without bound). Every slot list is verified against the storage root of its account.
 */
import { toHex } from '../trie/hex.js'

import { MAX_HASH, hashBytes, hashNumber, splitRange } from './hashrange.js'

import type { HashRange } from './hashrange.js'

/**
 * Why 16: geth's storageConcurrency. Enough sub-ranges to spread one large contract over the peers,
 * few enough that the open edges between them (completed afterwards by trie-node requests) stay few.
 */
export const MAX_SUBRANGES = 16

/** Whose storage this is and what to call when it is all stored */
export interface StorageOwner {
  /** The account's hash (trie key) */
  readonly account: Uint8Array
  /** The account's storage root, from its verified body */
  readonly root: Uint8Array
  /** {@link SyncContext.generation} of the state the account (and so `root`) was read from */
  readonly generation: number
  /** Called once the whole storage trie is stored */
  readonly onStored: () => void
  /**
   * Called instead when the trie no longer verifies under a newer pivot (the account changed): it
   * is not stored here, and healing fetches the account's current storage from the pivot root
   */
  readonly onChanged: () => void
}

/** One sub-range of a large storage trie */
export class StorageSubrange implements HashRange {
  inFlight = false
  done = false

  constructor(
    readonly trie: LargeStorage,
    readonly first: bigint,
    readonly last: bigint,
    public next: bigint = first,
  ) {}

  request(): { origin: Uint8Array; limit: Uint8Array } {
    return { origin: hashBytes(this.next), limit: hashBytes(this.last) }
  }
}

/** A storage trie downloaded in sub-ranges */
export class LargeStorage {
  readonly subranges: StorageSubrange[] = []
  /** Given up (the account changed under a new pivot): replies still in flight are ignored */
  abandoned = false

  constructor(readonly owner: StorageOwner) {}

  get done(): boolean {
    return this.subranges.every((s) => s.done)
  }
}

/**
 * Splits what is left of a storage trie after a first partial reply. `received` slots covered
 * [0, lastKey]; the rest is assumed about as dense, and cut into pieces of about one reply each.
 */
export function splitLargeStorage(owner: StorageOwner, lastKey: Uint8Array, received: number): LargeStorage {
  const trie = new LargeStorage(owner)
  const next = hashNumber(lastKey) + 1n
  if (next > MAX_HASH) return trie
  const covered = Number((next << 16n) / ((MAX_HASH + 1n) >> 16n)) / 2 ** 32
  const expectedReplies = covered > 0 ? (1 - covered) / covered : MAX_SUBRANGES
  // A reply's worth per sub-range, within [1, MAX_SUBRANGES]; `received` only says the reply was not empty
  const parts = received === 0 ? 1 : Math.max(1, Math.min(MAX_SUBRANGES, Math.ceil(expectedReplies)))
  for (const r of splitRange(next, MAX_HASH, parts)) trie.subranges.push(new StorageSubrange(trie, r.first, r.last))
  return trie
}

/** The storage work of a sync; only the scheduler mutates it */
export class StorageQueue {
  /** Small tries waiting to be requested */
  private readonly small: StorageOwner[] = []
  /** Large tries being downloaded */
  private readonly large: LargeStorage[] = []

  /** Callbacks of owners that asked for a trie already queued or in progress, by account and root */
  private readonly joined = new Map<string, StorageOwner[]>()

  /**
   * Queues a storage trie to download. The same trie asked for again while it is queued or in
   * progress (the account just past one task's limit is also the first of the next) is not fetched
   * twice: the second owner is called back with the first.
   */
  add(owner: StorageOwner): void {
    const key = toHex(owner.account) + toHex(owner.root)
    const waiting = this.joined.get(key)
    if (waiting !== undefined) {
      waiting.push(owner)
      return
    }
    const owners = [owner]
    this.joined.set(key, owners)
    this.small.push({
      account: owner.account,
      root: owner.root,
      generation: owner.generation,
      onStored: () => {
        this.joined.delete(key)
        for (const o of owners) o.onStored()
      },
      onChanged: () => {
        this.joined.delete(key)
        for (const o of owners) o.onChanged()
      },
    })
  }

  /** Puts owners back at the front (their request failed or was not answered) */
  requeue(owners: StorageOwner[]): void {
    this.small.unshift(...owners)
  }

  /** Up to `n` small tries for one request */
  takeSmall(n: number): StorageOwner[] {
    return this.small.splice(0, n)
  }

  /** Starts downloading a large trie; false when nothing is left of it to download */
  addLarge(trie: LargeStorage): boolean {
    if (trie.done) return false
    this.large.push(trie)
    return true
  }

  /** A sub-range that can be requested now */
  takeSubrange(): StorageSubrange | undefined {
    for (const t of this.large) {
      const sub = t.subranges.find((s) => !s.done && !s.inFlight)
      if (sub !== undefined) {
        sub.inFlight = true
        return sub
      }
    }
    return undefined
  }

  /** Gives up a large trie whose account changed under a newer pivot */
  abandon(trie: LargeStorage): void {
    if (trie.abandoned) return
    trie.abandoned = true
    const at = this.large.indexOf(trie)
    if (at >= 0) this.large.splice(at, 1)
    trie.owner.onChanged()
  }

  /** Marks a sub-range finished; true when that was the trie's last one */
  finishSubrange(sub: StorageSubrange): boolean {
    sub.done = true
    sub.inFlight = false
    if (!sub.trie.done) return false
    this.large.splice(this.large.indexOf(sub.trie), 1)
    return true
  }

  /** Tries waiting or in progress */
  get pending(): number {
    return this.joined.size
  }

  get hasSmall(): boolean {
    return this.small.length > 0
  }
}
