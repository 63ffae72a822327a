/**
 * Hedged requests, for the tail of a phase (see StateSync's module comment): which request in flight
 * an idle peer should be asked to hedge, that is to send again to itself, if any. A hedge costs a
 * request's bytes again: it is made only against a holder expected to answer much later than the idle
 * peer would. One word for the mechanism everywhere: the `hedgedRequests` counter, the
 * `snap_sync_hedged_requests_total` metric, `hedged=` in the summary line.
 */
import type { TrackedPeer } from '../peers/peertracker.js'
import type { WorkKind } from '../work/kind.js'

export type AnyKind = WorkKind<unknown, unknown>

/** The requests for one piece of work: one, or two once it is hedged */
export interface HedgeGroup {
  /** Requests for it in flight or not yet handled */
  holders: number
  /** A reply for it was applied: later ones are only verified (their peer judged), never applied */
  settled: boolean
  /** Already asked of a second peer: one hedge at most, or a failing hedge would be asked again and again */
  hedged: boolean
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
  readonly group: HedgeGroup
}

/**
 * An idle peer hedges another's work only when the holder is expected to answer later than this many
 * times the idle peer's own time for that reply
 */
const HEDGE_MARGIN = 2

/** What a hedge to a peer not measured yet is expected to take, ms */
const UNMEASURED_HEDGE_MS = 500

/**
 * The request of another peer that idle `t` should hedge, or undefined: among those not hedged yet
 * under the current root `generation`, the one expected to be answered last, if `t` would
 * answer it sooner by HEDGE_MARGIN of its own time for it
 */
export function pickHedge(
  pending: Iterable<InFlight>,
  t: TrackedPeer,
  generation: number,
  now: number,
): InFlight | undefined {
  let best: InFlight | undefined
  let bestEnd = 0
  for (const r of pending) {
    // A holder that has not answered yet (its probe) is waited for: a hedge that won would leave a
    // silent newcomer unexamined, and such a peer must be found out and dropped
    if (r.peer === t || r.peer.rttMs === 0 || r.group.hedged || r.group.settled || r.generation !== generation) continue
    const end = expectedEnd(r, now)
    // A peer not measured yet is assumed to answer within half the one second a request aims at: its
    // hedge is then its probe (a fast peer that joins while a slow one holds all the work gets some)
    const hedgeMs = t.rttMs === 0 ? UNMEASURED_HEDGE_MS : expectedMs(t, r.bytes)
    if (end > now + HEDGE_MARGIN * hedgeMs && end > bestEnd) {
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
