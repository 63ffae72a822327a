/**
 * The client's `Fetcher` (the block pipeline's base): a job held back because `maxQueue` results wait
 * to be stored starts as soon as the writer has stored one, not at the fetcher's next poll. The stock
 * fetcher only polled, every `interval` (8 s for the block pipeline): while a snap download shared the
 * CPU, storing 100 blocks took seconds and the pipeline stood still for the rest of each interval.
 */
import { strict as assert } from 'node:assert'

import sinon from 'sinon'

import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { Fetcher } from '@ethereumjs/client/dist/esm/src/sync/fetcher/fetcher.js'

import type { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'
import type { PeerPool } from '@ethereumjs/client/dist/esm/src/net/peerpool.js'
import type { Job } from '@ethereumjs/client/dist/esm/src/sync/fetcher/types.js'

/**
 * Far longer than the stores take: the test runs on a fake clock that it moves one store at a time,
 * never as far as a poll, so a job that waits for the poll is never started
 */
const POLL_MS = 3_000
const STORE_MS = 20
const TASKS = 8

/** Numbered tasks answered at once by the one peer, each stored after STORE_MS */
class NumberFetcher extends Fetcher<number, number[], number> {
  readonly stored: number[] = []
  /** Polls that ended (the fetcher's `wait`): each may have started a job */
  pollsEnded = 0
  private enqueued = false

  constructor(
    pool: PeerPool,
    private readonly count: number,
  ) {
    super({ config: new Config({ accountCache: 1000, storageCache: 1000 }), pool, interval: POLL_MS, maxQueue: 1 })
  }

  override tasks(): number[] {
    return Array.from({ length: this.count }, (_, i) => i)
  }

  // Called again whenever the fetcher looks for work: the tasks are enqueued once
  override nextTasks(): void {
    if (this.enqueued) return
    this.enqueued = true
    for (const task of this.tasks()) this.enqueueTask(task)
  }

  async request(job?: Job<number, number[], number>): Promise<number[]> {
    return [job!.task]
  }

  process(_job?: Job<number, number[], number>, result?: number[]): number[] {
    return result!
  }

  async store(result: number[]): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, STORE_MS))
    this.stored.push(...result)
  }

  // The poll, counted
  override async wait(delay?: number): Promise<void> {
    await super.wait(delay)
    this.pollsEnded++
  }

  jobStr(job: Job<number, number[], number>): string {
    return `task ${job.task}`
  }

  processStoreError(): { destroyFetcher: boolean; banPeer: boolean; stepBack: bigint } {
    return { destroyFetcher: true, banPeer: false, stepBack: 0n }
  }

  // The poll, stopped so that a failing run leaves no timer behind
  stop(): void {
    this.running = false
  }
}

describe('[Fetcher] a job held back by a full queue', () => {
  it('starts when the writer has stored a result, without waiting for the next poll', async () => {
    // The fetcher's timers (its poll, the stores) run on a fake clock, which only the test moves
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const peer = { id: 'p', idle: true } as unknown as Peer
    const pool = { idle: () => (peer.idle ? peer : undefined), peers: [peer] } as unknown as PeerPool
    const fetcher = new NumberFetcher(pool, TASKS)
    // The fetch itself ends one poll after its last job (stock behaviour): the stored results are watched
    void fetcher.fetch()
    try {
      // One store's time per step, TASKS steps at most: far short of a poll, so each job held back
      // by the full queue can only have been started by a store
      for (let step = 0; step < TASKS && fetcher.stored.length < TASKS; step++) await clock.tickAsync(STORE_MS)
      const why = `stored after ${clock.now} ms of stores, no poll (${POLL_MS} ms) having come`
      assert.deepEqual(fetcher.stored, [0, 1, 2, 3, 4, 5, 6, 7], why)
      assert.equal(fetcher.pollsEnded, 0)
    } finally {
      fetcher.stop()
      fetcher.destroy()
      clock.restore()
    }
  })
})
