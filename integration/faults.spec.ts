/**
 * Lying peers beside an honest one, real processes: each liar is a client process on the same devnet
 * whose snap server tells one lie to every request (the test-only `--snapTestLies`). B snap-syncs
 * with A (honest) and the liars as peers: it drops each liar it asked, naming the peer and the
 * reason in its log, finishes from A, and ends with A's state.
 */
import { strict as assert } from 'node:assert'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'

import { ClientNode, compareNodes, sampleState, snapLines, startSource, verifyState, waitSnapDone } from './harness/index.js'

import type { Source } from './harness/index.js'

// Many contracts with distinct codes: code requests go to every peer, so code liars are asked too
const DEVNET = { accounts: 3_000, contracts: 400, slotsPerContract: 8, largeContracts: [3_000], period: 1, seed: 'faults' }
const PLAN = { newAccounts: 200, touchedAccounts: 100 }

/**
 * Each lie and the drop reasons it may earn (the first check that catches it names it). Not here:
 * `extraProof` (unused proof nodes are tolerated, as geth does: test/sync/statesync.spec.ts), and the
 * valid short replies `capped` and `partialCodes`.
 */
const LIES: { [lie: string]: RegExp } = {
  corrupt: /invalid_proof|bad_code|bad_node/,
  lyingCont: /invalid_proof/,
  dropProofNode: /invalid_proof/,
  noProof: /invalid_proof/,
  oversized: /oversized/,
  wrongCode: /bad_code/,
  unrequested: /bad_code|bad_node|oversized/,
  silent: /timeout/,
}

/** Groups of liars that B meets at once (each group costs one sync) */
const GROUPS = [
  ['corrupt', 'lyingCont', 'dropProofNode', 'wrongCode', 'silent'],
  ['noProof', 'oversized', 'unrequested'],
]

describe('[snap sync] lying peers beside an honest one', function () {
  let source: Source | undefined

  before(async function () {
    this.timeout(600_000)
    source = await startSource({ devnet: DEVNET, plan: PLAN })
    await source.node.waitForHeight(source.chain.head.number + 2n)
  })

  after(async () => {
    await source?.destroy()
  })

  for (const [g, group] of GROUPS.entries()) {
    it(`drops each liar (${group.join(', ')}), names it and why, and ends with A's state`, async function () {
      this.timeout(900_000)
      const a = source!.node
      const liars: { lie: string; node: ClientNode; id: string }[] = []
      let b: ClientNode | undefined
      try {
        for (const lie of group) {
          const node = await ClientNode.start({
            name: `L-${lie}`,
            genesisFile: source!.files.genesisFile,
            sync: 'full',
            bootnodes: [await a.enode()],
            args: [`--snapTestLies=${lie}`],
          })
          liars.push({ lie, node, id: (await node.enode()).slice('enode://'.length, 'enode://'.length + 8) })
        }
        // The liars follow A's chain (and so serve its recent roots) before B asks them
        const head = await a.blockNumber()
        await Promise.all(liars.map((l) => l.node.waitForHeight(head)))
        for (const l of liars) assert.match(l.node.log(), /snap server: TEST MODE, every reply lies \(--snapTestLies=/)
        b = await ClientNode.start({
          name: `B${g}`,
          genesisFile: source!.files.genesisFile,
          sync: 'snap',
          bootnodes: [await a.enode(), ...(await Promise.all(liars.map((l) => l.node.enode())))],
          args: ['--snapPivotDistance=2'],
        })
        const done = await waitSnapDone(b, { timeoutMs: 600_000 })
        console.log(`      B${g}: ${done.text}`)
        const drops = snapLines(b).filter((l) => l.kind === 'drop')
        for (const l of drops) console.log(`      ${l.text}`)
        for (const liar of liars) {
          const drop = drops.find((l) => l.text.startsWith(`Snap sync: dropped peer ${liar.id} `))
          assert.ok(drop !== undefined, `${liar.lie} (${liar.id}) was not dropped\n${drops.map((l) => l.text).join('\n')}`)
          assert.match(drop.fields.reason, LIES[liar.lie], `${liar.lie}: ${drop.text}`)
        }
        // A, the honest one, is never dropped
        const aId = (await a.enode()).slice('enode://'.length, 'enode://'.length + 8)
        assert.ok(!drops.some((l) => l.text.includes(aId)), 'A was dropped')
        // Executed from the downloaded state: compared with A at the last block B executed
        await b.waitForExecuted(BigInt(done.fields.pivot) + 1n, 120_000)
        const at = b.executedHead()!
        const sample = sampleState(source!.devnet, source!.chain, 50)
        const { compared, differences } = await compareNodes(a, b, at, sample)
        assert.deepEqual(differences.slice(0, 10), [], `${differences.length} of ${compared} answers differ`)
        await b.stop()
        const result = await verifyState(b.dataDir)
        assert.ok(result.complete, result.output)
      } catch (err) {
        if (process.env.SNAP_TEST_KEEP_LOGS !== undefined && b !== undefined) copyFileSync(b.logFile, join(process.env.SNAP_TEST_KEEP_LOGS, `faults-B${g}.log`))
        throw err
      } finally {
        await b?.destroy()
        await Promise.all(liars.map((l) => l.node.destroy()))
      }
    })
  }
})
