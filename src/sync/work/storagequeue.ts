/**
 * Storage-range work. Small storage tries are fetched whole, many accounts per request; a trie that
 * does not fit one reply becomes a large trie whose remaining key space is split into sub-ranges
 * fetched concurrently (at most {@link MAX_SUBRANGES} each, so a huge contract cannot fan the work out
 * without bound). Every slot list is verified against the storage root of its account.
 *
 * A large trie's sub-ranges are kept in the progress record (`save`/`restore`): a huge contract half
 * fetched when the process dies resumes from its cursors, where it would otherwise be fetched again
 * whole (its root is not stored until it is complete, so nothing else tells what is done).
 */
import { toHex, toHex0x } from '../../trie/hex.js'

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

/** A large storage trie as the progress record keeps it; keys as 0x-hex */
export interface SavedStorageTrie {
  /** The account's hash */
  account: string
  /** Its storage root: the saved cursors hold for this trie only */
  root: string
  /** Sub-ranges not finished, from their cursor (`next`) on; none: only completion from the root is left */
  ranges: { first: string; last: string; next: string }[]
}

interface ResumedTrie {
  readonly root: string
  readonly ranges: { first: bigint; last: bigint; next: bigint }[]
}

const HASH_HEX = /^0x[0-9a-f]{64}$/

const savedRange = (r: { first: bigint; last: bigint; next: bigint }) => ({
  first: toHex0x(hashBytes(r.first)),
  last: toHex0x(hashBytes(r.last)),
  next: toHex0x(hashBytes(r.next)),
})

/**
 * Why 65,536: far above the large tries a sync has in progress at once (their account batches are
 * bounded in memory), and a bound on what a damaged record can make this code hold
 */
export const MAX_SAVED_TRIES = 65_536

/**
 * Large tries from the progress record, by account (one account may have tries of two roots); throws on a
 * malformed entry
 */
export function loadStorageTries(saved: unknown): Map<string, ResumedTrie[]> {
  if (!Array.isArray(saved)) throw new Error('storage tries: not a list')
  if (saved.length > MAX_SAVED_TRIES) throw new Error(`storage tries: ${saved.length}, more than ${MAX_SAVED_TRIES}`)
  const out = new Map<string, ResumedTrie[]>()
  for (const s of saved as Partial<SavedStorageTrie>[]) {
    const bad = () => new Error(`bad storage trie ${JSON.stringify(s).slice(0, 300)}`)
    if (
      typeof s !== 'object' ||
      s === null ||
      !HASH_HEX.test(String(s.account)) ||
      !HASH_HEX.test(String(s.root)) ||
      !Array.isArray(s.ranges)
    )
      throw bad()
    if (s.ranges.length > MAX_SUBRANGES) throw bad()
    const ranges = s.ranges.map((r) => {
      const [first, last, next] = [r?.first, r?.last, r?.next].map((v) =>
        typeof v === 'string' && /^0x[0-9a-f]{1,64}$/.test(v) ? BigInt(v) : -1n,
      )
      if (first < 0n || last > MAX_HASH || first > last || next < first || next > last) throw bad()
      return { first, last, next }
    })
    const account = s.account as string
    out.set(account, [...(out.get(account) ?? []), { root: s.root as string, ranges }])
  }
  return out
}

/** The storage work of a sync; only the scheduler mutates it */
export class StorageQueue {
  /** Small tries waiting to be requested */
  private readonly small: StorageOwner[] = []
  /** Large tries being downloaded */
  private readonly large: LargeStorage[] = []

  /** Callbacks of owners that asked for a trie already queued or in progress, by account and root */
  private readonly joined = new Map<string, StorageOwner[]>()
  /** Large tries from their split until stored or given up, by account and root: what `save` keeps */
  private readonly started = new Map<string, LargeStorage>()
  /** Large tries of the progress record not asked for again yet, by account */
  private resumed = new Map<string, ResumedTrie[]>()

  /** Takes the large tries of a progress record: an account asked for with the same root resumes from them */
  restore(saved: SavedStorageTrie[]): void {
    this.resumed = loadStorageTries(saved)
  }

  /**
   * The large tries to keep in the progress record: those in progress (their nodes up to the cursors
   * are written once the writer is flushed) and those of the record not asked for again yet
   */
  save(): SavedStorageTrie[] {
    const out: SavedStorageTrie[] = []
    // A trie given up is no longer here (its owner's onChanged removed it)
    for (const t of this.started.values()) {
      out.push({
        account: toHex0x(t.owner.account),
        root: toHex0x(t.owner.root),
        ranges: t.subranges.filter((s) => !s.done).map(savedRange),
      })
    }
    for (const [account, tries] of this.resumed)
      for (const r of tries) out.push({ account, root: r.root, ranges: r.ranges.map(savedRange) })
    return out
  }

  /**
   * Queues a storage trie to download. The same trie asked for again while it is queued or in
   * progress (the account just past one task's limit is also the first of the next) is not fetched
   * twice: the second owner is called back with the first.
   *
   * A trie of the progress record resumes from its saved sub-ranges. Returns it when none is left
   * to fetch: its owner is then to complete it from its root (what the ranges left open).
   */
  add(owner: StorageOwner): LargeStorage | undefined {
    const key = toHex(owner.account) + toHex(owner.root)
    const waiting = this.joined.get(key)
    if (waiting !== undefined) {
      waiting.push(owner)
      return undefined
    }
    const owners = [owner]
    this.joined.set(key, owners)
    const queued: StorageOwner = {
      account: owner.account,
      root: owner.root,
      generation: owner.generation,
      onStored: () => {
        this.joined.delete(key)
        this.started.delete(key)
        for (const o of owners) o.onStored()
      },
      onChanged: () => {
        this.joined.delete(key)
        this.started.delete(key)
        for (const o of owners) o.onChanged()
      },
    }
    const resumed = this.takeResumed(queued)
    if (resumed === undefined) {
      this.small.push(queued)
      return undefined
    }
    const trie = new LargeStorage(queued)
    for (const r of resumed.ranges) trie.subranges.push(new StorageSubrange(trie, r.first, r.last, r.next))
    return this.addLarge(trie) ? undefined : trie
  }

  // The saved cursors of the owner's trie, if the record has them for its root (a moved pivot may have changed it)
  private takeResumed(owner: StorageOwner): ResumedTrie | undefined {
    const tries = this.forgetSaved(owner.account)
    const root = toHex0x(owner.root)
    return tries?.find((t) => t.root === root)
  }

  /**
   * Drops the record's tries of an account that came back (its storage is queued, or found stored):
   * whatever its root now, they are of no more use. Returns them.
   */
  forgetSaved(account: Uint8Array): ResumedTrie[] | undefined {
    if (this.resumed.size === 0) return undefined
    const key = toHex0x(account)
    const tries = this.resumed.get(key)
    this.resumed.delete(key)
    return tries
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
    // Kept in the record until stored, completion from the root included
    this.started.set(toHex(trie.owner.account) + toHex(trie.owner.root), trie)
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
