/**
 * The state sync with peers that leave and come back, and with a slow peer beside a fast one: what
 * the integration specs (integration/peerfaults.spec.ts) saw with real processes, in memory.
 */
import { strict as assert } from 'node:assert'

import { buildFakeState } from '../fakestate.js'
import { FakeSnapPeer } from '../fakepeer.js'
import { SyncRun, joinWhenKept } from '../syncrun.js'

import type { FakeState } from '../fakestate.js'
import type { RequestFields } from '../../../src/sync/peers/snappeer.js'
import type {
  GetAccountRangeRequest,
  GetByteCodesRequest,
  GetStorageRangesRequest,
  GetTrieNodesRequest,
} from '../../../src/wire/messages.js'

/** Counts its requests in flight, and the most it had before its first reply; records each request's timeout */
class ConcurrencyPeer extends FakeSnapPeer {
  now = 0
  maxBeforeFirstReply = 0
  /** The most it had in flight at once */
  max = 0
  readonly timeouts: number[] = []
  private replied = false

  override getAccountRange(req: RequestFields<GetAccountRangeRequest>, timeoutMs: number) {
    return this.track(super.getAccountRange(req, timeoutMs), timeoutMs)
  }

  override getStorageRanges(req: RequestFields<GetStorageRangesRequest>, timeoutMs: number) {
    return this.track(super.getStorageRanges(req, timeoutMs), timeoutMs)
  }

  override getByteCodes(req: RequestFields<GetByteCodesRequest>, timeoutMs: number) {
    return this.track(super.getByteCodes(req, timeoutMs), timeoutMs)
  }

  override getTrieNodes(req: RequestFields<GetTrieNodesRequest>, timeoutMs: number) {
    return this.track(super.getTrieNodes(req, timeoutMs), timeoutMs)
  }

  private async track<T>(call: Promise<T>, timeoutMs: number): Promise<T> {
    this.timeouts.push(timeoutMs)
    this.now++
    this.max = Math.max(this.max, this.now)
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

  describe('the only peer with the state, when it times out (issue 23 item 11)', () => {
    it('slower than its first timeout: kept, asked again with more time, and the sync ends from it', async () => {
      // Its replies take 250 ms: past the first request's timeout (200 ms), within the doubled one
      const only = new ConcurrencyPeer(s, { id: 'only', behaviour: 'slow', slowMs: 250 })
      const run = new SyncRun(s, [only])
      await run.complete()
      assert.deepEqual(run.drops, [], 'the only peer was dropped for a slow reply')
      assert.deepEqual(run.source.dropped, [])
      assert.equal(run.kept.length, 1, JSON.stringify(run.kept))
      assert.match(run.kept[0].detail, /^accounts: 1 timeouts in a row; kept, the only peer with the state: /)
      assert.deepEqual(only.timeouts.slice(0, 2), [200, 400])
    })

    it('silent: kept, one request at a time, each timeout twice the last; a peer that joins ends it', async () => {
      const silent = new ConcurrencyPeer(s, { id: 'silent', behaviour: 'silent' })
      const joins = new FakeSnapPeer(s, { id: 'joins' })
      const run = new SyncRun(s, [silent], { onKept: joinWhenKept(joins, 3) })
      await run.complete()
      // Kept while alone only: once a peer has joined, its next timeout drops it (if the sync lasts that long)
      assert.deepEqual(
        run.kept.map((k) => k.id),
        ['silent', 'silent', 'silent'],
      )
      assert.deepEqual(run.source.reasonsFor(joins.id), [])
      assert.equal(silent.max, 1)
      assert.deepEqual(silent.timeouts.slice(0, 3), [200, 400, 800])
    })
  })
})
