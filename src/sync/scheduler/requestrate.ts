/**
 * `--snapRequestRate`: at most N snap requests a second from this node, over all peers. Requests are
 * spaced evenly (no burst), so a polite sync never hits a peer with a volley. The scheduler asks
 * before it sends (`tryTake`), so a request is sized and timed by the peer's own speed, not by the
 * wait for its turn (a request that waited would look slow, and be cut smaller and smaller).
 */
export class RequestRate {
  private next = 0

  /** `perSecond` > 0 */
  constructor(readonly perSecond: number) {
    if (!(perSecond > 0)) throw new Error(`request rate must be positive, got ${perSecond}`)
  }

  /** True, and the turn is taken, when a request may go now */
  tryTake(): boolean {
    const now = Date.now()
    if (now < this.next) return false
    this.next = Math.max(now, this.next) + 1000 / this.perSecond
    return true
  }

  /** ms until the next request may go (0: now) */
  msUntilNext(): number {
    return Math.max(0, this.next - Date.now())
  }
}
