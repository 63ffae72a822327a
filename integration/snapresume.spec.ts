/**
 * A snap sync killed midway (SIGKILL: nothing flushed) resumes from its data dir: B is killed during
 * the account download, and in a second case during the storage download, restarted with the same
 * data dir and flags, and ends with A's state, complete. B reaches A through a proxy that the test
 * opens a step of bytes at a time and holds while it looks at B, so that B is caught at the moment
 * however fast the machine; the proxy also counts the bytes on the wire, which, next to an
 * uninterrupted sync's, tell how much the crash made B download again.
 */
import { strict as assert } from 'node:assert'

import {
  ThrottledProxy,
  assertSameStateAsSource,
  field,
  snapContext,
  snapLines,
  snapMetrics,
  snapSyncing,
  startSnapNode,
  startSource,
  waitSnapDone,
} from './harness/index.js'

import type { ClientNode, SnapSyncing, Source } from './harness/index.js'

const DEVNET = {
  accounts: 5_000,
  contracts: 200,
  slotsPerContract: 30,
  largeContracts: [6_000],
  period: 1,
  seed: 'snapresume',
}
const PLAN = { newAccounts: 2_000, touchedAccounts: 500 }
const PIVOT_DISTANCE = 16
// Bytes per second through the proxy while it is open: a 512 KiB reply still arrives well within the
// syncer's first request timeout (10 s)
const RATE = 256 * 1024
// Bytes B may take in between two looks (the state is ~1.2 MiB), and the longest time between two
// looks while B asks for less
const STEP = 32 * 1024
const LOOK_MS = 250

interface StateCounts {
  accounts: number
  slots: number
}

interface CrashCase {
  name: string
  /** B is killed at the first status of the state phase for which this is true */
  moment: (s: SnapSyncing, counts: StateCounts) => boolean
  /** ... which must be midway through what the case is about */
  midway: (s: SnapSyncing, counts: StateCounts) => boolean
}

const CASES: CrashCase[] = [
  {
    // As soon as anything is stored. Accounts are counted when their range is written, which waits
    // for the range's storage and codes: at this moment most account ranges are in flight or unwritten
    name: 'the account download',
    moment: (s) => s.syncedAccounts + s.syncedStorage + s.syncedBytecodes > 0n,
    midway: (s, c) => s.syncedAccounts < BigInt(c.accounts),
  },
  {
    // Once half of the slots are stored (the large contract's ranges among them)
    name: 'the storage download',
    moment: (s, c) => s.syncedStorage * 2n >= BigInt(c.slots),
    midway: (s, c) => s.syncedStorage < BigInt(c.slots),
  },
]

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`

/**
 * Opens the held proxy until B has taken in STEP more bytes (or LOOK_MS passed), then holds it again:
 * between two looks, B moves on a step at most, whatever the machine's speed
 */
async function step(node: ClientNode, proxy: ThrottledProxy): Promise<void> {
  const [from, until] = [proxy.forwarded, Date.now() + LOOK_MS]
  proxy.setRate(RATE)
  try {
    await node.waitFor(async () => proxy.forwarded >= from + STEP || Date.now() >= until, {
      what: 'a step of bytes',
      intervalMs: 10,
    })
  } finally {
    proxy.setRate(0)
  }
}

describe('[snap sync] resumes after a crash', () => {
  let source: Source | undefined
  let a: ClientNode
  let proxy: ThrottledProxy | undefined
  let b: ClientNode | undefined
  /** Bytes on the wire for a sync without a crash */
  let baseline = 0

  before(async function () {
    this.timeout(600_000)
    source = await startSource({ devnet: DEVNET, plan: PLAN })
    a = source.node
    await a.waitForHeight(BigInt(PIVOT_DISTANCE) + 4n)
  })

  afterEach(async () => {
    await b?.destroy()
    await proxy?.close()
    b = proxy = undefined
  })

  after(async () => {
    await source?.destroy()
  })

  /** Starts B through a new proxy capped at `rate` */
  async function startB(rate: number): Promise<ClientNode> {
    proxy = await ThrottledProxy.start(a.port, rate)
    return startSnapNode(source!, { pivotDistance: PIVOT_DISTANCE, bootnode: proxy.enodeVia(await a.enode()) })
  }

  /** B's state equals A's at a block both have, and verifies complete (with the chain's counts) once B is stopped */
  async function assertSameStateAsA(node: ClientNode): Promise<void> {
    const result = await assertSameStateAsSource(source!, node, 500)
    const { accounts, slots, codes } = source!.chain.counts
    assert.deepEqual(
      result.counts && { accounts: result.counts.accounts, slots: result.counts.slots, codes: result.counts.codes },
      { accounts, slots, codes },
    )
  }

  it('syncs through the proxy without a crash (the baseline)', async () => {
    b = await startB(RATE)
    const done = await waitSnapDone(b, { timeoutMs: 300_000 })
    baseline = proxy!.forwarded
    console.log(`      ${done.text}\n      on the wire: ${mb(baseline)}`)
    await assertSameStateAsA(b)
  })

  for (const c of CASES) {
    it(`resumes after a SIGKILL during ${c.name}`, async () => {
      // Held from the start: B gets A's bytes a step at a time, and each look finds it where it stopped
      b = await startB(0)
      const node = b
      const counts = source!.chain.counts
      const deadline = Date.now() + 300_000
      let atKill: SnapSyncing | undefined
      while (atKill === undefined) {
        const status = await snapSyncing(node).catch(() => undefined)
        const phase = status === false ? 'synced' : status?.snapPhase
        // Past the state phase before the moment held: the case's moment cannot come in that phase
        if (status === false || (phase !== undefined && !['pivot', 'state'].includes(phase))) {
          const why = `the state phase ended (${phase}) before the moment of ${c.name}, ${STEP} bytes a step`
          throw new Error(`${why}\n${snapContext(node)}`)
        }
        if (status !== undefined && phase === 'state' && c.moment(status, counts)) atKill = status
        else if (Date.now() > deadline) throw new Error(`no moment to kill (${c.name}) in 300 s\n${snapContext(node)}`)
        else await step(node, proxy!)
      }
      // Still held: kill B where the look found it
      const metricsAtKill = await snapMetrics(b)
      await b.kill()
      const wireAtKill = proxy!.forwarded
      const where =
        `accounts ${atKill.syncedAccounts} of ${counts.accounts}, slots ` +
        `${atKill.syncedStorage} of ${counts.slots}, phase ${atKill.snapPhase}`
      console.log(
        `      killed at ${where}; ${atKill.syncedBytes} bytes accepted (snap_sync_bytes_total ${metricsAtKill.bytes})`,
      )
      assert.ok(c.midway(atKill, counts), `B was killed midway through ${c.name}: ${where}`)

      proxy!.setRate(Infinity)
      b = await b.restart()
      const done = await waitSnapDone(b, { timeoutMs: 300_000 })
      const resumed = snapLines(b).filter((l) => l.kind === 'other' && /resum/.test(l.text))
      const wire = proxy!.forwarded
      console.log(
        `      after the restart: ${resumed.map((l) => l.text).join('; ') || '(no resume line)'}\n` +
          `      ${done.text}\n` +
          `      on the wire: ${mb(wireAtKill)} before the kill + ` +
          `${mb(wire - wireAtKill)} after the restart = ${mb(wire)}, ` +
          `${mb(baseline)} without a crash: ${mb(wire - baseline)} more; ` +
          `the syncer counts ${done.fields.downloaded} downloaded, ${done.fields.wasted} wasted`,
      )
      assert.ok(field(done, 'downloaded') !== undefined && field(done, 'wasted') !== undefined, done.text)
      await assertSameStateAsA(b)
    })
  }
})
