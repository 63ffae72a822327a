/**
 * What a failed request costs its peer: bad data drops it, a state it does not hold marks it for that
 * root, timeouts drop it once too many come in a row (unless it is the last peer that may serve the
 * root), and a lost connection is not held against it. The scheduler decides when a request failed;
 * this decides what follows, so that the rules sit in one place (docs/sync.md's fault table).
 */
import type { Failure } from './faults.js'
import type { PeerTracker, RequestKind, TrackedPeer } from './peertracker.js'
import type { DropReason, SnapPeerSource } from './snappeer.js'

/** Where a judgement is told (the state sync's events) */
export interface PeerJudgeEvents {
  /** A peer was dropped for bad data or repeated timeouts */
  peerDropped?(peerId: string, reason: DropReason, detail: string): void
  /** A peer that timed out too often was kept: it is the only one with the state (see `dropSlow`) */
  peerKept?(peerId: string, detail: string): void
}

/** See the module comment; only the state sync's loop calls it */
export class PeerJudge {
  constructor(
    private readonly tracker: PeerTracker,
    private readonly source: SnapPeerSource,
    private readonly events: PeerJudgeEvents,
  ) {}

  /** Judges `t` for a request of `kind`, sent at `started`, under the root `rootHex`, that failed */
  failed(t: TrackedPeer, kind: RequestKind, failure: Failure, started: number, rootHex: string): void {
    // A peer dropped for an earlier reply is not judged (or dropped) again for its other requests
    if (this.tracker.get(t.peer.id) !== t) return
    switch (failure.kind) {
      case 'fault':
        this.drop(t, failure.reason, `${kind}: ${failure.detail}`)
        return
      case 'unavailable':
        t.lacksRoot.add(rootHex)
        return
      case 'timeout':
        if (this.tracker.timedOut(t, kind, started))
          this.dropSlow(t, `${kind}: ${t.timeouts} timeouts in a row`, rootHex)
        return
      case 'lost':
        // Disconnected: the peer has left the pool, and its other requests fail with this one. It is
        // not judged: dropping it would ban a peer that only restarted (the only one, maybe) for good
        if (!this.source.peers().some((p) => p.id === t.peer.id)) return
        // Still listed, yet the send failed: treated like a peer that never answers, but dropped even
        // when it is the last one (not dropSlow): its sends fail at once, so asking it again would spin
        if (this.tracker.timedOut(t, kind)) this.drop(t, 'timeout', `${kind}: ${failure.detail}`)
        return
    }
  }

  /**
   * Drops `t` for its timeouts, unless it is the last peer that may serve the root: slowness alone
   * is no fault, and without it the sync waits for a peer that may never come (its bootnode, say, is
   * banned meanwhile). It is asked again, one request at a time, with more time at each turn
   * (PeerTracker.timeoutFor); a peer that joins later makes it droppable again
   */
  private dropSlow(t: TrackedPeer, detail: string, rootHex: string): void {
    const others = this.tracker.list().filter((o) => o !== t && !o.lacksRoot.has(rootHex))
    if (others.length > 0) {
      this.drop(t, 'timeout', detail)
      return
    }
    const next = +(this.tracker.timeoutFor(t) / 1000).toFixed(1)
    this.events.peerKept?.(
      t.peer.id,
      `${detail}; kept, the only peer with the state: asked again with ${next} s to answer`,
    )
  }

  private drop(t: TrackedPeer, reason: DropReason, detail: string): void {
    this.tracker.forget(t.peer.id)
    this.source.drop(t.peer, reason, detail)
    this.events.peerDropped?.(t.peer.id, reason, detail)
  }
}
