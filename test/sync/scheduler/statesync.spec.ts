import { strict as assert } from 'node:assert'

import sinon from 'sinon'

import { loadAccountTasks } from '../../../src/sync/work/accounttasks.js'
import { hashNumber } from '../../../src/sync/work/hashrange.js'
import { RootUnavailableError } from '../../../src/sync/scheduler/statesync.js'
import { MAX_SUBRANGES } from '../../../src/sync/work/storagequeue.js'
import { toHex } from '../../../src/trie/hex.js'
import { nodeKey } from '../../../src/trie/statedb.js'
import { RequestLostError } from '../../../src/wire/requester.js'

import { buildFakeState } from '../fakestate.js'
import { FakeSnapPeer, fakePeers } from '../fakepeer.js'
import {
  SyncRun,
  TEST_TRACKER_OPTIONS,
  healOnlyTasks,
  isAbort,
  joinWhenAlone,
  requestsOf,
  rootStored,
} from '../syncrun.js'

import type { BehaviourPlan, SnapKind } from '../fakepeer.js'
import type { FakeState } from '../fakestate.js'
import type { DropReason, RequestFields } from '../../../src/sync/peers/snappeer.js'
import type {
  ByteCodesReply,
  GetAccountRangeRequest,
  GetByteCodesRequest,
  GetStorageRangesRequest,
  GetTrieNodesRequest,
  ReceivedAccountRange,
  SnapRequest,
  StorageRangesReply,
  TrieNodesReply,
} from '../../../src/wire/messages.js'

const KINDS: readonly SnapKind[] = ['accounts', 'storage', 'codes', 'nodes']
const { maxInFlight } = TEST_TRACKER_OPTIONS

/** Storage-range requests for `account` that start past key 0: the requests of its sub-ranges */
function subrangeRequests(peers: FakeSnapPeer[], account: Uint8Array): GetStorageRangesRequest[] {
  const isSub = (r: SnapRequest): r is GetStorageRangesRequest =>
    r.kind === 'GetStorageRanges' &&
    r.accounts.length === 1 &&
    toHex(r.accounts[0]) === toHex(account) &&
    hashNumber(r.origin) > 0n
  return peers.flatMap((p) => p.received.filter(isSub))
}

/** Items each peer served to the sync, as the sync's tracker counted them */
function served(run: SyncRun, id: string): number {
  const t = run.sync.tracker.get(id)
  return t === undefined ? 0 : KINDS.reduce((n, k) => n + t.served[k], 0)
}

describe('[StateSync]', function () {
  this.timeout(20_000)
  let s: FakeState
  before(async () => {
    s = await buildFakeState()
  })

  describe('honest peers', () => {
    const cases: { name: string; peers: number; accountTasks: number }[] = [
      { name: 'one peer, 4 account tasks', peers: 1, accountTasks: 4 },
      { name: 'one peer, 1 account task', peers: 1, accountTasks: 1 },
      { name: 'one peer, 16 account tasks', peers: 1, accountTasks: 16 },
      { name: 'three peers share the work', peers: 3, accountTasks: 4 },
    ]
    for (const c of cases) {
      it(c.name, async () => {
        const peers = fakePeers(s, Array<BehaviourPlan>(c.peers).fill('honest'))
        const run = new SyncRun(s, peers, { accountTasks: c.accountTasks })
        const walked = await run.complete()
        assert.deepEqual(run.drops, [])
        assert.ok(
          run.counters.accounts >= s.counts.accounts && run.counters.codes >= s.counts.codes,
          JSON.stringify(run.counters),
        )
        assert.equal(walked.accounts, s.counts.accounts)
        for (const p of peers)
          assert.ok(requestsOf(p) > 0 && served(run, p.id) > 0, `${p.id} did no work: ${JSON.stringify(p.stats)}`)
        assert.ok(run.persists > 0)
      })
    }

    it(`large storage tries: split into sub-ranges, then completed top-down by trie nodes`, async () => {
      const [peer] = fakePeers(s, ['honest'])
      const run = new SyncRun(s, [peer])
      await run.complete()
      const large = s.contracts(3000)
      assert.equal(large.length, 2)
      for (const a of large)
        assert.ok(subrangeRequests([peer], a.hash).length > 1, `no sub-ranges for ${toHex(a.hash)}`)
      assert.ok(run.counters.trieNodes > 0)
      // Some GetTrieNodes path set is a storage trie's (its first item is the account hash)
      const largeHashes = new Set(large.map((a) => toHex(a.hash)))
      const storagePaths = peer.received.filter(
        (r) => r.kind === 'GetTrieNodes' && r.paths.some((set) => set.length > 1 && largeHashes.has(toHex(set[0]))),
      )
      assert.ok(storagePaths.length > 0, 'no storage-trie completion')
    })

    it('every account task done but an empty DB: the whole state comes top-down from trie nodes', async () => {
      const [peer] = fakePeers(s, ['honest'])
      const run = new SyncRun(s, [peer], { tasks: healOnlyTasks() })
      const walked = await run.complete()
      assert.deepEqual([peer.stats.accounts.requests, peer.stats.storage.requests], [0, 0])
      assert.equal(run.counters.trieNodes, walked.nodes)
    })

    it('the counters of a fresh sync equal what the source holds', async () => {
      const run = new SyncRun(s, fakePeers(s, ['honest']))
      await run.complete()
      const { accounts, slots, codes } = run.counters
      assert.deepEqual(
        { accounts, slots, codes },
        { accounts: s.counts.accounts, slots: s.counts.slots, codes: s.counts.codes },
      )
    })

    it('a state already complete in the DB: returns at once (one read, one record), asks nothing', async () => {
      const [peer] = fakePeers(s, ['honest'])
      const run = new SyncRun(s, [peer], { db: s.level })
      const reads = sinon.spy(s.level, 'getMany')
      try {
        await run.run()
      } finally {
        reads.restore()
      }
      // No walk of what is stored, and no turn of the scheduler (each writes a record): the record of its end only
      assert.deepEqual(
        reads.args.map(([keys]) => keys),
        [[nodeKey(s.root)]],
      )
      assert.equal(run.persists, 1)
      assert.equal(requestsOf(peer), 0)
    })
  })

  describe('a misbehaving peer beside an honest one', () => {
    interface Case {
      behaviour: BehaviourPlan
      /** The reason it must be dropped for; undefined: it must not be dropped */
      drop?: DropReason
      /** Its replies are used (it is not just tolerated) */
      serves?: boolean
      /**
       * The one kind it lies on, its other replies being honest: that kind's work may all go to the
       * honest peer before this one is asked for any, so the honest peer's replies of that kind are
       * held until this one has answered one. Its lie is then met whatever the order
       */
      liesOn?: SnapKind
    }
    // The honest peer's held requests must not time out while the other is asked
    const HELD_TIMEOUTS = { minTimeoutMs: 2_000, maxTimeoutMs: 4_000 }
    const cases: Case[] = [
      { behaviour: 'empty' },
      // The work of a peer's first request is never hedged (hedge.ts): the sync waits out its timeout
      { behaviour: 'silent', drop: 'timeout' },
      { behaviour: 'capped', serves: true },
      { behaviour: 'partialCodes', serves: true },
      // Only their code (and node) replies lie
      { behaviour: 'wrongCode', drop: 'bad_code', liesOn: 'codes' },
      { behaviour: 'dropProofNode', drop: 'invalid_proof' },
      { behaviour: 'noProof', drop: 'invalid_proof' },
      // Unused proof nodes are the honest form of some clients (geth ignores them)
      { behaviour: 'extraProof', serves: true },
      // DropReason: 'oversized' is "more items or bytes than asked, keys outside the range"
      { behaviour: 'oversized', drop: 'oversized' },
      { behaviour: 'unrequested', drop: 'oversized', liesOn: 'codes' },
      { behaviour: 'corrupt', drop: 'invalid_proof' },
      { behaviour: 'lyingCont', drop: 'invalid_proof' },
      { behaviour: 'garbage', drop: 'garbage' },
      { behaviour: 'slow', serves: true },
    ]
    for (const c of cases) {
      const verdict = c.drop === undefined ? 'kept' : `dropped (${c.drop})`
      it(`${String(c.behaviour)}: ${verdict}, state complete`, async () => {
        // The misbehaving peer is listed first, so it is offered work first
        const [bad, honest] = fakePeers(s, [c.behaviour, 'honest'], { slowMs: 20 })
        const liesOn = c.liesOn
        if (liesOn !== undefined)
          honest.hold(
            [liesOn],
            bad.when((p) => p.stats[liesOn].replies > 0),
          )
        const run = new SyncRun(s, [bad, honest], { tracker: liesOn === undefined ? {} : HELD_TIMEOUTS })
        await run.complete()
        assert.deepEqual(run.source.reasonsFor(honest.id), [])
        assert.ok(served(run, honest.id) > 0)
        if (liesOn !== undefined) assert.ok(bad.stats[liesOn].replies > 0, `${bad.id} was never asked for ${liesOn}`)
        if (c.drop !== undefined) {
          assert.equal(run.source.reasonsFor(bad.id)[0], c.drop, JSON.stringify(run.source.dropped))
          assert.equal(run.drops[0]?.reason, c.drop)
          return
        }
        assert.deepEqual(run.source.reasonsFor(bad.id), [], JSON.stringify(run.source.dropped))
        if (c.serves === true) assert.ok(served(run, bad.id) > 0, `${bad.id} served nothing`)
      })
    }

    it('empty: its root is marked lacking; nothing is asked after its first empty replies', async () => {
      const [empty, honest] = fakePeers(s, ['empty', 'honest'])
      const run = new SyncRun(s, [empty, honest])
      await run.complete()
      assert.ok(run.sync.tracker.get(empty.id)?.lacksRoot.has(toHex(s.root)))
      // The first requests went out together, before any reply; none after
      assert.ok(requestsOf(empty) <= maxInFlight, JSON.stringify(empty.stats))
      for (const k of KINDS) assert.equal(empty.stats[k].replies, empty.stats[k].requests)
      assert.deepEqual(run.source.dropped, [])
    })
  })

  describe('a faulty peer alone; an honest one joins once it is dropped', () => {
    // Alone, the faulty peer is sure to be asked for its kind; nodes are asked for when healing
    const cases: { plan: BehaviourPlan; kind: SnapKind; drop: DropReason; heal?: boolean }[] = [
      { plan: { storage: 'corrupt' }, kind: 'storage', drop: 'invalid_proof' },
      { plan: { storage: 'noProof' }, kind: 'storage', drop: 'invalid_proof' },
      { plan: { storage: 'dropProofNode' }, kind: 'storage', drop: 'invalid_proof' },
      { plan: { storage: 'lyingCont' }, kind: 'storage', drop: 'invalid_proof' },
      { plan: { storage: 'oversized' }, kind: 'storage', drop: 'oversized' },
      { plan: { storage: 'garbage' }, kind: 'storage', drop: 'garbage' },
      { plan: { codes: 'corrupt' }, kind: 'codes', drop: 'bad_code' },
      { plan: { codes: 'wrongCode' }, kind: 'codes', drop: 'bad_code' },
      { plan: { codes: 'unrequested' }, kind: 'codes', drop: 'oversized' },
      { plan: { nodes: 'corrupt' }, kind: 'nodes', drop: 'bad_node', heal: true },
      { plan: { nodes: 'unrequested' }, kind: 'nodes', drop: 'oversized', heal: true },
      { plan: { nodes: 'garbage' }, kind: 'nodes', drop: 'garbage', heal: true },
    ]
    // Not here: a silent peer alone is kept, not dropped (peerchurn.spec.ts, 'the only peer with the state')
    for (const c of cases) {
      it(
        `${c.kind}: ${String(Object.values(c.plan)[0])}${c.heal === true ? ' (healing)' : ''} ` +
          `-> dropped (${c.drop})`,
        async () => {
          const [bad] = fakePeers(s, [c.plan])
          const honest = new FakeSnapPeer(s, { id: 'joins' })
          const run = new SyncRun(s, [bad], {
            tasks: c.heal === true ? healOnlyTasks() : undefined,
            onWaiting: joinWhenAlone(honest),
          })
          await run.complete()
          assert.ok(bad.stats[c.kind].requests > 0)
          assert.equal(run.source.reasonsFor(bad.id)[0], c.drop, JSON.stringify(run.source.dropped))
          assert.deepEqual(run.source.reasonsFor(honest.id), [])
        },
      )
    }

    it('the bytes of rejected replies are counted as wasted', async () => {
      const [bad] = fakePeers(s, [{ storage: 'corrupt' }])
      const run = new SyncRun(s, [bad], { onWaiting: joinWhenAlone(new FakeSnapPeer(s)) })
      await run.complete()
      assert.ok(bad.stats.storage.replies > 0)
      assert.ok(run.counters.wastedBytes > 0, JSON.stringify(run.counters))
    })
  })

  describe('only misbehaving peers', () => {
    it('every peer answers empty: RootUnavailableError, the root is not stored', async () => {
      const peers = fakePeers(s, ['empty', 'empty'])
      const run = new SyncRun(s, peers)
      await assert.rejects(run.run(), RootUnavailableError)
      assert.equal(await rootStored(run.db, s.root), false)
      for (const p of peers) assert.ok(requestsOf(p) <= maxInFlight, JSON.stringify(p.stats))
      assert.deepEqual(run.source.dropped, [])
    })

    it('a peer that sent invalid data is dropped; then the sync waits, without spinning, until aborted', async () => {
      const [liar] = fakePeers(s, ['corrupt'])
      const times: number[] = []
      const run = new SyncRun(s, [liar], {
        onWaiting: (_, r) => {
          times.push(performance.now())
          if (times.length === 5) r.abort.abort()
        },
      })
      await assert.rejects(run.run(), isAbort)
      assert.deepEqual(run.source.reasonsFor(liar.id), ['invalid_proof'])
      // Its first reply: a peer that never answered has one request in flight
      assert.equal(requestsOf(liar), 1, JSON.stringify(liar.stats))
      assert.deepEqual(run.waits, Array(5).fill('no snap peers connected'))
      // Paced by idleWaitMs (20 ms), not a busy loop
      assert.ok(times[4] - times[0] >= 4 * 15, `5 waits in ${times[4] - times[0]} ms`)
    })
  })

  describe('traps seen in other clients', () => {
    const junkProofs: { name: string; proof: (p: Uint8Array[]) => Uint8Array[] }[] = [
      { name: 'proof nodes that are not RLP', proof: (p) => p.map(() => Uint8Array.of(0xff, 0x00, 0x01)) },
      { name: 'truncated proof nodes', proof: (p) => p.map((n) => n.subarray(0, n.length >> 1)) },
    ]
    for (const c of junkProofs) {
      const title = `a malformed proof (${c.name}) drops its peer; its range is asked again from a later peer`
      it(title, async () => {
        const bad = new JunkProofPeer(s, { id: 'junk' }, c.proof)
        const honest = new FakeSnapPeer(s, { id: 'late' })
        const run = new SyncRun(s, [bad], { onWaiting: joinWhenAlone(honest) })
        await run.complete()
        assert.deepEqual(run.source.reasonsFor('junk'), ['invalid_proof'])
        assert.ok(run.waits.length > 0, 'the honest peer came only after the bad one was dropped')
        const origins = (p: FakeSnapPeer) =>
          p.received.filter((r) => r.kind === 'GetAccountRange').map((r) => toHex((r as GetAccountRangeRequest).origin))
        const asked = new Set(origins(honest))
        for (const o of origins(bad)) assert.ok(asked.has(o), `range from ${o} never asked again`)
      })
    }

    const failing: { name: string; plan: BehaviourPlan; failAtOnce: boolean; drop?: DropReason }[] = [
      { name: 'garbage replies', plan: 'garbage', failAtOnce: false, drop: 'garbage' },
      { name: 'requests that fail at once (a dead connection still listed)', plan: 'honest', failAtOnce: true },
    ]
    for (const c of failing) {
      it(`a fast peer that keeps failing (${c.name}) is not chosen again`, async () => {
        const bad = new CountingPeer(s, { id: 'failing', behaviour: c.plan }, c.failAtOnce)
        // A slow honest peer: its replies need timers, which a busy scheduler would starve
        const honest = new FakeSnapPeer(s, { id: 'honest', behaviour: 'slow', slowMs: 5 })
        const run = new SyncRun(s, [bad, honest])
        await run.complete()
        assert.ok(bad.calls <= 2 * maxInFlight, `asked ${bad.calls} times`)
        assert.equal(bad.callsAfterDrop, 0)
        if (c.drop !== undefined) {
          assert.deepEqual(run.source.reasonsFor(bad.id), [c.drop], 'dropped once')
          assert.deepEqual(
            run.drops.map((d) => d.id),
            [bad.id],
            'reported once',
          )
        }
      })
    }

    it(
      'the sync is not finished while the root is missing: ' + 'peers without trie nodes end it as unavailable',
      async () => {
        const [noNodes] = fakePeers(s, [{ nodes: 'empty' }])
        const first = new SyncRun(s, [noNodes])
        await assert.rejects(first.run(), RootUnavailableError)
        assert.equal(await rootStored(first.db, s.root), false)
        assert.ok(noNodes.stats.nodes.requests > 0, 'completion was tried')
        const [honest] = fakePeers(s, ['honest'])
        const second = new SyncRun(s, [honest], {
          db: first.db,
          tasks: loadAccountTasks(first.saved ?? []),
          counters: first.counters,
        })
        await second.complete()
        assert.ok(honest.stats.nodes.requests > 0)
      },
    )

    it(
      "the account just past a task's range is left to its " + 'own task: a contract at a boundary is fetched once',
      async () => {
        // One contract and 16 tasks: every task that ends before it gets it as the first account past its limit
        const lone = await buildFakeState({ accounts: 0, contracts: 0, largeContracts: 1 })
        const [peer] = fakePeers(lone, ['honest'])
        const run = new SyncRun(lone, [peer], { accountTasks: 16 })
        await run.complete()
        const [contract] = lone.contracts()
        const asked = peer.received.filter(
          (r) =>
            r.kind === 'GetStorageRanges' &&
            r.accounts.some((a) => toHex(a) === toHex(contract.hash)) &&
            hashNumber(r.origin) === 0n,
        )
        assert.equal(asked.length, 1, `its storage was asked for from the start ${asked.length} times`)
        assert.equal(peer.stats.codes.items, 1)
      },
    )

    it(`a contract with many slots fans out into at most MAX_SUBRANGES (${MAX_SUBRANGES}) sub-ranges`, async () => {
      const peers = fakePeers(s, ['honest', 'honest'])
      // 4 KiB replies: each large trie (~150 KB) would need dozens of them
      const run = new SyncRun(s, peers, { accountTasks: 1, sync: { requestBytes: 4096 } })
      await run.complete()
      for (const a of s.contracts(3000)) {
        const subs = subrangeRequests(peers, a.hash)
        const limits = new Set(subs.map((r) => toHex(r.limit)))
        assert.ok(subs.length > MAX_SUBRANGES, `only ${subs.length} sub-range requests: the cap was not reached`)
        assert.ok(limits.size > 1 && limits.size <= MAX_SUBRANGES, `${limits.size} sub-ranges`)
      }
    })
  })
})

/** Answers account ranges with a mangled proof */
class JunkProofPeer extends FakeSnapPeer {
  constructor(
    state: FakeState,
    opts: ConstructorParameters<typeof FakeSnapPeer>[1],
    private readonly mangle: (proof: Uint8Array[]) => Uint8Array[],
  ) {
    super(state, opts)
  }

  override async getAccountRange(
    req: RequestFields<GetAccountRangeRequest>,
    timeoutMs: number,
  ): Promise<ReceivedAccountRange> {
    const reply = await super.getAccountRange(req, timeoutMs)
    return { ...reply, proof: this.mangle(reply.proof) }
  }
}

/**
 * Past this many calls a `failAtOnce` peer fails on a timer instead: a scheduler that keeps choosing
 * it cannot then starve the event loop (and hang the suite); the test reports the count instead.
 */
const FAIL_AT_ONCE_CAP = 100

/** Counts the calls made to it, also after it was dropped; optionally fails each at once */
class CountingPeer extends FakeSnapPeer {
  calls = 0
  callsAfterDrop = 0
  private disconnected = false

  constructor(
    state: FakeState,
    opts: ConstructorParameters<typeof FakeSnapPeer>[1],
    private readonly failAtOnce: boolean,
  ) {
    super(state, opts)
  }

  override getAccountRange(
    req: RequestFields<GetAccountRangeRequest>,
    timeoutMs: number,
  ): Promise<ReceivedAccountRange> {
    return this.count(() => super.getAccountRange(req, timeoutMs))
  }

  override getStorageRanges(
    req: RequestFields<GetStorageRangesRequest>,
    timeoutMs: number,
  ): Promise<StorageRangesReply> {
    return this.count(() => super.getStorageRanges(req, timeoutMs))
  }

  override getByteCodes(req: RequestFields<GetByteCodesRequest>, timeoutMs: number): Promise<ByteCodesReply> {
    return this.count(() => super.getByteCodes(req, timeoutMs))
  }

  override getTrieNodes(req: RequestFields<GetTrieNodesRequest>, timeoutMs: number): Promise<TrieNodesReply> {
    return this.count(() => super.getTrieNodes(req, timeoutMs))
  }

  override disconnect(): void {
    this.disconnected = true
    super.disconnect()
  }

  private count<T>(call: () => Promise<T>): Promise<T> {
    this.calls++
    if (this.disconnected) this.callsAfterDrop++
    if (!this.failAtOnce) return call()
    // As the requester rejects a request it could not send
    const err = new RequestLostError(`${this.id}: send failed`)
    if (this.calls <= FAIL_AT_ONCE_CAP) return Promise.reject(err)
    return new Promise((_, reject) => setTimeout(() => reject(err), 1))
  }
}
