/**
 * Phase 1's loop (SnapPhases) on a client chain, with the pivot source scripted: what it does when
 * phase 1 fails, and when the handoff does. Time is sinon's: a retry delay of minutes takes none.
 */
import { strict as assert } from 'node:assert'

import { equalsBytes } from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'
import sinon from 'sinon'

import { PivotFinder } from '../../../src/sync/pivot/pivot.js'
import { PeerPivotSource } from '../../../src/sync/pivot/pivotsource.js'
import { SnapPhases } from '../../../src/sync/synchronizer/phases.js'
import { STATE_ENCODINGS, nodeKey } from '../../../src/trie/statedb.js'
import { blocksOn, powCommon } from '../../helpers/powchain.js'
import { recordingLogger, snapService } from '../../helpers/snapservice.js'

import type { HeaderPeer, Pivot } from '../../../src/sync/pivot/pivot.js'
import type { PivotPeers, PivotSource } from '../../../src/sync/pivot/pivotsource.js'
import type { SnapSyncOptions } from '../../../src/sync/synchronizer/phases.js'
import type { ClientPeers } from '../../../src/sync/synchronizer/clientpeers.js'
import type { LoggedLine } from '../../helpers/snapservice.js'
import type { Block, BlockHeader } from '@ethereumjs/block'
import type { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import type { VMExecution } from '@ethereumjs/client/dist/esm/src/execution/vmexecution.js'

const SNAP: SnapSyncOptions = { minPeers: 1, pivotDistance: 2, accountTasks: 4, requestRate: 0 }

/** The state root of every block here; its root node is stored, so any pivot's state is complete at once */
const ROOT = keccak256(Uint8Array.of(1))

/** What a bug looks like: an unexpected TypeError deep in this node's code */
const bug = () => new TypeError("Cannot read properties of undefined (reading 'number')")

interface Setup {
  readonly phases: SnapPhases
  readonly chain: Chain
  readonly execution: VMExecution
  /** The chain: blocks 0..3 */
  readonly blocks: Block[]
  readonly lines: LoggedLine[]
}

/** A client chain of 3 blocks (state root ROOT, stored) and phases over `pivots` */
async function setup(pivots: (blocks: Block[]) => (peers: ClientPeers) => PivotSource): Promise<Setup> {
  const { logger, lines } = recordingLogger()
  const { config, chain, execution, pool } = await snapService(powCommon(), logger)
  await chain.open()
  const blocks = [chain.genesis, ...blocksOn(chain.genesis, 3, { stateRoot: ROOT })]
  await chain.putBlocks(blocks.slice(1))
  await execution.stateDB?.put(nodeKey(ROOT), Uint8Array.of(0xc0), STATE_ENCODINGS)
  const phases = new SnapPhases({ config, pool, chain, execution }, SNAP, pivots(blocks), async () => {})
  await phases.open()
  return { phases, chain, execution, blocks, lines }
}

/** A pivot as a lookup names it: block `pivot`, head `head` */
const named = (pivot: Block, head: Block, supporters: string[] = []): Pivot => ({
  header: pivot.header,
  head: head.header,
  supporters,
  namedBy: 'a test',
})

/** Fake time only: the databases' own scheduling stays real */
const fakeClock = () =>
  sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })

/** Moves the fake clock `ms` forward in half-second steps, letting the I/O between them settle; stops at `done` */
async function advance(clock: sinon.SinonFakeTimers, ms: number, done: () => boolean = () => false): Promise<void> {
  for (let t = 0; t < ms && !done(); t += 500) {
    await clock.tickAsync(500)
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
  }
}

/** Stops the phases (ticking, for code that still waits on the fake clock) and closes the chain */
async function teardown(s: Setup, clock: sinon.SinonFakeTimers): Promise<void> {
  let stopped = false
  const stopping = s.phases.stop().then(() => (stopped = true))
  await advance(clock, 60_000, () => stopped)
  await stopping
  clock.restore()
  await s.chain.close()
}

describe('[SnapPhases] phase 1 fails', function () {
  this.timeout(30_000)
  afterEach(() => sinon.restore())

  it('a TypeError: logged at error with its stack, retried after a growing delay; stop does not wait', async () => {
    const looks: number[] = []
    const s = await setup(() => () => ({
      lookup: async () => {
        looks.push(Date.now())
        throw bug()
      },
      holds: async () => undefined,
    }))
    const clock = fakeClock()
    try {
      s.phases.start()
      await advance(clock, 5 * 60_000)
      const gaps = looks.slice(1).map((t, i) => t - looks[i])
      assert.ok(gaps.length >= 3, `${looks.length} tries in 5 minutes`)
      assert.ok(
        gaps.every((g, i) => i === 0 || g > gaps[i - 1]),
        `tried again after ${gaps.map((g) => `${g / 1000} s`).join(', ')}`,
      )
      const errors = s.lines.filter((l) => l.level === 'error')
      assert.equal(errors.length, looks.length, 'one error line a failure')
      assert.match(errors[0].message, /TypeError: Cannot read properties of undefined[^\n]*\n\s+at /)
      // Stopped in the middle of a delay: it returns without waiting for it
      let stopped = false
      const stopping = s.phases.stop().then(() => (stopped = true))
      for (let i = 0; i < 50 && !stopped; i++) await new Promise((r) => setImmediate(r))
      assert.ok(stopped, 'stop waits for the retry delay')
      await stopping
    } finally {
      await teardown(s, clock)
    }
  })

  it('after the handoff (the execution start throws): logged with its stack, the handoff not run again', async () => {
    const s = await setup((blocks) => () => ({
      lookup: async () => ({ pivot: named(blocks[1], blocks[3]) }),
      holds: async () => true,
    }))
    const setHead = sinon.spy(s.chain.blockchain, 'setIteratorHead')
    const start = sinon.stub(s.execution, 'start')
    start.onFirstCall().rejects(new Error('execution: the VM failed to open'))
    start.resolves(true)
    const clock = fakeClock()
    try {
      s.phases.start()
      await advance(clock, 2 * 60_000)
      assert.equal(setHead.callCount, 1, `the VM head set ${setHead.callCount} times`)
      assert.equal(start.callCount, 1, `the execution started ${start.callCount} times`)
      assert.equal(s.phases.handedOff, true)
      const errors = s.lines.filter((l) => l.level === 'error')
      assert.equal(errors.length, 1, JSON.stringify(errors))
      assert.match(errors[0].message, /the VM failed to open[^\n]*\n\s+at /)
    } finally {
      await teardown(s, clock)
    }
  })
})

/** A header peer over a chain of headers from block 0, announcing its last */
class ChainPeer implements HeaderPeer {
  constructor(
    readonly id: string,
    private readonly chain: BlockHeader[],
  ) {}

  get announcedHead(): Uint8Array {
    return this.chain[this.chain.length - 1].hash()
  }

  async headers(block: bigint | Uint8Array, max: number): Promise<BlockHeader[]> {
    if (typeof block !== 'bigint') return this.chain.filter((h) => equalsBytes(h.hash(), block))
    return this.chain.slice(Number(block), Number(block) + max)
  }
}

describe('[SnapPhases] a pivot the chain never reaches', function () {
  this.timeout(30_000)
  afterEach(() => sinon.restore())

  it(
    'pre-merge, one peer names a pivot above the real head: the wait ends, says why, ' +
      'the peer is dropped and the pivot comes from the peers left',
    async () => {
      const drops: string[] = []
      const s = await setup((blocks) => {
        const ours = blocks.map((b) => b.header)
        // Our chain, then 37 blocks it made up: linked, which is all that is checked of them before
        // the merge (their seals are checked when the block pipeline stores them, and it never will)
        const made = blocksOn(blocks[3], 37, { stateRoot: ROOT }).map((b) => b.header)
        let connected: HeaderPeer[] = [new ChainPeer('honest', ours), new ChainPeer('liar', [...ours, ...made])]
        const peers: PivotPeers = {
          headerPeers: () => connected,
          dropById: (id, reason, detail) => {
            drops.push(`${id} ${reason}: ${detail}`)
            connected = connected.filter((p) => p.id !== id)
          },
        }
        const finder = new PivotFinder({ minPeers: 1, distance: 2, validate: () => {} })
        return () => new PeerPivotSource(peers, finder, 1)
      })
      sinon.stub(s.execution, 'start').resolves(true)
      const clock = fakeClock()
      try {
        s.phases.start()
        await advance(clock, 30 * 60_000, () => s.phases.handedOff)
        const pivots = s.lines.filter((l) => /Snap sync: pivot block=/.test(l.message)).map((l) => l.message)
        assert.ok(s.phases.handedOff, `no handoff in 30 minutes of a chain stopped at block 3; ${pivots.join('; ')}`)
        assert.equal(s.phases.status().pivot?.number, 1n, 'the honest head (3) less the distance')
        const why = s.lines.filter((l) => l.level === 'warn' && /pivot block 38/.test(l.message))
        assert.equal(why.length, 1, JSON.stringify(s.lines.filter((l) => l.level !== 'debug')))
        assert.match(why[0].message, /no new block for 2m00s, the chain is at block 3/)
        assert.equal(drops.length, 1, drops.join('\n'))
        assert.match(drops[0], /^liar bad_pivot: /)
      } finally {
        await teardown(s, clock)
      }
    },
  )

  it('a chain that grows slowly up to the pivot is waited for: no peer is blamed', async () => {
    const rejected: string[] = []
    // Blocks 4..10 of the same chain: the pivot is block 8, the block pipeline stores one every 90 s
    let coming: Block[] = []
    const s = await setup((blocks) => {
      coming = blocksOn(blocks[3], 7, { stateRoot: ROOT })
      return () => ({
        lookup: async () => ({ pivot: named(coming[4], coming[6], ['honest']) }),
        holds: async () => true,
        reject: (found) => rejected.push(found.supporters.join()),
      })
    })
    sinon.stub(s.execution, 'start').resolves(true)
    const clock = fakeClock()
    const stored = setInterval(() => void s.chain.putBlocks([coming.shift() as Block]), 90_000)
    try {
      s.phases.start()
      await advance(clock, 30 * 60_000, () => s.phases.handedOff)
      assert.ok(s.phases.handedOff, `no handoff; the chain is at block ${s.chain.blocks.height}`)
      assert.equal(s.phases.status().pivot?.number, 8n)
      assert.deepEqual(rejected, [])
      assert.deepEqual(
        s.lines.filter((l) => /does not reach/.test(l.message)),
        [],
      )
    } finally {
      clearInterval(stored)
      await teardown(s, clock)
    }
  })
})
