/**
 * `--snapRequestRate`: at most N snap requests a second from this node, over all peers. Requests are
 * spaced evenly (no burst), so a polite sync never hits a peer with a volley. A request waits here
 * before it is sent: its timeout starts when it leaves. The waiters are bounded by the scheduler's
 * requests in flight per peer.
 */
export class RequestRate {
  private next = 0

  /** `perSecond` > 0 */
  constructor(readonly perSecond: number) {
    if (!(perSecond > 0)) throw new Error(`request rate must be positive, got ${perSecond}`)
  }

  /** Resolves when the next request may go */
  async take(): Promise<void> {
    const now = Date.now()
    const at = Math.max(now, this.next)
    this.next = at + 1000 / this.perSecond
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now))
  }
}
