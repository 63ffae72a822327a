/**
 * Bytecode work: code hashes to fetch, deduplicated by hash against what is queued and in flight
 * (the caller checks the DB first), each with the callbacks of every account waiting for it.
 */
import { toHex } from '../../trie/hex.js'

interface Wanted {
  readonly hash: Uint8Array
  readonly waiting: (() => void)[]
  inFlight: boolean
}

/**
 * Why 65,536: stored hashes remembered so that a code shared by many contracts is not fetched again
 * while its write may still sit in an unflushed batch (the DB check cannot see it); ~5 MB of keys.
 */
const STORED_MEMORY = 65_536

/** Code hashes to download; only the scheduler mutates it */
export class CodeQueue {
  private readonly wanted = new Map<string, Wanted>()
  private readonly storedRecently = new Set<string>()
  /** Hex keys in request order (not in flight) */
  private queue: string[] = []

  /**
   * Wants the code with this hash; `onStored` runs once it is written. Returns false when the hash
   * was already wanted (the callback is attached to the pending fetch).
   */
  want(hash: Uint8Array, onStored: () => void): boolean {
    const key = toHex(hash)
    if (this.storedRecently.has(key)) {
      onStored()
      return false
    }
    const known = this.wanted.get(key)
    if (known !== undefined) {
      known.waiting.push(onStored)
      return false
    }
    this.wanted.set(key, { hash, waiting: [onStored], inFlight: false })
    this.queue.push(key)
    return true
  }

  /** Up to `n` hashes for one request; they are in flight until `stored` or `requeue` */
  take(n: number): Uint8Array[] {
    const keys = this.queue.splice(0, n)
    return keys.map((k) => {
      const w = this.wanted.get(k) as Wanted
      w.inFlight = true
      return w.hash
    })
  }

  /** The code of `hash` is written: runs its callbacks */
  stored(hash: Uint8Array): void {
    const key = toHex(hash)
    const w = this.wanted.get(key)
    if (w === undefined) return
    this.wanted.delete(key)
    // Bounded: forget everything when full rather than track recency (a refetch is only a cost)
    if (this.storedRecently.size >= STORED_MEMORY) this.storedRecently.clear()
    this.storedRecently.add(key)
    for (const cb of w.waiting) cb()
  }

  /** Puts hashes that were not delivered back in front */
  requeue(hashes: Uint8Array[]): void {
    const keys: string[] = []
    for (const h of hashes) {
      const key = toHex(h)
      const w = this.wanted.get(key)
      if (w === undefined || !w.inFlight) continue
      w.inFlight = false
      keys.push(key)
    }
    this.queue = keys.concat(this.queue)
  }

  /** Hashes waiting to be requested */
  get queued(): number {
    return this.queue.length
  }

  /** Hashes queued or in flight */
  get pending(): number {
    return this.wanted.size
  }
}
