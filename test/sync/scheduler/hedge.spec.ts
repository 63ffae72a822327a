/**
 * Hedged requests at the tail of a sync: an idle fast peer is asked for the work a much slower peer holds, so
 * that the sync does not end at the pace of the slow peer's last round trip (see StateSync).
 */
import { strict as assert } from 'node:assert'

import sinon from 'sinon'

import { RequestTimeoutError } from '../../../src/wire/requester.js'

import { buildFakeState } from '../fakestate.js'
import { FakeSnapPeer } from '../fakepeer.js'
import { SyncRun, healOnlyTasks, requestsOf } from '../syncrun.js'

import type { SnapKind } from '../fakepeer.js'
import type { FakeState } from '../fakestate.js'

const KINDS: readonly SnapKind[] = ['accounts', 'storage', 'codes', 'nodes']

/** The slow peer answers after this long; its timeouts are longer, so it is never dropped */
const SLOW_MS = 8_000
const TRACKER = { minTimeoutMs: 10_000, maxTimeoutMs: 20_000 }

const repliesOf = (peer: FakeSnapPeer): number => KINDS.reduce((n, k) => n + peer.stats[k].replies, 0)

/**
 * A peer that answers its first request at once (the syncer then knows its rate) and every later one
 * after `slowMs`: the work of a peer that never answered is not hedged (see StateSync.hedge)
 */
function slowAfterFirstReply(s: FakeState, slowMs: number, onFirstReply?: () => void): FakeSnapPeer {
  const peer = new FakeSnapPeer(s, { id: 'slow', behaviour: 'slow' })
  // The fake reads its delay once per request it answers
  let answered = 0
  Object.defineProperty(peer, 'slowMs', {
    get: () => {
      if (answered++ > 0) return slowMs
      if (onFirstReply !== undefined) setImmediate(onFirstReply)
      return 0
    },
  })
  return peer
}

describe('[StateSync] hedged requests', function () {
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
    it(
      `${c.name}: the sync does not wait ` +
        `for the slow peer's slow replies: ` +
        `its work is hedged by the fast peer`,
      async () => {
        // The fast peer joins once the slow one has answered its first request, so that the slow one
        // holds work of every wave (each a few requests in the completion of this small state)
        const fast = new FakeSnapPeer(s, { id: 'fast' })
        const slow = slowAfterFirstReply(s, SLOW_MS, () => run.source.add(fast))
        const run: SyncRun = new SyncRun(s, [slow], { tracker: TRACKER, tasks: c.tasks?.() })
        try {
          await run.complete()
          assert.ok(requestsOf(slow) > 1, 'the slow peer was asked once slow')
          assert.equal(repliesOf(slow), 1, 'no reply of the slow peer was waited for but its first')
          assert.ok(run.counters.hedgedRequests >= 1, 'its work was hedged')
          assert.ok(run.counters.hedgedRequests <= requestsOf(slow), 'one hedge per piece of work at most')
          assert.deepEqual(run.drops, [])
        } finally {
          slow.disconnect()
        }
      },
    )
  }

  it(
    'the work of a peer that has not answered yet is not hedged: ' + 'a silent newcomer is dropped, not outrun',
    async () => {
      const fast = new FakeSnapPeer(s, { id: 'fast' })
      const silent = new FakeSnapPeer(s, { id: 'silent', behaviour: 'silent' })
      // Short timeouts: the silent peer's probe times out within the run
      const run = new SyncRun(s, [fast, silent])
      await run.complete()
      assert.equal(run.counters.hedgedRequests, 0)
      assert.deepEqual(run.source.reasonsFor(silent.id), ['timeout'])
    },
  )

  it(
    'a liar whose work was hedged is still dropped when its reply loses the race: ' + "the loser's reply is verified",
    async () => {
      // The fast peer's replies come after a short delay: the sync still runs when a held reply is let go
      const fast = new FakeSnapPeer(s, { id: 'fast', behaviour: 'slow', slowMs: 20 })
      const liar = new FakeSnapPeer(s, { id: 'liar', behaviour: { accounts: 'corrupt' } })
      // Answers the liar's first range honestly, so that it is measured (a first request is not hedged)
      const twin = new FakeSnapPeer(s, { id: 'twin' })
      // Each held reply of the liar, let go as the fast peer answers its hedge of the same request
      const held = new Map<string, () => void>()
      const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
      const realFast = fast.getAccountRange.bind(fast)
      sinon.stub(fast, 'getAccountRange').callsFake(async (req, timeoutMs) => {
        const reply = await realFast(req, timeoutMs)
        held.get(hex(req.origin))?.()
        return reply
      })
      // Every later (corrupt) range of the liar reaches the syncer right after the fast peer's hedge
      let asked = 0
      const realLiar = liar.getAccountRange.bind(liar)
      sinon.stub(liar, 'getAccountRange').callsFake(async (req, timeoutMs) => {
        if (asked++ === 0) {
          const reply = await twin.getAccountRange(req, timeoutMs)
          run.source.add(fast)
          return reply
        }
        const released = new Promise<void>((resolve) => held.set(hex(req.origin), resolve))
        const reply = await realLiar(req, timeoutMs)
        await released
        return reply
      })
      const run: SyncRun = new SyncRun(s, [liar], { tracker: TRACKER })
      try {
        await run.complete()
        assert.ok(run.counters.hedgedRequests >= 1, "the liar's work was hedged")
        assert.deepEqual(
          run.drops.map((d) => d.id),
          ['liar'],
        )
        assert.notEqual(run.drops[0].reason, 'timeout', 'dropped for what it sent')
      } finally {
        liar.disconnect()
      }
    },
  )

  it(
    'a hedge that fails leaves the work to its first peer: ' + "not put back, applied once from the slow peer's reply",
    async () => {
      const fast = new FakeSnapPeer(s, { id: 'fast' })
      const slow = slowAfterFirstReply(s, 1_000, () => run.source.add(fast))
      // Every hedge of the slow peer's work fails on the fast peer as if it had timed out
      const hedges: string[] = []
      const realFetch = fast.getAccountRange.bind(fast)
      sinon.stub(fast, 'getAccountRange').callsFake((req, timeoutMs) => {
        const held = slow.received.some(
          (r) => r.kind === 'GetAccountRange' && Buffer.from(r.origin).equals(Buffer.from(req.origin)),
        )
        if (!held) return realFetch(req, timeoutMs)
        hedges.push(Buffer.from(req.origin).toString('hex'))
        return Promise.reject(new RequestTimeoutError(`GetAccountRange: no reply in ${timeoutMs} ms`))
      })
      const run: SyncRun = new SyncRun(s, [slow], { tracker: TRACKER })
      try {
        await run.complete()
        assert.ok(hedges.length >= 1, 'a hedge was asked')
        assert.equal(new Set(hedges).size, hedges.length, 'each piece of work hedged once')
        assert.ok(repliesOf(slow) > 1, 'a slow reply of the slow peer was applied')
        assert.deepEqual(run.drops, [], 'one timeout does not drop the fast peer')
      } finally {
        slow.disconnect()
      }
    },
  )
})
