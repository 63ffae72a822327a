import { strict as assert } from 'node:assert'

import { equalsBytes } from '@ethereumjs/util'

import { classify } from '../../../src/sync/peers/faults.js'
import { StorageRanges } from '../../../src/sync/work/storage.js'
import { splitLargeStorage } from '../../../src/sync/work/storagequeue.js'

import { UNUSED_NODE } from '../../helpers/lies.js'
import { buildFakeState, evolveFakeState } from '../fakestate.js'
import { FakeSnapPeer } from '../fakepeer.js'
import { SyncRun, joinWhenAlone } from '../syncrun.js'

import type { Failure } from '../../../src/sync/peers/faults.js'
import type { RequestFields } from '../../../src/sync/peers/snappeer.js'
import type { StorageWork } from '../../../src/sync/work/storage.js'
import type { StorageOwner } from '../../../src/sync/work/storagequeue.js'
import type { FakeAccount, FakeState } from '../fakestate.js'
import type { BehaviourPlan } from '../fakepeer.js'
import type { GetStorageRangesRequest, StorageRangesReply } from '../../../src/wire/messages.js'

const BYTES = 16 * 1024
const TIMEOUT_MS = 2_000

/** An owner of `account`'s storage as read under a state of `generation`, recording its callbacks */
function owner(account: FakeAccount, generation: number): StorageOwner & { calls: string[] } {
  const calls: string[] = []
  return {
    account: account.hash,
    root: account.body.storageRoot,
    generation,
    calls,
    onStored: () => calls.push('stored'),
    onChanged: () => calls.push('changed'),
  }
}

/**
 * The storage kind of a sync of `state`'s root whose pivot moved `moves` times, with one peer of `plan`
 * over `state`, and the work of `o`'s whole trie (or of its first sub-range, past its first `split` slots)
 */
function storageKind(state: FakeState, moves: number, plan: BehaviourPlan, o: StorageOwner, split?: number) {
  const peer = new FakeSnapPeer(state, { behaviour: plan })
  const { ctx } = new SyncRun(state, [peer]).sync
  ctx.generation = moves
  if (split === undefined) ctx.storage.add(o)
  else {
    const slots = state.account(o.account)?.slots ?? []
    ctx.storage.addLarge(splitLargeStorage(o, slots[split - 1].hash, split))
  }
  const kind = new StorageRanges(ctx)
  const work = kind.pick(1) as StorageWork
  assert.equal(work.kind, split === undefined ? 'whole' : 'subrange')
  return { peer, ctx, kind, work }
}

/** What the scheduler makes of a rejection; `o`'s callbacks are named when the reply was accepted */
async function failureOf(p: Promise<unknown>, o: { calls: string[] }): Promise<Failure> {
  try {
    await p
  } catch (err) {
    return classify(err)
  }
  return assert.fail(`resolved: the reply was accepted; its owner was told [${o.calls.join(', ')}]`)
}

/** Answers every storage request with its proof (or one unused node) and no slot list */
class ProofOnlyPeer extends FakeSnapPeer {
  override async getStorageRanges(
    req: RequestFields<GetStorageRangesRequest>,
    timeoutMs: number,
  ): Promise<StorageRangesReply> {
    const { proof } = await super.getStorageRanges(req, timeoutMs)
    return { slots: [], proof: proof.length > 0 ? proof : [UNUSED_NODE] }
  }
}

describe('[StorageRanges]', function () {
  this.timeout(20_000)
  let base: FakeState
  let next: FakeState
  /** Contracts whose storage is the same in both states, and one whose storage changed */
  let same: FakeAccount[]
  let changed: FakeAccount
  let large: FakeAccount

  before(async () => {
    base = await buildFakeState({ accounts: 20, contracts: 8, slots: 8, largeContracts: 1, largeSlots: 600 })
    next = await evolveFakeState(base, { balances: 0, slots: 2, newAccounts: 0 })
    // The peers serve the new root only: the old one is gone, as after a pivot move
    const moved = (a: FakeAccount) => !equalsBytes(a.body.storageRoot, next.account(a.hash)?.body.storageRoot ?? a.hash)
    same = base.contracts().filter((a) => !moved(a))
    changed = base.contracts().find(moved) as FakeAccount
    large = base.contracts(600)[0]
    assert.ok(changed !== undefined && same.includes(large), 'the seeds change a small contract, not the large one')
  })

  describe('replies without slot lists', () => {
    const cases: { name: string; reply: StorageRangesReply; failure: Failure['kind']; reason?: string }[] = [
      // The peer lacks the root: asked for it no more, not dropped
      { name: 'neither lists nor proof', reply: { slots: [], proof: [] }, failure: 'unavailable' },
      // A whole trie from key 0 has a first slot: a proof alone proves nothing asked for
      {
        name: 'a proof and no list',
        reply: { slots: [], proof: [UNUSED_NODE] },
        failure: 'fault',
        reason: 'invalid_proof',
      },
    ]
    for (const c of cases) {
      it(`${c.name}: ${c.reason ?? c.failure}, nothing applied`, async () => {
        const o = owner(same[0], 0)
        const { ctx, kind, work } = storageKind(base, 0, 'honest', o)
        const failure = await failureOf(kind.apply(work, c.reply), o)
        assert.equal(failure.kind, c.failure, JSON.stringify(failure))
        if (c.reason !== undefined) assert.equal((failure as { reason: string }).reason, c.reason)
        assert.deepEqual(o.calls, [])
        assert.equal(ctx.counters.slots, 0)
        assert.throws(() => kind.verify(work, c.reply))
      })
    }

    it('a peer alone that answers a proof and no list: dropped (invalid_proof), an honest one finishes', async () => {
      const bad = new ProofOnlyPeer(base, { id: 'proofOnly' })
      const run = new SyncRun(base, [bad], { onWaiting: joinWhenAlone(new FakeSnapPeer(base, { id: 'joins' })) })
      // A sync that keeps taking these replies asks on: 100 storage requests show the spin
      const spins = bad.when((p) => p.stats.storage.requests >= 100)
      const done = run.complete().then(
        () => 'complete',
        (err: Error) => `failed: ${err.message}`,
      )
      const ended = await Promise.race([done, spins.then(() => 'spinning')])
      if (ended === 'spinning') {
        run.abort.abort()
        await done
      }
      assert.equal(
        ended,
        'complete',
        `${bad.stats.storage.requests} storage requests, drops ${JSON.stringify(run.drops)}`,
      )
      assert.deepEqual(run.source.reasonsFor(bad.id), ['invalid_proof'])
      assert.equal(run.sync.tracker.get(bad.id), undefined)
    })
  })

  describe('lists for accounts read before a pivot move', () => {
    const cases: { name: string; split?: number }[] = [{ name: 'a whole trie' }, { name: 'a sub-range', split: 200 }]
    for (const c of cases) {
      it(`${c.name}: a list failing for an account unchanged under the new root is a lie (invalid_proof)`, async () => {
        const account = c.split === undefined ? same.find((a) => a !== large) : large
        const o = owner(account as FakeAccount, 0)
        const { peer, kind, work } = storageKind(next, 1, { storage: 'corrupt' }, o, c.split)
        const reply = await kind.fetch(peer, work, TIMEOUT_MS, BYTES)
        const failure = await failureOf(kind.apply(work, reply), o)
        assert.deepEqual([failure.kind, (failure as { reason?: string }).reason], ['fault', 'invalid_proof'])
        assert.deepEqual(o.calls, [], 'not taken as changed')
        // Only verified (a hedge's late reply), it is judged alike
        assert.throws(() => kind.verify(work, reply))
      })
    }

    it('an account whose storage did change: the list is not blamed, the owner is told it changed', async () => {
      const o = owner(changed, 0)
      const { peer, ctx, kind, work } = storageKind(next, 1, 'honest', o)
      const reply = await kind.fetch(peer, work, TIMEOUT_MS, BYTES)
      kind.verify(work, reply)
      await kind.apply(work, reply)
      assert.deepEqual(o.calls, ['changed'])
      assert.equal(ctx.storage.pending, 0)
    })

    it('an unchanged account from an honest peer: stored', async () => {
      const o = owner(same.find((a) => a !== large) as FakeAccount, 0)
      const { peer, kind, work } = storageKind(next, 1, 'honest', o)
      await kind.apply(work, await kind.fetch(peer, work, TIMEOUT_MS, BYTES))
      assert.deepEqual(o.calls, ['stored'])
    })
  })
})
