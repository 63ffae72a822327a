/**
 * `npm run demo`: snap sync on this machine, no flags, no network beyond loopback. It generates a
 * clique devnet (tens of thousands of accounts, contracts with code and storage, two large ones),
 * builds blocks of transfers on it, starts a mining source node A, then a node B with `--sync=snap`
 * that downloads A's state with live progress. Then it compares B's JSON-RPC answers with A's at a
 * block both have, stops B, runs `verify-state` on B's data dir and prints a summary. Both nodes are
 * stopped and every temporary file removed at the end, also on failure or Ctrl-C.
 */
import {
  compareNodes,
  field,
  sampleState,
  snapLines,
  snapSyncing,
  removeTempDirs,
  startSnapNode,
  startSource,
  stopAllNodes,
  verifyState,
} from '../integration/harness/index.js'

import { ProgressView, mib } from './progress.js'

import type { StateTotals } from './progress.js'
import type { ClientNode, SnapLine, Source } from '../integration/harness/index.js'

const DEVNET = {
  accounts: 25_000,
  contracts: 1_000,
  slotsPerContract: 25,
  largeContracts: [6_000, 10_000],
  period: 1,
  seed: 'demo',
}
// 100 transfers a block: 20 blocks, of which B executes those above its pivot after the handoff
const PLAN = { newAccounts: 1_500, touchedAccounts: 500, txsPerBlock: 100 }
// Below the default (64): A starts with only the demo's 20 blocks and the pivot comes sooner
const PIVOT_DISTANCE = 32
const POLL_MS = 500
const SYNC_TIMEOUT_MS = 15 * 60_000

const started = Date.now()
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const say = (what: string) => console.log(`[${secs(Date.now() - started).padStart(7)}] ${what}`)
const num = (n: number) => n.toLocaleString('en-US')
const rate = (n: number, ms: number) => (ms > 0 ? num(Math.round((n * 1000) / ms)) : '-')

let source: Source | undefined
let b: ClientNode | undefined

/** Stops both nodes and removes their files, also those of a source still being set up; idempotent */
async function cleanUp(): Promise<void> {
  const [node, src] = [b, source]
  b = source = undefined
  await node?.destroy()
  await src?.destroy()
  await stopAllNodes()
  removeTempDirs()
}

/** Follows B's sync until it is done; returns the done line and when each phase was first seen */
async function watchSync(
  node: ClientNode,
  totals: (pivot: bigint) => StateTotals,
): Promise<{ done: SnapLine; phases: Map<string, number> }> {
  const view = new ProgressView(totals)
  const phases = new Map<string, number>()
  let done: SnapLine | undefined
  try {
    await node.waitFor(
      async () => {
        const status = await snapSyncing(node).catch(() => undefined)
        if (status === undefined) return false
        const phase = status === false ? 'synced' : status.snapPhase
        if (phase !== undefined && !phases.has(phase)) phases.set(phase, Date.now())
        view.update(status)
        done = snapLines(node).find((l) => l.kind === 'done')
        return done !== undefined
      },
      { what: 'the snap sync to finish', timeoutMs: SYNC_TIMEOUT_MS, intervalMs: POLL_MS },
    )
  } finally {
    view.finish()
  }
  return { done: done!, phases }
}

function printSummary(rows: [string, string][]): void {
  const width = Math.max(...rows.map(([label]) => label.length))
  console.log('\nSnap sync demo: summary')
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`)
}

async function main(): Promise<void> {
  source = await startSource({ devnet: DEVNET, plan: PLAN, step: say })
  const a = source.node
  const totals = source.chain.counts
  say(`A mines on a state of ${num(totals.accounts)} accounts, ${num(totals.slots)} slots, ${num(totals.codes)} codes`)

  // A pivot among the chain's blocks, well above block 1
  await a.waitForHeight(source.chain.head.number + 6n)
  say('starting B with --sync=snap')
  const bStarting = Date.now()
  b = await startSnapNode(source, { pivotDistance: PIVOT_DISTANCE })
  const bUp = Date.now()
  say(`B is up after ${secs(bUp - bStarting)}; snap sync from A:`)
  const chain = source.chain
  const { done, phases } = await watchSync(b, (pivot) => ({ ...totals, accounts: chain.accountsAt(pivot) }))
  const synced = Date.now()
  say(done.text)

  const headA = await a.blockNumber()
  await b.waitForExecuted(headA, 120_000)
  const syncing = await snapSyncing(b)
  const executed = b.executedHead()
  const common = headA
  say(`B executed block ${common}, A's head when the sync ended; comparing JSON-RPC answers there`)
  const { compared, differences } = await compareNodes(a, b, common, sampleState(source.devnet, source.chain))
  for (const d of differences.slice(0, 10)) say(`  differs: ${d}`)

  say('stopping B and running verify-state on its data dir')
  await b.stop()
  const verified = await verifyState(b.dataDir)
  const stateStart = phases.get('state') ?? bUp
  const stateEnd = phases.get('heal') ?? phases.get('handoff') ?? synced
  const downloaded = field(done, 'downloaded') ?? 0
  const c = verified.counts
  printSummary([
    [
      "A's state",
      `${num(totals.accounts)} accounts, ${num(totals.slots)} slots, ${num(totals.codes)} codes ` +
        `(${source.chain.blocks.length} blocks of transfers after genesis)`,
    ],
    ['pivot', `block ${done.fields.pivot}`],
    ['B start', secs(bUp - bStarting)],
    ['state download', secs(stateEnd - stateStart)],
    ['heal + handoff to the head', secs(synced - stateEnd)],
    ['total', secs(Date.now() - started)],
    ['downloaded', `${done.fields.downloaded} (wasted ${done.fields.wasted})`],
    [
      'rates (state download)',
      `${rate(field(done, 'accounts') ?? 0, stateEnd - stateStart)} accounts/s, ` +
        `${rate(field(done, 'slots') ?? 0, stateEnd - stateStart)} slots/s, ` +
        `${mib((downloaded * 1000) / Math.max(1, stateEnd - stateStart))}/s`,
    ],
    [
      'eth_syncing at the head',
      (syncing === false
        ? 'false'
        : `still syncing (currentBlock ${syncing.currentBlock}, highestBlock ${syncing.highestBlock})`) +
        `; B had executed block ${executed}`,
    ],
    [
      'JSON-RPC vs A',
      `${num(compared)} answers at block ${common}: ` +
        `${differences.length === 0 ? 'all equal' : `${differences.length} differ`}`,
    ],
    [
      'verify-state',
      c === undefined
        ? `failed (exit ${verified.code})`
        : `${verified.complete ? 'complete' : 'INCOMPLETE'}: ${num(c.accounts)} accounts, ${num(c.slots)} slots, ` +
          `${num(c.codes)} codes, ${num(c.nodes)} nodes at block ${verified.headBlock}`,
    ],
  ])
  if (differences.length > 0 || !verified.complete) {
    if (!verified.complete) console.log(verified.output)
    throw new Error('B does not hold the same state as A')
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the nodes and removing their files`)
    void cleanUp().finally(() => process.exit(130))
  })
}

main()
  .catch((err: Error) => {
    console.error(`\ndemo failed: ${err.message}`)
    process.exitCode = 1
  })
  .finally(() => cleanUp())
