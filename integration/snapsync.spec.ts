/**
 * Snap sync between two real client processes on loopback. A mines (clique, one block a second) on a
 * generated state of 20k+ accounts, 2k+ contracts and 100k+ slots, three contracts of 6k-10k slots,
 * changed after genesis by blocks of transfers; B starts empty with `--sync=snap`, downloads the state
 * of a pivot block, hands over to the client's block execution, reaches A's head and follows it.
 * B then answers like A, holds no state it never downloaded, and its data dir verifies complete.
 */
import { strict as assert } from 'node:assert'

import {
  compareNodes,
  field,
  sampleState,
  snapLines,
  snapMetrics,
  startSnapNode,
  startSource,
  verifyState,
  waitSnapDone,
  waitSynced,
} from './harness/index.js'

import type { ClientNode, SnapLine, Source } from './harness/index.js'

// The state of the issue: ≥20k accounts, ≥2k contracts, ≥100k slots, some contracts over 5k slots
const DEVNET = {
  accounts: 20_000,
  contracts: 2_000,
  slotsPerContract: 40,
  largeContracts: [6_000, 8_000, 10_000],
  period: 1,
  seed: 'snapsync',
}
// Accounts created and changed after genesis, 50 a block: the pivot's state is not the genesis state
// B builds itself, and B executes some of these blocks after the handoff
const PLAN = { newAccounts: 1_000, touchedAccounts: 500, txsPerBlock: 50 }
// Below the default (64) so that A, which starts with the chain's 30 blocks, has a pivot sooner
const PIVOT_DISTANCE = 32
// Blocks B must follow A after the sync
const FOLLOW = 20n

describe('[snap sync] B snap-syncs a 20k-account clique state from A and follows it', () => {
  let source: Source | undefined
  let a: ClientNode
  let b: ClientNode | undefined
  let done: SnapLine
  let pivot: SnapLine
  let headAtDone: bigint

  before(async function () {
    this.timeout(900_000)
    const started = Date.now()
    const secs = () => `${((Date.now() - started) / 1000).toFixed(0)} s`
    const step = (what: string) => {
      if (what.startsWith('A built')) console.log(`      ${what}`)
    }
    source = await startSource({ devnet: DEVNET, plan: PLAN, step })
    a = source.node
    console.log(`      A loaded its ${source.chain.blocks.length} blocks and mines (${secs()})`)
    // The pivot comes out among the chain's blocks (B executes those above it) and well above block 1
    await a.waitForHeight(source.chain.head.number + 6n)
    const bStarting = Date.now()
    b = await startSnapNode(source, { pivotDistance: PIVOT_DISTANCE })
    console.log(`      B answers JSON-RPC after ${((Date.now() - bStarting) / 1000).toFixed(0)} s (${secs()})`)
    done = await waitSnapDone(b, { timeoutMs: 600_000 })
    console.log(`      B: ${done.text} (${secs()})`)
    headAtDone = await a.blockNumber()
    const pivots = snapLines(b).filter((l) => l.kind === 'pivot')
    assert.ok(pivots.length > 0, `B logged a pivot\n${b.logTail()}`)
    pivot = pivots[pivots.length - 1]
  })

  after(async () => {
    await b?.destroy()
    await source?.destroy()
  })

  it("took a pivot of A's chain and downloaded its state", async () => {
    const number = BigInt(pivot.fields.block)
    assert.ok(number > 1n, `pivot ${number} is above the first blocks`)
    const block = await a.rpc<{ hash: string; stateRoot: string }>('eth_getBlockByNumber', [
      `0x${number.toString(16)}`,
      false,
    ])
    assert.equal(pivot.fields.hash, block.hash, 'pivot hash')
    assert.equal(pivot.fields.root, block.stateRoot, 'pivot state root')

    // Every account range is downloaded; storage tries and codes that B holds already (its genesis
    // state) may be skipped: verify-state counts what B holds in the end
    const accounts = source!.chain.accountsAt(number)
    assert.ok(
      (field(done, 'accounts') ?? 0) >= accounts,
      `accounts: ${done.fields.accounts} downloaded, the pivot's state has ${accounts}`,
    )
    assert.ok((field(done, 'slots') ?? 0) > 0 && (field(done, 'codes') ?? 0) > 0, 'slots and codes downloaded')
    assert.ok((field(done, 'downloaded') ?? 0) > 0, 'bytes downloaded')
    assert.ok(field(done, 'wasted') !== undefined, 'wasted bytes reported')
    assert.ok(
      snapLines(b!).some((l) => l.kind === 'complete'),
      'a "state complete" line at the handoff',
    )
    assert.ok(
      snapLines(b!).some((l) => l.kind === 'progress' && l.fields.phase === 'state'),
      'progress lines while downloading',
    )

    const metrics = await snapMetrics(b!)
    assert.ok(metrics.accounts >= accounts, `snap_sync_accounts_total ${metrics.accounts}`)
    assert.ok(metrics.bytes > 0, 'snap_sync_bytes_total')
    assert.equal(metrics.phase, 'done', 'snap_sync_phase')
    assert.equal(BigInt(metrics.pivotBlock), number, 'snap_sync_pivot_block')
  })

  // A serves ranges of a root from the trie until its flat state holds that root (docs/serving.md)
  it("A flattened the state of B's first pivot on demand, to serve its ranges from it", async () => {
    const first = snapLines(b!).find((l) => l.kind === 'pivot')!
    const root = String(first.fields.root).slice(2, 10)
    const line = await a.waitForLog(new RegExp(`snap flat state: generated for root ${root}`), 120_000)
    assert.match(line, /generated for root \w+: \d+ accounts, \d+ slots/)
  })

  // On this 1 s chain B reaches A's head only by importing the blocks A announces while a block-pipeline
  // round runs (AnnouncedBlocks); without them it trailed 2-8 blocks and eth_syncing never said false
  it('says it is synced: eth_syncing false', async () => {
    await waitSynced(b!, 60_000)
  })

  it(`follows A for ${FOLLOW} blocks after the sync`, async () => {
    await b!.waitForExecuted(headAtDone + FOLLOW, 180_000)
  })

  it('answers like A at a block both have: block, balances, nonces, code, storage (large contracts too)', async () => {
    const common = headAtDone + FOLLOW
    await b!.waitForExecuted(common)
    const sample = sampleState(source!.devnet, source!.chain)
    const { compared, differences } = await compareNodes(a, b!, common, sample)
    assert.deepEqual(differences, [], `answers at block ${common}`)
    assert.ok(sample.slots.length > 200 && compared > 1000, `compared ${compared} answers`)
    // The chain's blocks are B's as well: B holds the headers and bodies below its pivot
    const head = source!.chain.head
    const loaded = await b!.rpc<{ hash: string }>('eth_getBlockByNumber', [`0x${head.number.toString(16)}`, false])
    assert.equal(loaded.hash, head.hash)
  })

  it('has no state below its pivot and did not execute blocks from genesis', async () => {
    const number = BigInt(pivot.fields.block)
    // Block 1 changed the state: its root is neither genesis nor the pivot's, so B cannot have it
    const account = source!.chain.newAccounts[0]
    assert.notEqual(await a.rpc('eth_getBalance', [account, '0x1']), undefined, 'A has the state of block 1')
    await assert.rejects(b!.rpc('eth_getBalance', [account, '0x1']), 'B has no state for block 1')
    // "Executed blocks count=N first=F ... last=L": F is the block execution started from
    const executed = b!.logLines(/Executed blocks/).map((l) => BigInt(/first=(\d+)/.exec(l)?.[1] ?? '-1'))
    assert.ok(executed.length > 0, 'B executed blocks after the handoff')
    for (const first of executed)
      assert.ok(first >= number, `B executed from block ${first}, below its pivot ${number}`)
  })

  it('verify-state finds the state of its last executed block complete', async () => {
    await b!.stop()
    const result = await verifyState(b!.dataDir)
    assert.equal(result.code, 0, result.output)
    assert.ok(result.complete, result.output)
    assert.ok(result.headBlock !== undefined && result.headBlock >= headAtDone + FOLLOW, result.output)
    // Blocks after the chain's carry no transactions: the head state is the chain's last state
    assert.equal(result.stateRoot, source!.chain.head.stateRoot, result.output)
    const { accounts, slots, codes } = source!.chain.counts
    assert.deepEqual(
      result.counts && { accounts: result.counts.accounts, slots: result.counts.slots, codes: result.counts.codes },
      { accounts, slots, codes },
    )
  })
})
