/**
 * Snap sync on a moving chain, real processes. A mines a block a second and takes a transaction load
 * (transfers to new accounts, contract deployments, storage writes) while B snap-syncs with a
 * request rate low enough that its pivot goes stale and moves at least twice. B heals, hands over,
 * executes to the tip and follows A; then B answers like A for old and new accounts, and a third
 * node C snap-syncs from B alone: a snap-synced node is a complete snap server.
 *
 * A node D syncs the same way beside B (started right after it, watched in the background while the
 * tests on B run) and is killed (SIGKILL) while it heals; restarted with the same flags, it ends with
 * A's state, complete. B and D reach A through uncapped proxies that count the bytes on the wire: what
 * D downloads to its done beyond B to B's done, an uninterrupted sync of the same chain, is printed.
 */
import { strict as assert } from 'node:assert'

import {
  ThrottledProxy,
  TxLoad,
  compareNodes,
  field,
  sampleState,
  snapContext,
  snapLines,
  snapMetrics,
  snapSyncing,
  startSnapNode,
  startSource,
  verifyState,
  waitSnapDone,
} from './harness/index.js'

import type { ClientNode, SnapLine, SnapSyncing, Source, StateSample } from './harness/index.js'

// A chain of 126 blocks is loaded before A mines: the pivot (head - 110) is then well above genesis,
// and it goes stale (more than 120 behind) ten blocks later, so that it moves every check or two
const DEVNET = {
  accounts: 5_000,
  contracts: 500,
  slotsPerContract: 20,
  largeContracts: [4_000],
  period: 1,
  seed: 'moving',
}
const PLAN = { newAccounts: 600, touchedAccounts: 150, txsPerBlock: 6 }
const PIVOT_DISTANCE = 110
// One snap request a second: the download of this state takes about a minute, the chain moves 60 blocks
const REQUEST_RATE = 1
const FOLLOW = 20n
/** Blocks C follows B after its sync (see the C test) */
const C_FOLLOW = 10n
// D is watched this often for the heal phase: it lasts a few seconds at one request a second
const WATCH_MS = 100

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`
const pct = (n: number, of: number) => `${((n / of) * 100).toFixed(0)}%`

/** D's sync, run beside B's: what the background watcher saw at the kill and at the done after the restart */
interface DRun {
  /** `eth_syncing` when D was seen healing, just before the kill */
  heal: SnapSyncing
  /** D's pivot moves before the kill */
  moves: number
  /** Bytes on D's proxy at the kill and at D's done */
  wireAtKill: number
  wire: number
  done: SnapLine
  /** D after its restart */
  node: ClientNode
}

describe('[snap sync] a moving chain: the pivot moves, B heals and follows; C syncs from B', () => {
  let source: Source | undefined
  let a: ClientNode
  let b: ClientNode | undefined
  let c: ClientNode | undefined
  let d: ClientNode | undefined
  /** Count the bytes between A and B, A and D (uncapped) */
  let bProxy: ThrottledProxy | undefined
  let dProxy: ThrottledProxy | undefined
  let load: TxLoad
  let done: SnapLine
  let headAtDone: bigint
  /** Bytes on B's proxy at B's done: B's whole sync, the baseline of D's */
  let bWire: number
  /** D's sync, watched in the background from the start of B's; the D test awaits it */
  let dRun: Promise<DRun> | undefined
  /** Settles with dRun and never rejects: after() waits on it (and a failure before the D test is not unhandled) */
  let dRunSettled: Promise<void> | undefined
  /** Set by after(): D's watcher stops at its next look instead of killing or restarting D */
  let closing = false

  before(async function () {
    this.timeout(900_000)
    source = await startSource({ devnet: DEVNET, plan: PLAN })
    a = source.node
    await a.waitForHeight(source.chain.head.number + 2n)
    load = new TxLoad(a, source.devnet, { transfers: 4, deployments: 1, writes: 4 })
    load.start(1_000)
    bProxy = await ThrottledProxy.start(a.port)
    b = await startSnapNode(source, {
      pivotDistance: PIVOT_DISTANCE,
      bootnode: bProxy.enodeVia(await a.enode()),
      args: [`--snapRequestRate=${REQUEST_RATE}`],
    })
    // D syncs beside B, the same way, through a proxy of its own
    dProxy = await ThrottledProxy.start(a.port)
    d = await startSnapNode(source, {
      name: 'D',
      pivotDistance: PIVOT_DISTANCE,
      bootnode: dProxy.enodeVia(await a.enode()),
      args: [`--snapRequestRate=${REQUEST_RATE}`],
    })
    dRun = watchD(d, dProxy)
    dRunSettled = dRun.then(
      () => undefined,
      () => undefined,
    )
    done = await waitSnapDone(b, { timeoutMs: 600_000 })
    bWire = bProxy.forwarded
    console.log(`      B: ${done.text}`)
    headAtDone = await a.blockNumber()
  })

  /**
   * Watches D for the heal phase, kills it there (SIGKILL), restarts it with the same flags and waits
   * for its done; counts the bytes on its proxy at the kill and at the done
   */
  async function watchD(node: ClientNode, proxy: ThrottledProxy): Promise<DRun> {
    const notClosing = () => {
      if (closing) throw new Error('the spec ended before D was done')
    }
    let heal: SnapSyncing | undefined
    await node.waitFor(
      async () => {
        notClosing()
        const s = await snapSyncing(node).catch(() => undefined)
        if (s === false || (s !== undefined && ['handoff', 'done'].includes(s.snapPhase ?? '')))
          throw new Error('the heal phase ended before D could be killed in it')
        if (s?.snapPhase === 'heal') heal = s
        return heal !== undefined
      },
      { what: 'the heal phase', timeoutMs: 400_000, intervalMs: WATCH_MS, context: () => snapContext(node) },
    )
    await node.kill()
    const wireAtKill = proxy.forwarded
    const moves = snapLines(node).filter((l) => l.kind === 'moved').length
    notClosing()
    const restarted = await node.restart()
    d = restarted
    const dDone = await waitSnapDone(restarted, { timeoutMs: 400_000, onStatus: notClosing })
    return { heal: heal!, moves, wireAtKill, wire: proxy.forwarded, done: dDone, node: restarted }
  }

  after(async () => {
    await load?.stop()
    // D's watcher stops at its next look (100 ms, or 1 s after the restart), so that D is the last node it started
    closing = true
    await dRunSettled
    await d?.destroy()
    await dProxy?.close()
    await bProxy?.close()
    await c?.destroy()
    await b?.destroy()
    await source?.destroy()
  })

  it('moved its pivot at least twice while A sealed the load', async () => {
    // What A's flat state did meanwhile (docs/serving.md): printed, not asserted, since it depends on timing
    for (const line of a.logLines(/snap flat state/))
      console.log(`      A: ${line.replace(/^.*snap flat state/, 'snap flat state')}`)
    const moves = snapLines(b!).filter((l) => l.kind === 'moved')
    assert.ok(moves.length >= 2, `pivot moves: ${moves.length}\n${b!.logLines(/Snap sync/).join('\n')}`)
    assert.ok((field(done, 'moves') ?? 0) >= 2, done.text)
    const metrics = await snapMetrics(b!)
    assert.ok(metrics.pivotMoves >= 2, `snap_sync_pivot_moves_total ${metrics.pivotMoves}`)
    assert.ok(load.sent.length > 50, `${load.sent.length} transactions sent`)
  })

  it(`executes to A's head and follows A for ${FOLLOW} blocks; every block after the pivot is A's`, async () => {
    await b!.waitForExecuted(headAtDone + FOLLOW, 240_000)
    const pivot = BigInt(
      snapLines(b!)
        .filter((l) => l.kind === 'moved' || l.kind === 'pivot')
        .pop()!.fields.block,
    )
    for (let n = pivot; n <= headAtDone + FOLLOW; n++) {
      const tag = `0x${n.toString(16)}`
      const [ba, bb] = await Promise.all(
        [a, b!].map((node) => node.rpc<{ hash: string; stateRoot: string }>('eth_getBlockByNumber', [tag, false])),
      )
      assert.deepEqual(
        { hash: bb.hash, stateRoot: bb.stateRoot },
        { hash: ba.hash, stateRoot: ba.stateRoot },
        `block ${n}`,
      )
    }
  })

  it(
    'D, killed while it heals, resumes and ends with the state; ' + 'bytes downloaded again are printed',
    async function () {
      // D synced beside B (started in before()), at one request a second, killed in its heal and
      // restarted: this waits for that run and checks it
      this.timeout(900_000)
      const { heal, moves, wireAtKill, wire, done: dDone, node: dNode } = await dRun!
      const baseline = bWire
      console.log(
        `      D killed while healing: pivot ${heal.pivotBlock} after ${moves} moves, ` +
          `healed ${heal.healedTrienodes} nodes, ` +
          `${heal.healingTrienodes} pending; ${heal.syncedBytes} bytes accepted`,
      )
      assert.ok(moves >= 1, `D's pivot moved before it healed (${moves} moves)`)

      const again = wire - baseline
      const afterRestart = (field(dDone, 'downloaded') ?? 0) - Number(heal.syncedBytes)
      console.log(
        `      D after the restart: ${
          snapLines(dNode)
            .filter((l) => /resum/.test(l.text))
            .map((l) => l.text)
            .join('; ') || '(no resume line)'
        }\n` +
          `      D: ${dDone.text}\n` +
          `      on the wire: D ${mb(wireAtKill)} before the kill + ${mb(wire - wireAtKill)} after = ${mb(wire)}; ` +
          `B (no crash) ${mb(baseline)}; ` +
          `after the restart ${pct(wire - wireAtKill, baseline)} of B's, ` +
          `D - B = ${mb(again)} = ${pct(again, baseline)} of B's\n` +
          `      syncer: D downloaded=${dDone.fields.downloaded} wasted=${dDone.fields.wasted} ` +
          `(${mb(afterRestart)} accepted after the restart = ` +
          `${pct(afterRestart, field(done, 'downloaded') ?? 0)} of B's), ` +
          `B downloaded=${done.fields.downloaded} wasted=${done.fields.wasted}; ` +
          `pivot moves: D ${field(dDone, 'moves')}, B ${field(done, 'moves')}`,
      )
      // The state D downloaded is the pivot's: D answers like A there, whether or not it executes on
      // (after this restart, D was seen not to execute past the pivot: see the console line)
      const pivot = BigInt(dDone.fields.pivot)
      const { differences } = await compareNodes(
        a,
        dNode,
        pivot,
        withLoad(sampleState(source!.devnet, source!.chain, 50), load),
      )
      const blockAt = async (n: ClientNode) => {
        const b = (await n.rpc('eth_getBlockByNumber', [`0x${pivot.toString(16)}`, false]).catch(() => undefined)) as
          | { hash: string; stateRoot: string }
          | undefined
        return `${n.options.name}: ${b?.hash} root ${b?.stateRoot}`
      }
      const snapLog =
        `block ${pivot} on ${await blockAt(a)}, on ${await blockAt(dNode)}\n` +
        snapLines(dNode)
          .map((l) => l.text)
          .join('\n')
      assert.deepEqual(
        differences.slice(0, 6),
        [],
        `D answers like A at its pivot, block ${pivot} (${differences.length} differences); ` +
          `its snap sync lines:\n${snapLog}`,
      )
      const executed = await dNode.waitForExecuted(pivot + FOLLOW, 60_000).then(
        () => `D executes after its pivot (block ${dNode.executedHead()})`,
        () =>
          `D HAS NOT EXECUTED past its pivot ${pivot} within 60 s (executed head ${dNode.executedHead() ?? 'none'})`,
      )
      console.log(`      ${executed}`)
      await dNode.stop()
      const result = await verifyState(dNode.dataDir)
      assert.equal(result.code, 0, result.output)
      assert.ok(result.complete, result.output)
    },
  )

  it('answers like A for old and new accounts, contracts, slots and calls', async () => {
    await load.stop()
    const common = headAtDone + FOLLOW
    const sample = withLoad(sampleState(source!.devnet, source!.chain, 50), load)
    const { compared, differences } = await compareNodes(a, b!, common, sample)
    assert.deepEqual(differences, [], `answers at block ${common}`)
    assert.ok(compared > 500, `compared ${compared} answers`)
    const tag = `0x${common.toString(16)}`
    for (const to of source!.devnet.contracts.slice(0, 20)) {
      const [fromA, fromB] = await Promise.all([a, b!].map((n) => n.rpc('eth_call', [{ to, data: '0x' }, tag])))
      assert.equal(fromB, fromA, `eth_call ${to}`)
    }
  })

  // C follows B beyond the blocks its first fetch took: B relays A's blocks to C as hashes only, which
  // never raise the td C knows of B (a follower that chose peers by that td stopped there)
  it(
    `C snap-syncs from B alone, ` +
      `then follows B for ${C_FOLLOW} blocks: ` +
      `a snap-synced node serves the whole state`,
    async () => {
      c = await startSnapNode(source!, { name: 'C', pivotDistance: 16, bootnode: await b!.enode() })
      const cDone = await waitSnapDone(c, { timeoutMs: 300_000 })
      console.log(`      C: ${cDone.text}`)
      const head = await b!.blockNumber()
      await c.waitForExecuted(head + C_FOLLOW, 120_000)
      const { differences } = await compareNodes(
        a,
        c,
        head,
        withLoad(sampleState(source!.devnet, source!.chain, 50), load),
      )
      assert.deepEqual(differences, [], `C answers like A at block ${head}`)
    },
  )

  it("verify-state finds B's state complete", async () => {
    await b!.stop()
    const result = await verifyState(b!.dataDir)
    assert.equal(result.code, 0, result.output)
    assert.ok(result.complete, result.output)
  })
})

/** The sample plus what the load created: paid accounts, deployed contracts, written slots */
function withLoad(sample: StateSample, load: TxLoad): StateSample {
  return {
    accounts: [...sample.accounts, ...load.newAccounts.filter((_, i) => i % 3 === 0), ...load.contracts],
    slots: [...sample.slots, ...load.writes.map(({ contract, slot }) => ({ address: contract, slot }))],
  }
}
