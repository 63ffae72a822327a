/**
 * Bounded, fair execution of serving work: at most `maxConcurrent` requests run at once, at most
 * `maxConcurrentPerPeer` of them for one peer, peers take turns (round robin), and a peer's
 * waiting requests are capped, so a flood from one peer neither grows memory nor starves others.
 */
import type { ServeLimits } from '../wire/constants.js'

type Limits = Pick<ServeLimits, 'maxConcurrent' | 'maxConcurrentPerPeer' | 'maxQueuedPerPeer'>

interface Job {
  run(): Promise<void>
  /** Settles the job's result with `undefined` without running it */
  cancel(): void
}

interface PeerQueue {
  running: number
  /** Sequence number of this peer's last started job: the least recently served peer goes next */
  lastStart: number
  readonly waiting: Job[]
}

/**
 * Runs serving jobs under the concurrency caps: a few at once in total and per peer, peers taken
 * in turn (least recently served first), a bounded queue per peer beyond which jobs are refused.
 */
export class ServeScheduler {
  private readonly peers = new Map<string, PeerQueue>()
  private running = 0
  private starts = 0

  constructor(private readonly limits: Limits) {}

  /** Requests running now, all peers */
  get active(): number {
    return this.running
  }

  /**
   * Queues `task` for `peerId`. Returns its result (`undefined` if the peer is dropped before the
   * task starts), or `undefined` at once when the peer already has `maxQueuedPerPeer` requests
   * waiting (the request is dropped).
   */
  submit<T>(peerId: string, task: () => Promise<T>): Promise<T | undefined> | undefined {
    const peer = this.peers.get(peerId) ?? { running: 0, lastStart: -1, waiting: [] }
    if (peer.waiting.length >= this.limits.maxQueuedPerPeer) return undefined
    this.peers.set(peerId, peer)
    const result = new Promise<T | undefined>((resolve, reject) => {
      peer.waiting.push({ run: () => task().then(resolve, reject), cancel: () => resolve(undefined) })
    })
    this.pump()
    return result
  }

  /** Forgets the waiting jobs of a peer that went away (running ones finish); they settle `undefined` */
  dropPeer(peerId: string): void {
    const peer = this.peers.get(peerId)
    if (peer === undefined) return
    for (const job of peer.waiting.splice(0)) job.cancel()
    if (peer.running === 0) this.peers.delete(peerId)
  }

  private pump(): void {
    while (this.running < this.limits.maxConcurrent) {
      const next = this.next()
      if (next === undefined) return
      const [id, peer] = next
      // next() names only a peer with a request waiting
      const job = peer.waiting.shift()
      if (job === undefined) return
      peer.lastStart = this.starts++
      this.start(id, peer, job)
    }
  }

  /** The least recently served peer that has a job waiting and a free slot */
  private next(): [string, PeerQueue] | undefined {
    let best: [string, PeerQueue] | undefined
    for (const entry of this.peers) {
      const peer = entry[1]
      if (peer.waiting.length === 0 || peer.running >= this.limits.maxConcurrentPerPeer) continue
      if (best === undefined || peer.lastStart < best[1].lastStart) best = entry
    }
    return best
  }

  private start(id: string, peer: PeerQueue, job: Job): void {
    this.running++
    peer.running++
    void job.run().finally(() => {
      this.running--
      peer.running--
      // A peer is forgotten when idle; its turn history goes with it, which is fine: the
      // map stays as small as the set of peers with work
      if (peer.running === 0 && peer.waiting.length === 0) this.peers.delete(id)
      this.pump()
    })
  }
}
