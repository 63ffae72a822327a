/**
 * A bug of this node while the state downloads (a TypeError applying a reply, or in the code that
 * sends a request) is no fault of the peer: no peer is dropped for it, and the run stops with the
 * error itself, which phase 1 logs with its stack and retries after a growing delay.
 */
import { strict as assert } from 'node:assert'

import sinon from 'sinon'

import { AccountRanges } from '../../../src/sync/work/accounts.js'

import { FakeSnapPeer } from '../fakepeer.js'
import { buildFakeState } from '../fakestate.js'
import { SyncRun } from '../syncrun.js'

import type { FakeState } from '../fakestate.js'

/** What a bug looks like: an unexpected TypeError deep in this node's code */
const bug = () => new TypeError("Cannot read properties of undefined (reading 'length')")

describe('[StateSync] a bug of this node', function () {
  this.timeout(20_000)
  let s: FakeState
  before(async () => {
    s = await buildFakeState({ accounts: 200, contracts: 10, slots: 4, seed: 5 })
  })
  afterEach(() => sinon.restore())

  const cases: { name: string; inject: (peer: FakeSnapPeer) => void }[] = [
    {
      name: 'applying a reply',
      inject: () => {
        const apply = AccountRanges.prototype.apply
        let once = true
        sinon.stub(AccountRanges.prototype, 'apply').callsFake(function (this: AccountRanges, ...args) {
          if (!once) return apply.apply(this, args)
          once = false
          return Promise.reject(bug())
        })
      },
    },
    {
      name: 'sending a request',
      inject: (peer) => {
        sinon.stub(peer, 'getAccountRange').rejects(bug())
      },
    },
  ]
  for (const c of cases) {
    it(`${c.name}: no peer is dropped, the run stops with the error`, async () => {
      const peer = new FakeSnapPeer(s, { id: 'honest' })
      c.inject(peer)
      // Were the peer dropped, the sync would wait for peers: the run is ended there
      const run = new SyncRun(s, [peer], { onWaiting: (_, r) => r.abort.abort() })
      const err = await run.run().then(
        () => undefined,
        (e: unknown) => e,
      )
      assert.deepEqual(run.drops, [], 'no peer blamed for a bug of this node')
      assert.ok(err instanceof TypeError, `the run ended with ${String(err)}`)
    })
  }

  it('a peer that disconnects is not a bug: the run goes on with the peers left', async () => {
    const leaving = new FakeSnapPeer(s, { id: 'leaving' })
    const staying = new FakeSnapPeer(s, { id: 'staying', behaviour: 'slow', slowMs: 2 })
    const run = new SyncRun(s, [leaving, staying])
    void leaving.when((p) => p.received.length > 0).then(() => run.source.leave(leaving))
    await run.complete()
    assert.deepEqual(run.drops, [])
  })
})
