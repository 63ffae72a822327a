import { strict as assert } from 'node:assert'

import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'
import { aimAtOtherRoot, tell } from '../helpers/lies.js'
import { verifyRange } from '../server/fixtures.js'

import { buildFakeState, evolveFakeState } from './fakestate.js'
import { FakeSnapPeer, fakePeers } from './fakepeer.js'
import { SyncRun, healOnlyTasks, joinWhenAlone } from './syncrun.js'

import type { FakeState } from './fakestate.js'
import type { BehaviourPlan, SnapKind } from './fakepeer.js'
import type { DropReason } from '../../src/sync/peers/snappeer.js'
import type { GetAccountRangeRequest } from '../../src/wire/messages.js'

const ZERO = new Uint8Array(32)
const MAX = new Uint8Array(32).fill(0xff)

/**
 * `otherRoot`: a peer that answers for another state it holds (the pivot's ancestor, as a real
 * lying process answers from its genesis state). Its replies are well-formed and carry valid proofs,
 * of the wrong root: the syncer must check them against the root it asked for.
 */
describe('[lies] otherRoot: answers for another state root', function () {
  this.timeout(20_000)
  let older: FakeState
  let s: FakeState

  before(async () => {
    older = await buildFakeState()
    // Every large contract's storage changes too, so storage replies for the older root are wrong
    s = await evolveFakeState(older, { balances: 20, slots: 40, newAccounts: 5 })
  })

  it("the reply is the older state's, proven against the older root", async () => {
    const req: GetAccountRangeRequest = {
      kind: 'GetAccountRange',
      reqId: 1n,
      root: s.root,
      origin: ZERO,
      limit: MAX,
      bytes: 4096n,
    }
    const told = await tell('otherRoot', req, DEFAULT_SERVE_LIMITS, {
      view: s.view,
      codes: s.codes,
      otherRoot: older.root,
    })
    assert.equal(told.kind, 'accounts')
    if (told.kind !== 'accounts') return
    const hashes = told.reply.accounts.map((a) => a.hash)
    assert.ok(hashes.length > 0)
    const bodies = told.reply.accounts.map((a) => older.account(a.hash)!.full)
    await verifyRange(older.root, ZERO, hashes, bodies, told.reply.proof)
    await assert.rejects(verifyRange(s.root, ZERO, hashes, bodies, told.reply.proof))
  })

  it('no other root, the asked root itself, or a root it does not serve: answered as is', () => {
    const req: GetAccountRangeRequest = {
      kind: 'GetAccountRange',
      reqId: 1n,
      root: s.root,
      origin: ZERO,
      limit: MAX,
      bytes: 4096n,
    }
    assert.equal(aimAtOtherRoot(req, s.view, undefined).req, req)
    assert.equal(aimAtOtherRoot(req, s.view, s.root).req, req)
    const unserved = { ...req, root: new Uint8Array(32).fill(7) }
    assert.equal(aimAtOtherRoot(unserved, s.view, older.root).req, unserved)
  })

  const cases: { plan: BehaviourPlan; kind: SnapKind; drop: DropReason; heal?: boolean }[] = [
    { plan: 'otherRoot', kind: 'accounts', drop: 'invalid_proof' },
    { plan: { storage: 'otherRoot' }, kind: 'storage', drop: 'invalid_proof' },
    { plan: { nodes: 'otherRoot' }, kind: 'nodes', drop: 'bad_node', heal: true },
  ]
  for (const c of cases) {
    it(
      `${c.kind}${c.heal === true ? ' (healing)' : ''}: the peer is dropped (${c.drop}), ` +
        `the state completes from an honest one`,
      async () => {
        const [liar] = fakePeers(s, [c.plan], { otherRoot: older.root })
        const honest = new FakeSnapPeer(s, { id: 'joins' })
        // Alone, the liar is sure to be asked for its kind; the honest peer joins once it is dropped
        const run = new SyncRun(s, [liar], {
          tasks: c.heal === true ? healOnlyTasks() : undefined,
          onWaiting: joinWhenAlone(honest),
        })
        await run.complete()
        assert.ok(liar.stats[c.kind].replies > 0, JSON.stringify(liar.stats))
        assert.equal(run.source.reasonsFor(liar.id)[0], c.drop, JSON.stringify(run.source.dropped))
        assert.deepEqual(run.source.reasonsFor(honest.id), [])
      },
    )
  }

  it('beside an honest peer: dropped (invalid_proof), the state completes', async () => {
    const [liar, honest] = fakePeers(s, ['otherRoot', 'honest'], { otherRoot: older.root })
    const run = new SyncRun(s, [liar, honest])
    await run.complete()
    assert.equal(run.source.reasonsFor(liar.id)[0], 'invalid_proof', JSON.stringify(run.source.dropped))
    assert.deepEqual(run.source.reasonsFor(honest.id), [])
  })
})
