/**
 * The client's `Fetcher` (the block pipeline's base): a job held back because `maxQueue` results wait
 * to be stored starts as soon as the writer has stored one, not at the fetcher's next poll. The stock
 * fetcher only polled, every `interval` (8 s for the block pipeline): while a snap download shared the
 * CPU, storing 100 blocks took seconds and the pipeline stood still for the rest of each interval.
 */
import { strict as assert } from 'node:assert'

import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { Fetcher } from '@ethereumjs/client/dist/esm/src/sync/fetcher/fetcher.js'

import type { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'
import type { PeerPool } from '@ethereumjs/client/dist/esm/src/net/peerpool.js'
import type { Job } from '@ethereumjs/client/dist/esm/src/sync/fetcher/types.js'

/**
 * Longer than the test waits: a job that waits for the poll makes it fail. Short enough that the
 * fetcher's last poll timer (it cannot be cancelled) ends soon after the test
 */
const POLL_MS = 3_000
const STORE_MS = 20

/** Numbered tasks answered at once by the one peer, each stored after STORE_MS */
class NumberFetcher extends Fetcher<number, number[], number> {
  readonly stored: number[] = []
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

describe('[Fetcher] a job held back by a full queue', function () {

  it('starts when the writer has stored a result, without waiting for the next poll', async () => {
    const peer = { id: 'p', idle: true } as unknown as Peer
    const pool = { idle: () => (peer.idle ? peer : undefined), peers: [peer] } as unknown as PeerPool
    const fetcher = new NumberFetcher(pool, 8)
    // The fetch itself ends one poll after its last job (stock behaviour): the stored results are watched
    void fetcher.fetch()
    try {
      for (let waited = 0; fetcher.stored.length < 8 && waited < 1_500; waited += 10) await new Promise((r) => setTimeout(r, 10))
      assert.deepEqual(fetcher.stored, [0, 1, 2, 3, 4, 5, 6, 7], 'every result stored within 1.5 s, a poll being 3 s')
    } finally {
      fetcher.stop()
      fetcher.destroy()
    }
  })
})
