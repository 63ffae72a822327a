/**
 * The tail of a phase (see StateSync's module comment): which request in flight an idle peer should
 * be asked to copy, if any. A copy costs a request's bytes again: it is made only against a holder
 * expected to answer much later than the idle peer would.
 */
import type { TrackedPeer } from './peertracker.js'
import type { WorkKind } from './work/kind.js'

export type AnyKind = WorkKind<unknown, unknown>

/** One piece of work, asked of one peer or, at the tail, of two */
export interface Lease {
  /** Requests for it in flight or not yet handled */
  holders: number
  /** A reply for it was applied: later ones are only verified (their peer judged), never applied */
  settled: boolean
  /** Already asked of a second peer: one copy at most, or a failing copy would be asked again and again */
  copied: boolean
}

/** A request sent and not yet handled */
export interface InFlight {
  readonly peer: TrackedPeer
  readonly kind: AnyKind
  readonly work: unknown
  /** Reply bytes asked for */
  readonly bytes: number
  readonly started: number
  /** The root's generation when it was sent (see SyncContext.generation) */
  readonly generation: number
  readonly lease: Lease
}

/**
 * An idle peer takes over a copy of another's work only when the holder is expected to answer later
 * than this many times the idle peer's own time for that reply
 */
const HEDGE_MARGIN = 2

/** What a copy to a peer not measured yet is expected to take, ms */
const UNMEASURED_COPY_MS = 500

/**
 * The request of another peer that idle `t` should be asked for too, or undefined: among those not
 * copied yet under the current root `generation`, the one expected to be answered last, if `t` would
 * answer it sooner by HEDGE_MARGIN of its own time for it
 */
export function pickCopy(pending: Iterable<InFlight>, t: TrackedPeer, generation: number, now: number): InFlight | undefined {
  let best: InFlight | undefined
  let bestEnd = 0
  for (const r of pending) {
    // A holder that has not answered yet (its probe) is waited for: a copy that won would leave a
    // silent newcomer unexamined, and such a peer must be found out and dropped
    if (r.peer === t || r.peer.rttMs === 0 || r.lease.copied || r.lease.settled || r.generation !== generation) continue
    const end = expectedEnd(r, now)
    // A peer not measured yet is assumed to answer within half the one second a request aims at: its
    // copy is then its probe (a fast peer that joins while a slow one holds all the work gets some)
    const copyMs = t.rttMs === 0 ? UNMEASURED_COPY_MS : expectedMs(t, r.bytes)
    if (end > now + HEDGE_MARGIN * copyMs && end > bestEnd) {
      best = r
      bestEnd = end
    }
  }
  return best
}

/** How long `t` is expected to take for a reply of `bytes`, ms: at its byte rate, else its round trip */
function expectedMs(t: TrackedPeer, bytes: number): number {
  return t.byteRate > 0 ? (bytes * 1000) / t.byteRate : t.rttMs
}

/**
 * When request `r` (of a measured peer) is expected to be answered, ms since the epoch: at its peer's
 * measured rate, and once overdue, not before as long again as it has already taken (a peer that
 * slowed down is no longer what its figures say)
 */
function expectedEnd(r: InFlight, now: number): number {
  return Math.max(r.started + expectedMs(r.peer, r.bytes), now + (now - r.started))
}
