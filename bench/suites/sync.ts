/**
 * Snap sync, phase 1: the state of one root downloaded by our `StateSync` from our server over
 * loopback RLPx (server and syncer each in its own process: serve-node.ts, sync-node.ts), against
 * the trie layer's local rebuild of the same leaves in the same run (the sorted-leaf builder and
 * the state writer into a fresh LevelDB, no network, no verification: the ceiling of phase 1).
 *
 * The state: 100k accounts, 560k slots in 744 contracts (4 of 60k slots, downloaded in sub-ranges
 * and completed with trie-node requests; 40 of 4,000 and 100 of 1,000, cut across replies; 600 of
 * 100, many to a reply) and 2,000 accounts with code (300 distinct codes of up to 24 KB). It is built
 * once and cached under the OS temp dir (state.ts).
 *
 * Timed for the sync: `StateSync.run` from a connected peer until the state is complete (ranges,
 * then the completion of their edges from the root): requests, the wire, decoding, verification,
 * building and DB writes. The syncer then walks the result from the root (not timed) and the suite
 * fails unless it is complete. `phase1PeakRssBytes` is the syncer's VmHWM. Three runs (SNAP_BENCH_PHASE1_RUNS),
 * each a local rebuild then a sync against the same server process; the figures are their medians, the
 * peak RSS their largest. The server reads ranges from its flat state (docs/serving.md), generated before
 * it listens if the cached state dir does not hold it yet; SNAP_BENCH_FLAT=0 serves from the trie.
 * SNAP_BENCH_SYNC_PROFILE=<file>: the syncer writes a CPU profile of the timed part there;
 * SNAP_BENCH_PROFILE=<dir>: the server writes its CPU profile there (serve.ts).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import { bytesToHex, equalsBytes } from '@ethereumjs/util'

import { freePort } from '../../integration/harness/ports.js'
import { initKeccak } from '../../src/trie/keccak.js'

import { chainSyncFigures } from './chainsync.js'
import { startServer } from './serve.js'
import { buildState, cachedState, openState } from './state.js'

import type { SyncNodeResult } from './sync-node.js'
import type { BuiltState, StateSpec } from './state.js'

// Contract sizes interleaved, so that every part of the key space has large and small ones
const CONTRACT_MIX = [
  { count: 1, slots: 60_000 },
  { count: 10, slots: 4000 },
  { count: 25, slots: 1000 },
  { count: 150, slots: 100 },
]

/** The state synced: see the module comment */
export const SYNC_STATE: StateSpec = {
  accounts: 100_000,
  contracts: [...CONTRACT_MIX, ...CONTRACT_MIX, ...CONTRACT_MIX, ...CONTRACT_MIX],
  codeAccounts: 2000,
  distinctCodes: 300,
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times */
const CLOCK_TICKS = 100

/** The local rebuild: the same state built into a fresh LevelDB; only building and writing are timed */
async function localRebuild(dir: string): Promise<BuiltState> {
  const db = await openState(dir)
  try {
    return await buildState(SYNC_STATE, db)
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function runSyncer(enode: string, root: Uint8Array, dir: string): Promise<SyncNodeResult> {
  const script = fileURLToPath(new URL('./sync-node.ts', import.meta.url))
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', script, enode, bytesToHex(root), dir],
    { maxBuffer: 1 << 20 },
  )
  return JSON.parse(stdout.trim().split('\n').pop()!) as SyncNodeResult
}

/** CPU seconds a process has used (all its threads), from /proc */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return 0
  // utime and stime, fields 14 and 15, after the parenthesised command name
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

// The suite fails on a sync that does not deliver the whole state
function check(synced: SyncNodeResult, source: BuiltState): void {
  const { walk } = synced
  if (
    !synced.complete ||
    walk.accounts !== source.accounts ||
    walk.slots !== source.slots ||
    walk.codes !== source.codeAccounts
  ) {
    throw new Error(
      `synced state incomplete: walk ${JSON.stringify(walk)}, ` +
        `source ${source.accounts} accounts, ${source.slots} slots, ${source.codeAccounts} with code`,
    )
  }
}

/** Runs of phase 1 and of the local rebuild, interleaved (SNAP_BENCH_PHASE1_RUNS): the figures are medians */
const PHASE1_RUNS = Number(process.env.SNAP_BENCH_PHASE1_RUNS ?? 3)

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]

/** One local rebuild and one phase 1 after it, on the same machine state */
interface Phase1Run {
  rebuild: BuiltState
  synced: SyncNodeResult
  serverCpuSeconds: number
}

/**
 * Phase 1 alone, beside the local rebuild (see the module comment). A shared machine moves either
 * figure by ±15% from one run to the next, so each run pairs a rebuild with a sync right after it,
 * and the ratio is the median of the runs' ratios
 */
async function phase1Figures(): Promise<{ [name: string]: number }> {
  await initKeccak()
  const built = performance.now()
  const source = await cachedState(SYNC_STATE)
  const sourceSeconds = (performance.now() - built) / 1000
  const dir = mkdtempSync(join(tmpdir(), 'snap-bench-sync-'))
  let server: ReturnType<typeof startServer> | undefined
  try {
    server = startServer(source.dir, source.state.root, await freePort())
    const enode = await server.enode
    const runs: Phase1Run[] = []
    for (let i = 0; i < PHASE1_RUNS; i++) {
      const rebuild = await localRebuild(join(dir, 'rebuild'))
      if (!equalsBytes(rebuild.root, source.state.root))
        throw new Error('local rebuild gave another root than the cached state')
      // The server works only for the syncer, and only while it syncs (the walk afterwards is local)
      const serverCpu = cpuSecondsOf(server.pid)
      const synced = await runSyncer(enode, source.state.root, join(dir, `synced${i}`))
      runs.push({ rebuild, synced, serverCpuSeconds: cpuSecondsOf(server.pid) - serverCpu })
      check(synced, source.state)
      rmSync(join(dir, `synced${i}`), { recursive: true, force: true })
    }
    const leaves = source.state.accounts + source.state.slots
    const ratios = runs.map((r) => r.rebuild.buildSeconds / r.synced.seconds)
    const snapSeconds = median(runs.map((r) => r.synced.seconds))
    const rebuildSeconds = median(runs.map((r) => r.rebuild.buildSeconds))
    const c = runs[0].synced.counters
    return {
      accounts: source.state.accounts,
      slots: source.state.slots,
      codes: source.state.codes,
      sourceStateCached: source.cached ? 1 : 0,
      sourceStateSeconds: sourceSeconds,
      phase1Runs: runs.length,
      snapAccountsPerSec: source.state.accounts / snapSeconds,
      snapSlotsPerSec: source.state.slots / snapSeconds,
      snapLeavesPerSec: leaves / snapSeconds,
      localRebuildLeavesPerSec: leaves / rebuildSeconds,
      snapOverLocalRebuild: median(ratios),
      snapOverLocalRebuildMin: Math.min(...ratios),
      snapOverLocalRebuildMax: Math.max(...ratios),
      snapPhase1Seconds: snapSeconds,
      snapRangeSeconds: median(runs.map((r) => r.synced.rangeSeconds)),
      localRebuildSeconds: rebuildSeconds,
      snapSyncerCpuSeconds: median(runs.map((r) => r.synced.cpuSeconds)),
      snapServerCpuSeconds: median(runs.map((r) => r.serverCpuSeconds)),
      localRebuildCpuSeconds: median(runs.map((r) => r.rebuild.buildCpuSeconds)),
      snapSyncerCpuOverLocalRebuildCpu: median(runs.map((r) => r.synced.cpuSeconds / r.rebuild.buildCpuSeconds)),
      // The largest of the runs: the target is a bound
      phase1PeakRssBytes: Math.max(...runs.map((r) => r.synced.vmHwmBytes)),
      phase1PeakRssSampledBytes: Math.max(...runs.map((r) => r.synced.peakRssSampledBytes)),
      syncedAccounts: c.accounts,
      syncedSlots: c.slots,
      syncedCodes: c.codes,
      syncedTrieNodesFetched: c.trieNodes,
      syncedNodesWritten: runs[0].synced.nodesWritten,
      rebuildNodesWritten: runs[0].rebuild.nodes,
      syncedBytes: c.bytes,
      syncedWastedBytes: c.wastedBytes,
      walkSeconds: runs[0].synced.walkSeconds,
    }
  } finally {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The `sync` suite: phase 1 (above), then full sync against snap sync of the benchmark chains
 * (chainsync.ts). SNAP_BENCH_SYNC_PARTS=phase1 or =chain runs one part only.
 */
export async function syncSuite(opts: { out?: string }): Promise<{ [name: string]: number }> {
  const parts = (process.env.SNAP_BENCH_SYNC_PARTS ?? 'phase1,chain').split(',')
  return {
    ...(parts.includes('phase1') ? await phase1Figures() : {}),
    ...(parts.includes('chain') ? await chainSyncFigures(opts.out) : {}),
  }
}
