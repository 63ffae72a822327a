/**
 * The tail of a sync: an idle fast peer is asked for a copy of the work a much slower peer holds, so
 * that the sync does not end at the pace of the slow peer's last round trip (see StateSync).
 */
import { strict as assert } from 'node:assert'

import sinon from 'sinon'

import { RequestTimeoutError } from '../../src/wire/requester.js'

import { buildFakeState } from './fakestate.js'
import { FakeSnapPeer } from './fakepeer.js'
import { SyncRun, healOnlyTasks, requestsOf } from './syncrun.js'

import type { SnapKind } from './fakepeer.js'
import type { FakeState } from './fakestate.js'

const KINDS: readonly SnapKind[] = ['accounts', 'storage', 'codes', 'nodes']

/** The slow peer answers after this long; its timeouts are longer, so it is never dropped */
const SLOW_MS = 8_000
const TRACKER = { minTimeoutMs: 10_000, maxTimeoutMs: 20_000 }

const repliesOf = (peer: FakeSnapPeer): number => KINDS.reduce((n, k) => n + peer.stats[k].replies, 0)

describe('[StateSync] tail', function () {
  this.timeout(30_000)
  let s: FakeState
  before(async () => {
    s = await buildFakeState()
  })

  const phases = [
    { name: 'ranges', tasks: undefined },
    { name: 'completion from the root', tasks: healOnlyTasks },
  ]
  for (const c of phases) {
    it(`${c.name}: the sync ends before the slow peer's first reply, its work copied to the fast peer`, async () => {
      const fast = new FakeSnapPeer(s, { id: 'fast' })
      const slow = new FakeSnapPeer(s, { id: 'slow', behaviour: 'slow', slowMs: SLOW_MS })
      const run = new SyncRun(s, [fast, slow], { tracker: TRACKER, tasks: c.tasks?.() })
      try {
        await run.complete()
        assert.ok(requestsOf(slow) > 0, 'the slow peer was asked')
        assert.equal(repliesOf(slow), 0, 'no reply of the slow peer was waited for')
        assert.ok(run.counters.hedgedRequests >= 1, 'its work was copied')
        assert.ok(run.counters.hedgedRequests <= requestsOf(slow), 'one copy per piece of work at most')
        assert.deepEqual(run.drops, [])
      } finally {
        slow.disconnect()
      }
    })
  }

  it("a copy that fails leaves the work to its first peer: not put back, applied once from the slow peer's reply", async () => {
    const fast = new FakeSnapPeer(s, { id: 'fast' })
    const slow = new FakeSnapPeer(s, { id: 'slow', behaviour: 'slow', slowMs: 1_000 })
    // Every copy of the slow peer's work fails on the fast peer as if it had timed out
    const copies: string[] = []
    const realFetch = fast.getAccountRange.bind(fast)
    sinon.stub(fast, 'getAccountRange').callsFake((req, timeoutMs) => {
      const held = slow.received.some((r) => r.kind === 'GetAccountRange' && Buffer.from(r.origin).equals(Buffer.from(req.origin)))
      if (!held) return realFetch(req, timeoutMs)
      copies.push(Buffer.from(req.origin).toString('hex'))
      return Promise.reject(new RequestTimeoutError(`GetAccountRange: no reply in ${timeoutMs} ms`))
    })
    const run = new SyncRun(s, [fast, slow], { tracker: TRACKER })
    try {
      await run.complete()
      assert.ok(copies.length >= 1, 'a copy was asked')
      assert.equal(new Set(copies).size, copies.length, 'each piece of work copied once')
      assert.ok(slow.stats.accounts.replies >= 1, "the slow peer's reply was applied")
      assert.deepEqual(run.drops, [], 'one timeout does not drop the fast peer')
    } finally {
      slow.disconnect()
    }
  })
})
