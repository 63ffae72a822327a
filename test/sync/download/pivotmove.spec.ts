/**
 * A pivot that moves while the state downloads: everything received is kept, account tasks go on
 * from their cursors under the new root, storage that changed is taken from the new root without
 * blaming the peer, and the state ends complete at the last pivot. At the phase-1 level: the
 * staleness timer moves the pivot when the head runs far ahead and when a reorg replaces the pivot
 * block; empty replies for an old root move it too.
 */
import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { keccak256 } from '../../../src/trie/keccak.js'
import { MemoryLevel } from 'memory-level'

import { newAccountTasks } from '../../../src/sync/work/accounttasks.js'
import { PivotFinder } from '../../../src/sync/pivot/pivot.js'
import { PeerPivotSource } from '../../../src/sync/pivot/pivotsource.js'
import { ForkchoicePivotSource } from '../../../src/sync/pivot/forkchoicepivot.js'
import { ProgressStore } from '../../../src/sync/download/progressrecord.js'
import { StateDownload } from '../../../src/sync/download/statedownload.js'
import { TrieSync } from '../../../src/sync/work/triesync.js'
import { CodeQueue } from '../../../src/sync/work/codequeue.js'
import { StateWriter } from '../../../src/trie/statedb.js'

import { assertSynced } from '../checkstate.js'
import { FakeSkeleton } from '../fakeskeleton.js'
import { FakePeerSource, FakeSnapPeer } from '../fakepeer.js'
import { buildFakeState, emptyStateLevel, evolveFakeState } from '../fakestate.js'
import { SyncRun, TEST_SYNC_OPTIONS, WATCHDOG_MS, rootStored } from '../syncrun.js'

import type { FakeState } from '../fakestate.js'
import type { HeaderPeer } from '../../../src/sync/pivot/pivot.js'
import type { PivotSource } from '../../../src/sync/pivot/pivotsource.js'
import type { ProgressDB } from '../../../src/sync/download/progressrecord.js'
import type { GetAccountRangeRequest, SnapRequest } from '../../../src/wire/messages.js'
import type { BlockHeader } from '@ethereumjs/block'

const common = new Common({ chain: Mainnet, hardfork: Hardfork.London })
const isAccountRange = (r: SnapRequest): r is GetAccountRangeRequest => r.kind === 'GetAccountRange'
const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
  assert.ok(check(), `timed out waiting for ${what}`)
}

/** Two states of one chain in one DB: `next` changes balances, slots (large contracts too) and adds accounts */
async function twoStates(): Promise<{ base: FakeState; next: FakeState }> {
  const base = await buildFakeState({
    accounts: 300,
    contracts: 20,
    slots: 8,
    largeContracts: 2,
    largeSlots: 1500,
    seed: 7,
  })
  const next = await evolveFakeState(base, { balances: 20, slots: 15, newAccounts: 5, seed: 8 })
  return { base, next }
}

describe('[StateSync] pivot moves', function () {
  this.timeout(WATCHDOG_MS + 5_000)

  it(
    'mid-storage: nothing received is fetched again, ' + 'changed storage comes from the new root, no peer is blamed',
    async () => {
      const { base, next } = await twoStates()
      next.served.add(base.root)
      const peer = new FakeSnapPeer(next, { id: 'moving', behaviour: 'slow', slowMs: 2 })
      let cursors: bigint[] | undefined
      const run = new SyncRun(base, [peer], {
        onPersist: (r) => {
          if (cursors !== undefined || r.counters.slots < 500) return
          // The chain moved on: the peer forgets the old root, the sync moves to the new one
          cursors = r.tasks.map((t) => t.next)
          r.sync.moveTo(next.root)
          next.served.delete(base.root)
        },
      })
      const sentBefore = () => peer.received.length
      await run.run()
      assert.ok(cursors !== undefined, 'moved mid-way')
      assert.ok(await rootStored(run.db, next.root))
      await assertSynced(run.db, next)
      assert.deepEqual(run.drops, [], 'no peer dropped for storage that changed')
      // Account ranges after the move start at or past where each task was: no task restarted. A range of one
      // key (origin = limit) is no task's: it looks up an account whose storage list failed (work/storage.ts)
      const after = peer.received
        .filter(isAccountRange)
        .filter((r) => equalsBytes(r.root, next.root) && !equalsBytes(r.origin, r.limit))
      for (const r of after) {
        const origin = BigInt(bytesToHex(r.origin))
        const task = run.tasks.findIndex((t) => origin >= t.first && origin <= t.last)
        assert.ok(
          origin >= cursors[task],
          `task ${task} asked from ${origin}, below its cursor ${cursors[task]} at the move`,
        )
      }
      assert.ok(sentBefore() > 0)
    },
  )

  it(
    'during the completion from the root: the new root is ' +
      'completed, nodes fetched for the old one are not fetched again',
    async () => {
      const { base, next } = await twoStates()
      next.served.add(base.root)
      const peer = new FakeSnapPeer(next, { id: 'healer', behaviour: 'slow', slowMs: 2 })
      // Every range done but an empty DB: the whole state comes by trie nodes, so a move lands mid-heal
      const run = new SyncRun(base, [peer], {
        tasks: newAccountTasks(1).map((t) => Object.assign(t, { covered: true })),
      })
      // Every node the peer sends, by hash: how many times, and whether it was asked for after the move
      const fetches = new Map<string, { count: number; afterMove: boolean }>()
      let moved = false
      const getTrieNodes = peer.getTrieNodes.bind(peer)
      peer.getTrieNodes = async (req, timeoutMs) => {
        const afterMove = moved
        const reply = await getTrieNodes(req, timeoutMs)
        for (const node of reply.nodes) {
          const key = bytesToHex(keccak256(node))
          const seen = fetches.get(key)
          fetches.set(key, { count: (seen?.count ?? 0) + 1, afterMove: afterMove || seen?.afterMove === true })
        }
        return reply
      }
      const running = run.run()
      await until(() => run.counters.trieNodes > 200, 'healing under the old root')
      run.sync.moveTo(next.root)
      moved = true
      await running
      await assertSynced(run.db, next)
      // Exact, whatever the timing: no node came twice, so none fetched under the old root was fetched again
      // (a completion started over from the new root fetches again every node the two roots share)
      const twice = [...fetches].filter(([, f]) => f.count > 1)
      assert.deepEqual(
        twice.slice(0, 3),
        [],
        `${twice.length} nodes fetched twice: the old root's nodes were not reused`,
      )
      assert.ok(
        [...fetches.values()].some((f) => !f.afterMove),
        'nodes fetched under the old root',
      )
      assert.ok(
        [...fetches.values()].some((f) => f.afterMove),
        'nodes fetched under the new root',
      )
      assert.deepEqual(run.drops, [])
    },
  )

  it(
    'a move that comes as the old root completes is taken: the sync ' +
      'ends complete under the new root, and refuses moves once ended',
    async () => {
      const { base, next } = await twoStates()
      next.served.add(base.root)
      const peer = new FakeSnapPeer(next, { id: 'moving', behaviour: 'slow', slowMs: 2 })
      let moved = false
      const run: SyncRun = new SyncRun(base, [peer], {
        onPersist: () => {
          // The last record of the old root (it is stored): the move arrives after the loop saw it complete
          if (moved) return
          void rootStored(run.db, base.root).then((stored) => {
            if (!stored || moved) return
            moved = true
            assert.equal(run.sync.moveTo(next.root), true)
          })
        },
      })
      await run.run()
      assert.ok(moved, 'moved once the old root was complete')
      assert.ok(await rootStored(run.db, next.root), 'the new root is stored')
      await assertSynced(run.db, next)
      assert.equal(run.sync.moveTo(base.root), false, 'a move after the end is refused')
    },
  )

  it('TrieSync.abandon: waiting roots are told, fetched nodes are handed over', async () => {
    const { base } = await twoStates()
    const db = emptyStateLevel()
    const writer = new StateWriter(db)
    const trie = new TrieSync(db, writer, new CodeQueue())
    let abandoned = 0
    await trie.addRoot(
      base.root,
      undefined,
      () => assert.fail('not complete'),
      () => abandoned++,
    )
    const [req] = trie.take(1)
    const [rlp] = await base.level.getMany([req.key])
    await trie.deliver(req, rlp as Uint8Array)
    const known = trie.abandon()
    assert.equal(abandoned, 1)
    assert.equal(trie.pending, 0)
    assert.deepEqual([...known.keys()], [req.key])
    // A new sync of the same root takes the root node from memory and asks for its children
    const again = new TrieSync(db, writer, new CodeQueue(), known)
    await again.addRoot(base.root, undefined, () => {})
    assert.equal(await again.deliverKnown(), 1)
    assert.ok(
      again.take(100).every((r) => r.path.length === 1),
      'only the children are fetched',
    )
  })
})

/** Headers 0..head, each with `rootAt(n)` as its state root; a branch from `fork` is tagged in extraData */
function headers(
  head: number,
  rootAt: (n: number) => Uint8Array,
  branch?: { base: BlockHeader[]; from: number },
): BlockHeader[] {
  const out: BlockHeader[] = branch === undefined ? [] : branch.base.slice(0, branch.from)
  for (let n = out.length; n <= head; n++) {
    const parentHash = n === 0 ? new Uint8Array(32) : out[n - 1].hash()
    const extraData = branch === undefined ? new Uint8Array(0) : Uint8Array.of(1)
    out.push(
      createBlockHeader(
        {
          number: BigInt(n),
          parentHash,
          stateRoot: rootAt(n),
          gasLimit: 30_000_000n,
          timestamp: BigInt(n * 12),
          baseFeePerGas: 7n,
          extraData,
        },
        { common },
      ),
    )
  }
  return out
}

/** A header peer over a chain the test replaces at will */
class ChainPeer implements HeaderPeer {
  readonly id = 'moving'
  constructor(public chain: BlockHeader[]) {}
  get announcedHead(): Uint8Array {
    return this.chain[this.chain.length - 1].hash()
  }
  async headers(block: bigint | Uint8Array, max: number): Promise<BlockHeader[]> {
    if (typeof block !== 'bigint') return this.chain.filter((h) => equalsBytes(h.hash(), block))
    return this.chain.slice(Number(block), Number(block) + max)
  }
}

/**
 * Phase 1 over one snap peer, the pivot from a header peer or from `pivots`, with a fast staleness
 * timer. `until(check)` resolves once `check` holds, looked at after each line logged and each pivot
 * lookup (`lookups()` counts them): tests wait for what phase 1 did, not for time
 */
function download(snap: FakeSnapPeer, chain: ChainPeer | PivotSource) {
  const source = new FakePeerSource([snap])
  const peers = Object.assign(source, {
    headerPeers: () => (chain instanceof ChainPeer ? [chain] : []),
    dropById: () => assert.fail('no peer is dropped'),
  })
  const meta = new MemoryLevel<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' })
  const lines: string[] = []
  const waits: { check: () => boolean; resolve: () => void }[] = []
  const event = () => {
    for (const w of waits.filter((x) => x.check())) {
      waits.splice(waits.indexOf(w), 1)
      w.resolve()
    }
  }
  const until = (check: () => boolean) =>
    check() ? Promise.resolve() : new Promise<void>((resolve) => waits.push({ check, resolve }))
  const logged = (m: string) => {
    lines.push(m)
    event()
  }
  const log = { info: logged, warn: logged, debug: () => {} }
  const finder = new PivotFinder({ minPeers: 1, distance: 2, validate: () => {} })
  const inner = chain instanceof ChainPeer ? new PeerPivotSource(peers, finder, 1) : chain
  let lookups = 0
  const pivots: PivotSource = {
    lookup: async () => {
      const found = await inner.lookup()
      lookups++
      event()
      return found
    },
    holds: (pivot, found) => inner.holds(pivot, found),
  }
  const d = new StateDownload(emptyStateLevel(), new ProgressStore(meta as unknown as ProgressDB), peers, pivots, log, {
    accountTasks: 4,
    waitMs: 10,
    stateSync: TEST_SYNC_OPTIONS,
    staleDistance: 4,
    staleCheckMs: 20,
    minMoveIntervalMs: 0,
  })
  return { d, lines, until, lookups: () => lookups }
}

describe('[StateDownload] pivot moves', function () {
  this.timeout(WATCHDOG_MS + 5_000)

  // The same run with the head from peers (pre-merge) and from the consensus layer's skeleton (post-merge)
  const peerHead = (h: BlockHeader[]) => {
    const chain = new ChainPeer(h)
    return { pivots: chain, moveTo: (n: BlockHeader[]) => (chain.chain = n) }
  }
  const consensusHead = (h: BlockHeader[]) => {
    const skeleton = new FakeSkeleton(h)
    return { pivots: new ForkchoicePivotSource(skeleton, 2), moveTo: (n: BlockHeader[]) => (skeleton.blocks = n) }
  }
  const heads = [
    { when: 'pre-merge', namedBy: /peers agree/, source: peerHead },
    { when: 'post-merge', namedBy: /the consensus layer's forkchoice/, source: consensusHead },
  ]
  for (const head of heads) {
    it(
      `${head.when}: the head runs past the pivot: the staleness ` +
        `timer moves it; the state ends complete at the new pivot`,
      async () => {
        const { base, next } = await twoStates()
        next.served.add(base.root)
        const snap = new FakeSnapPeer(next, { behaviour: 'slow', slowMs: 2 })
        const { pivots, moveTo } = head.source(headers(10, () => base.root))
        const { d, lines } = download(snap, pivots)
        await d.load()
        const running = d.run(AbortSignal.timeout(WATCHDOG_MS))
        await until(() => d.status().counters.slots > 300, 'some storage')
        assert.equal(d.pivot?.number, 8n)
        assert.ok(
          lines.some((l) => /pivot block=8 .* head=10 \(/.test(l) && head.namedBy.test(l)),
          lines.join('\n'),
        )
        // Ten blocks later the pivot is 12 behind (more than 4): it moves to the head - 2
        moveTo(headers(20, (n) => (n <= 10 ? base.root : next.root)))
        const pivot = await running
        assert.equal(pivot.number, 18n)
        assert.deepEqual(pivot.stateRoot, next.root)
        assert.equal(d.status().counters.pivotMoves, 1)
        assert.ok(
          lines.some((l) => /pivot moved from block 8 to block=18 .*\(12 blocks behind the head\)/.test(l)),
          lines.join('\n'),
        )
      },
    )
  }

  it('a reorg replaces the pivot block: the pivot moves to the new branch before the distance is reached', async () => {
    const { base, next } = await twoStates()
    next.served.add(base.root)
    const snap = new FakeSnapPeer(next, { behaviour: 'slow', slowMs: 2 })
    // Slower replies: the reorg is found while the state of pivot 8 still downloads
    snap.slowMs = 10
    const original = headers(10, () => base.root)
    const chain = new ChainPeer(original)
    const { d, lines } = download(snap, chain)
    await d.load()
    const running = d.run(AbortSignal.timeout(WATCHDOG_MS))
    await until(() => d.status().counters.accounts > 0, 'some accounts')
    // A branch from block 6 (below the pivot, 8) to 11: within the distance, but block 8 is another
    chain.chain = headers(11, (n) => (n < 6 ? base.root : next.root), { base: original, from: 6 })
    const pivot = await running
    assert.equal(pivot.number, 9n, lines.join('\n'))
    assert.deepEqual(pivot.hash, chain.chain[9].hash())
    assert.ok(
      lines.some((l) => /left the canonical chain/.test(l)),
      lines.join('\n'),
    )
  })

  it(
    'every peer forgets the pivot root: it waits for a newer pivot ' +
      '(no move to the same one), then moves and keeps what it has',
    async () => {
      const { base, next } = await twoStates()
      next.served.add(base.root)
      const snap = new FakeSnapPeer(next, { behaviour: 'slow', slowMs: 2 })
      const chain = new ChainPeer(headers(10, () => base.root))
      const { d, lines, until: event, lookups } = download(snap, chain)
      await d.load()
      const running = d.run(AbortSignal.timeout(WATCHDOG_MS))
      await until(() => d.status().counters.accounts > 100, 'some accounts')
      // The peer no longer serves the root, and the chain has no newer block: nothing to move to
      next.served.delete(base.root)
      const requests = snap.received.length
      // Whichever comes first: the line of the wait, a move, or requests on end (a spin)
      const isWait = (l: string) => /no peer serves the state of pivot 8, and no newer pivot yet/.test(l)
      const decided = event(() => lines.some((l) => isWait(l) || /pivot moved/.test(l)))
      await Promise.race([decided, snap.when((p) => p.received.length >= requests + 50)])
      const since = `${snap.received.length - requests} requests since the root was forgotten`
      assert.ok(lines.some(isWait), `${since}:\n${lines.join('\n')}`)
      // Ten lookups later (each would have moved it, to a newer pivot or the same one), it still waits
      // and has asked the peer nothing: it does not spin on a root its peer lacks
      const [asked, looked] = [snap.received.length, lookups()]
      await event(() => lookups() >= looked + 10)
      assert.equal(d.pivot?.number, 8n)
      assert.equal(d.status().counters.pivotMoves, 0, lines.join('\n'))
      assert.equal(snap.received.length - asked, 0, 'requests while it waits')
      chain.chain = headers(13, (n) => (n <= 10 ? base.root : next.root))
      const pivot = await running
      assert.equal(pivot.number, 11n)
      assert.equal(d.status().counters.pivotMoves, 1)
      // Moved by the wait after empty replies or by the staleness timer (5 behind > 4), once either way
      assert.ok(
        lines.some((l) => /pivot moved from block 8 to block=11 /.test(l)),
        lines.join('\n'),
      )
    },
  )
})
