/**
 * Phase 1's loop (SnapPhases) on a client chain, with the pivot source scripted: what it does when
 * phase 1 fails, and when the handoff does. Time is sinon's: a retry delay of minutes takes none.
 */
import { strict as assert } from 'node:assert'

import { keccak256 } from 'ethereum-cryptography/keccak.js'
import sinon from 'sinon'

import { SnapPhases } from '../../../src/sync/synchronizer/phases.js'
import { STATE_ENCODINGS, nodeKey } from '../../../src/trie/statedb.js'
import { blocksOn, powCommon } from '../../helpers/powchain.js'
import { recordingLogger, snapService } from '../../helpers/snapservice.js'

import type { Pivot } from '../../../src/sync/pivot/pivot.js'
import type { PivotSource } from '../../../src/sync/pivot/pivotsource.js'
import type { SnapSyncOptions } from '../../../src/sync/synchronizer/phases.js'
import type { ClientPeers } from '../../../src/sync/synchronizer/clientpeers.js'
import type { LoggedLine } from '../../helpers/snapservice.js'
import type { Block } from '@ethereumjs/block'
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
  /** Blocks 1..3 of the chain */
  readonly blocks: Block[]
  readonly lines: LoggedLine[]
  /** Resolves when the phases hand over (their executeFromPivot runs) */
  readonly executing: Promise<void>
}

/** A client chain of 3 blocks (state root ROOT, stored) and phases over `pivots` */
async function setup(pivots: (blocks: Block[]) => (peers: ClientPeers) => PivotSource): Promise<Setup> {
  const { logger, lines } = recordingLogger()
  const { config, chain, execution, pool } = await snapService(powCommon(), logger)
  await chain.open()
  const blocks = blocksOn(chain.genesis, 3, { stateRoot: ROOT })
  await chain.putBlocks(blocks)
  await execution.stateDB?.put(nodeKey(ROOT), Uint8Array.of(0xc0), STATE_ENCODINGS)
  let executed: () => void = () => {}
  const executing = new Promise<void>((resolve) => (executed = resolve))
  const phases = new SnapPhases({ config, pool, chain, execution }, SNAP, pivots(blocks), async () => executed())
  await phases.open()
  return { phases, chain, execution, blocks, lines, executing }
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
      lookup: async () => ({ pivot: named(blocks[0], blocks[2]) }),
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
