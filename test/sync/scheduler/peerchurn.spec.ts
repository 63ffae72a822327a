/**
 * The state sync with peers that leave and come back, and with a slow peer beside a fast one: what
 * the integration specs (integration/peerfaults.spec.ts) saw with real processes, in memory.
 */
import { strict as assert } from 'node:assert'

import { buildFakeState } from '../fakestate.js'
import { FakeSnapPeer } from '../fakepeer.js'
import { SyncRun } from '../syncrun.js'

import type { FakeState } from '../fakestate.js'
import type { RequestFields } from '../../../src/sync/peers/snappeer.js'
import type {
  GetAccountRangeRequest,
  GetByteCodesRequest,
  GetStorageRangesRequest,
  GetTrieNodesRequest,
} from '../../../src/wire/messages.js'

/** Counts its requests in flight, and the most it had before its first reply */
class ConcurrencyPeer extends FakeSnapPeer {
  now = 0
  maxBeforeFirstReply = 0
  private replied = false

  override getAccountRange(req: RequestFields<GetAccountRangeRequest>, timeoutMs: number) {
    return this.track(super.getAccountRange(req, timeoutMs))
  }

  override getStorageRanges(req: RequestFields<GetStorageRangesRequest>, timeoutMs: number) {
    return this.track(super.getStorageRanges(req, timeoutMs))
  }

  override getByteCodes(req: RequestFields<GetByteCodesRequest>, timeoutMs: number) {
    return this.track(super.getByteCodes(req, timeoutMs))
  }

  override getTrieNodes(req: RequestFields<GetTrieNodesRequest>, timeoutMs: number) {
    return this.track(super.getTrieNodes(req, timeoutMs))
  }

  private async track<T>(call: Promise<T>): Promise<T> {
    this.now++
    if (!this.replied) this.maxBeforeFirstReply = Math.max(this.maxBeforeFirstReply, this.now)
    try {
      const reply = await call
      this.replied = true
      return reply
    } finally {
      this.now--
    }
  }
}

describe('[StateSync] peers that leave, come back, or are slow', function () {
  this.timeout(20_000)
  let s: FakeState
  before(async () => {
    s = await buildFakeState()
  })

  it(
    'a peer that disconnects with requests in flight is not dropped; ' + 'the sync waits and ends when it is back',
    async () => {
      const first = new FakeSnapPeer(s, { id: 'only', behaviour: 'slow', slowMs: 5 })
      // The same peer after its restart: a new connection under the same id
      const again = new FakeSnapPeer(s, { id: 'only' })
      let left = false
      const run = new SyncRun(s, [first], {
        onPersist: (r) => {
          // Midway, with requests in flight: the peer goes away, and all its requests fail at once (how
          // many are in flight at a persist is up to timing; any one is enough)
          if (
            !left &&
            first.stats.storage.replies + first.stats.accounts.replies >= 2 &&
            r.sync.tracker.get('only')!.inFlight >= 1
          ) {
            left = true
            // On a timer: it happens while the scheduler waits for replies, as a real disconnect does
            setTimeout(() => r.source.leave(first), 1)
          }
        },
        onWaiting: (_, r) => {
          if (left && r.source.peers().length === 0) r.source.add(again)
        },
      })
      await run.complete()
      assert.ok(left, `the peer left midway ${JSON.stringify(run.drops)} ${JSON.stringify(first.stats)}`)
      assert.deepEqual(run.drops, [], 'not dropped')
      assert.deepEqual(run.source.dropped, [], 'not banned')
      assert.ok(run.waits.includes('no snap peers connected'), `waits: ${run.waits.join('; ')}`)
      assert.ok(again.stats.accounts.replies + again.stats.storage.replies > 0, 'the returning peer finished the work')
    },
  )

  it(
    'a slow peer beside a fast one: one request until it has answered, ' + 'no timeout, most work from the fast one',
    async () => {
      const fast = new ConcurrencyPeer(s, { id: 'fast' })
      // Under the first timeout (200 ms in these tests), far slower than the fast peer
      const slow = new ConcurrencyPeer(s, { id: 'slow', behaviour: 'slow', slowMs: 120 })
      const run = new SyncRun(s, [slow, fast], { accountTasks: 8 })
      await run.complete()
      assert.equal(slow.maxBeforeFirstReply, 1, 'a probe first')
      assert.deepEqual(run.drops, [])
      const items = (p: FakeSnapPeer) => Object.values(p.stats).reduce((n, k) => n + k.items, 0)
      assert.ok(items(fast) > 2 * items(slow), `fast ${items(fast)} items, slow ${items(slow)}`)
    },
  )
})
