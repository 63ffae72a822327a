/**
 * Per-peer bookkeeping for the state sync: how much each peer delivers (items per second, per kind
 * of request), its round-trip time, what it has in flight, which roots it said it lacks, and its
 * run of timeouts. Requests are sized and timed from these figures, and work goes to the peers
 * that deliver. Only the scheduler loop mutates a tracker.
 */
import type { SnapPeer } from './snappeer.js'

/** The four kinds of snap request */
export type RequestKind = 'accounts' | 'storage' | 'codes' | 'nodes'

/** Frozen tuning of the tracker */
export interface PeerTrackerOptions {
  /** Requests one peer may have in flight at once (all kinds) */
  readonly maxInFlight: number
  /** Timeouts in a row after which a peer is dropped */
  readonly maxTimeouts: number
  /** Bounds of a request's timeout, ms */
  readonly minTimeoutMs: number
  readonly maxTimeoutMs: number
}

export const DEFAULT_TRACKER_OPTIONS: PeerTrackerOptions = Object.freeze({
  // Several requests in flight hide the round trip; more than a few only queue at the server,
  // whose own per-peer concurrency is 2 (wire/constants.ts)
  maxInFlight: 3,
  // A peer that times out three times in a row is not coming back soon; one slow answer is not a fault
  maxTimeouts: 3,
  // Above the server's own 3 s time budget per request (wire/constants.ts) plus a queue at the server;
  // geth's msgrate adapts within similar bounds
  minTimeoutMs: 6_000,
  maxTimeoutMs: 30_000,
})

/** Items a fresh peer is asked for, per kind; its measured rate takes over after the first reply */
const INITIAL_ITEMS: { readonly [k in RequestKind]: number } = { accounts: 1, storage: 64, codes: 64, nodes: 128 }

/** Upper bounds per request: the server caps lookups at 1024 (wire/constants.ts, after geth) */
const MAX_ITEMS: { readonly [k in RequestKind]: number } = { accounts: 1, storage: 256, codes: 256, nodes: 512 }

/** Aim each request at about this long a round trip: long enough to amortise the RTT */
const TARGET_REQUEST_SECONDS = 1

/**
 * Reply bytes a peer of unknown speed is asked for (its probe), and the least any peer is asked for.
 * Why: a full-size request (512 KiB) to a slow link holds its piece of work for as long as the
 * transfer takes (8 s at 64 KiB/s), the sync's last piece included; 64 KiB is a few hundred
 * accounts or slots, still many times the round trip's worth on loopback or a LAN
 */
const MIN_REQUEST_BYTES = 64 * 1024

// Weight of a new measurement in the moving averages
const EMA = 0.3

/** A timeout grows at most this many times over its bound after timeouts in a row (see timeoutFor) */
const BACKOFF_LIMIT = 8

/** What the syncer knows of one peer */
export class TrackedPeer {
  inFlight = 0
  /** Timeouts in a row, requests in flight together counted once (see PeerTracker.timedOut) */
  timeouts = 0
  /** When the last counted timeout was recorded, ms since the epoch */
  lastTimeoutAt = 0
  /** Round-trip time, moving average, ms */
  rttMs = 0
  /** Items per second delivered, moving average, per kind */
  readonly rate: { [k in RequestKind]: number } = { accounts: 0, storage: 0, codes: 0, nodes: 0 }
  /** Roots (hex) this peer answered empty for: it does not have their state */
  readonly lacksRoot = new Set<string>()
  /** Items served, per kind (for tests and the end-of-sync summary) */
  readonly served: { [k in RequestKind]: number } = { accounts: 0, storage: 0, codes: 0, nodes: 0 }
  /** Payload bytes of the replies accepted from this peer (the end-of-sync summary) */
  servedBytes = 0
  /** Payload bytes per second delivered, moving average over all kinds; 0 until measured */
  byteRate = 0

  constructor(readonly peer: SnapPeer) {}
}

/** The tracked peers; see the module comment */
export class PeerTracker {
  private readonly peers = new Map<string, TrackedPeer>()

  constructor(private readonly opts: PeerTrackerOptions = DEFAULT_TRACKER_OPTIONS) {}

  /** Brings the set up to date with the peers connected now; returns them */
  sync(connected: SnapPeer[]): TrackedPeer[] {
    const ids = new Set(connected.map((p) => p.id))
    for (const id of this.peers.keys()) if (!ids.has(id)) this.peers.delete(id)
    for (const p of connected) {
      const known = this.peers.get(p.id)
      // A reconnected peer is a new object: track the new one, keep its measurements
      if (known === undefined) this.peers.set(p.id, new TrackedPeer(p))
      else if (known.peer !== p) Object.assign(known, { peer: p })
    }
    return [...this.peers.values()]
  }

  /** The tracked peers, as last synced */
  list(): TrackedPeer[] {
    return [...this.peers.values()]
  }

  get(id: string): TrackedPeer | undefined {
    return this.peers.get(id)
  }

  forget(id: string): void {
    this.peers.delete(id)
  }

  get size(): number {
    return this.peers.size
  }

  /**
   * Requests `t` may have in flight: one until its first reply (a probe), and one after a timeout
   * until it answers again, else `maxInFlight`. Why: full-size requests queued on a link of unknown
   * speed all wait for the slowest transfer; on a slow peer they time out together, the peer is
   * dropped, and their work waits out the timeout first
   */
  capacity(t: TrackedPeer): number {
    return t.rttMs === 0 || t.timeouts > 0 ? 1 : this.opts.maxInFlight
  }

  /** True when `t` may have another request in flight */
  canTake(t: TrackedPeer): boolean {
    return t.inFlight < this.capacity(t) && this.peers.get(t.peer.id) === t
  }

  /** Peers that can take another request for the root `rootHex`, best `kind` rate first */
  idle(kind: RequestKind, rootHex: string): TrackedPeer[] {
    const out: TrackedPeer[] = []
    for (const t of this.peers.values()) {
      if (t.inFlight >= this.capacity(t) || t.lacksRoot.has(rootHex)) continue
      out.push(t)
    }
    // Fewest in flight first, then the fastest: spreads work, then favours the peers that deliver
    return out.sort((a, b) => a.inFlight - b.inFlight || b.rate[kind] - a.rate[kind])
  }

  /** How many items to ask `t` for in one request of `kind` */
  itemsFor(t: TrackedPeer, kind: RequestKind): number {
    const rate = t.rate[kind]
    if (rate === 0) return INITIAL_ITEMS[kind]
    return Math.max(1, Math.min(MAX_ITEMS[kind], Math.round(rate * TARGET_REQUEST_SECONDS)))
  }

  /**
   * Reply bytes to ask `t` for, at most `max`: about TARGET_REQUEST_SECONDS of its measured byte rate
   * (geth's msgrate sizes requests the same way), MIN_REQUEST_BYTES until it is measured
   */
  bytesFor(t: TrackedPeer, max: number): number {
    return Math.round(Math.min(max, Math.max(MIN_REQUEST_BYTES, t.byteRate * TARGET_REQUEST_SECONDS)))
  }

  /**
   * The timeout of the next request to `t`: a few round trips for each request ahead of it at the
   * peer (a server answers a peer's requests a few at a time), within bounds; doubled for each of its
   * timeouts in a row, up to BACKOFF_LIMIT times the bound. Why: a peer kept after timeouts (the last
   * one that serves the root, see StateSync) may be slower than any bound; given more time at each
   * turn it answers in the end, and a silent one costs one request at a time
   */
  timeoutFor(t: TrackedPeer): number {
    const backoff = Math.min(2 ** t.timeouts, BACKOFF_LIMIT)
    if (t.rttMs === 0) return (this.opts.maxTimeoutMs / 2) * backoff
    const ms = 4 * t.rttMs * (1 + t.inFlight)
    return Math.round(Math.min(this.opts.maxTimeoutMs, Math.max(this.opts.minTimeoutMs, ms)) * backoff)
  }

  /** Records a reply: `items` (`bytes` of payload) delivered in `ms` */
  delivered(t: TrackedPeer, kind: RequestKind, items: number, ms: number, bytes = 0): void {
    t.timeouts = 0
    t.served[kind] += items
    t.servedBytes += bytes
    const elapsed = Math.max(ms, 1)
    // Only full-ish replies measure the link: a short reply (the end of a range) says little of it
    if (bytes >= MIN_REQUEST_BYTES / 2) {
      const byteRate = (bytes * 1000) / elapsed
      t.byteRate = t.byteRate === 0 ? byteRate : (1 - EMA) * t.byteRate + EMA * byteRate
    }
    t.rttMs = t.rttMs === 0 ? elapsed : (1 - EMA) * t.rttMs + EMA * elapsed
    const rate = (items * 1000) / elapsed
    t.rate[kind] = t.rate[kind] === 0 ? rate : (1 - EMA) * t.rate[kind] + EMA * rate
  }

  /**
   * Records a timeout of a request sent at `sentAt` (ms since the epoch; by default counted as a new
   * one); true when the peer has now timed out too often and should be dropped. Requests sent before
   * the last timeout was recorded waited through the same silence: they count once, not once each,
   * or a peer that pauses (a restart's shutdown, a busy moment) is dropped by its own requests in flight
   */
  timedOut(t: TrackedPeer, kind: RequestKind, sentAt = Number.POSITIVE_INFINITY): boolean {
    // Ask for less next time: a timed-out request was too big for this peer's link
    t.rate[kind] = t.rate[kind] / 2
    t.byteRate = t.byteRate / 2
    // Strictly before: a request sent in the same millisecond as the record was sent after it (a kept peer is
    // asked again at once), and its own timeout must count
    if (sentAt < t.lastTimeoutAt) return false
    t.timeouts++
    t.lastTimeoutAt = Date.now()
    // A peer that never answered gets one request at a time (capacity): were it allowed the same
    // three timeouts, a silent peer would hold its piece of work for three timeouts before the
    // syncer gave up on it. Its first timeout is its last
    if (t.rttMs === 0) return true
    return t.timeouts >= this.opts.maxTimeouts
  }
}
