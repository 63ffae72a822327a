/**
 * Snap sync, phase 1: the state of one root downloaded by our `StateSync` from our server over
 * loopback RLPx (server and syncer each in its own process: serve-node.ts, sync-node.ts), against
 * the trie layer's local rebuild of the same leaves in the same run (the sorted-leaf builder and
 * the state writer into a fresh LevelDB, no network, no verification: the ceiling of phase 1).
 *
 * Two states (SNAP_BENCH_SYNC_SIZES, default `1x,10x`), each built once and cached under the OS temp
 * dir (state.ts):
 * - 1x: 100k accounts, 560k slots in 744 contracts (4 of 60k slots, downloaded in sub-ranges and
 *   completed with trie-node requests; 40 of 4,000 and 100 of 1,000, cut across replies; 600 of 100,
 *   many to a reply) and 2,000 accounts with code (300 distinct codes of up to 24 KB);
 * - 10x (figures suffixed `10x`): 1M accounts, 5.61M slots: contracts of 1M, 750k and 500k slots
 *   among 24 times the 1x mix, and 20k accounts sharing the same 300 codes.
 *
 * Timed for the sync: `StateSync.run` from a connected peer until the state is complete (ranges,
 * then the completion of their edges from the root): requests, the wire, decoding, verification,
 * building and DB writes. The syncer of each size's first run then walks the result from the root
 * (not timed) and the suite fails unless it is complete; a later run must have written the same
 * nodes. Three runs (SNAP_BENCH_PHASE1_RUNS), each a local rebuild then a sync against the same server
 * process, the sizes taking turns; the figures are their medians, the peak RSS their largest.
 * `phase1PeakRssBytes` is the syncer's VmHWM, `serverPeakRssBytes` its server's (over its flat-state
 * generation, if it generated, and every run), each also split into its anonymous and file-backed
 * peaks (procmem.ts: LevelDB maps its tables, so the RSS counts page cache).
 * The server reads ranges from its flat state (docs/serving.md), generated before it listens if the
 * cached state dir does not hold it yet (`serverFlatGenerateSeconds`, kept beside the cache);
 * SNAP_BENCH_FLAT=0 serves from the trie.
 * Profiles (each file name gets the size's suffix): SNAP_BENCH_SYNC_PROFILE=<file>, the syncer's CPU
 * profile of the timed part; SNAP_BENCH_SYNC_HEAP=<file>, a sampled heap profile at its peak;
 * SNAP_BENCH_SYNC_ALLOCS=<file>, every allocation it made (sync-node.ts). SNAP_BENCH_PROFILE=<dir>:
 * the server's CPU profile (serve.ts). `node scripts/profile-top.mjs FILE` lists their top entries.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import { bytesToHex, equalsBytes } from '@ethereumjs/util'

import { freePort } from '../../integration/harness/ports.js'
import { initKeccak } from '../../src/trie/keccak.js'

import { MemorySampler, procMemory } from './procmem.js'

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

const mixes = (n: number) => Array.from({ length: n }, () => CONTRACT_MIX).flat()

/**
 * Ten times the leaves: 1M accounts and 5.6M slots. Three contracts of 1M, 750k and 500k slots (each
 * a storage trie far larger than one reply, like mainnet's largest) among 24 of the mix above, and
 * 20k accounts sharing the same 300 codes
 */
export const SYNC_STATE_10X: StateSpec = {
  accounts: 1_000_000,
  contracts: [
    { count: 1, slots: 1_000_000 },
    ...mixes(8),
    { count: 1, slots: 750_000 },
    ...mixes(8),
    { count: 1, slots: 500_000 },
    ...mixes(8),
  ],
  codeAccounts: 20_000,
  distinctCodes: 300,
}

/** The sizes of phase 1, by figure suffix ('' for the 1x state) */
const SIZES: { [suffix: string]: StateSpec } = { '': SYNC_STATE, '10x': SYNC_STATE_10X }

/** Sampling period of the servers' memory */
const SERVER_SAMPLE_MS = 200

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times */
const CLOCK_TICKS = 100

/** The local rebuild: the same state built into a fresh LevelDB; only building and writing are timed */
async function localRebuild(spec: StateSpec, dir: string): Promise<BuiltState & { writeWaitSeconds: number }> {
  const db = await openState(dir)
  // Its batch writes, timed as the syncer's are (sync-node.ts)
  let writeWait = 0
  const batch = db.batch.bind(db) as (ops: never, opts: never) => Promise<void>
  db.batch = (async (ops: never, opts: never) => {
    const started = performance.now()
    try {
      await batch(ops, opts)
    } finally {
      writeWait += performance.now() - started
    }
  }) as never
  try {
    return { ...(await buildState(spec, db)), writeWaitSeconds: writeWait / 1000 }
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Env of a syncer of the `suffix` size: its profile files (SNAP_BENCH_SYNC_PROFILE, _HEAP, _ALLOCS) get the
 * suffix, so that the two sizes do not overwrite each other's
 */
function syncerEnv(suffix: string): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const name of ['SNAP_BENCH_SYNC_PROFILE', 'SNAP_BENCH_SYNC_HEAP', 'SNAP_BENCH_SYNC_ALLOCS']) {
    const file = env[name]
    if (file !== undefined && suffix !== '') env[name] = file.replace(/(\.[a-z]+)?$/, `-${suffix}$1`)
  }
  return env
}

async function runSyncer(
  enode: string,
  root: Uint8Array,
  dir: string,
  suffix: string,
  walk: boolean,
): Promise<SyncNodeResult> {
  const script = fileURLToPath(new URL('./sync-node.ts', import.meta.url))
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', script, enode, bytesToHex(root), dir],
    { maxBuffer: 1 << 20, env: { ...syncerEnv(suffix), SNAP_BENCH_SYNC_WALK: walk ? '1' : '0' } },
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

/**
 * The walk of a synced state takes longer than its sync at 10x (~250 s), so only the first run of a
 * size is walked; a later one must have ended complete (its root stored) with the accounts of the
 * first and its nodes within 0.1% (the edges of the ranges are completed by healing, whose node
 * count moves by a few from run to run)
 */
function checkLike(synced: SyncNodeResult, first: SyncNodeResult): void {
  const nodes = Math.abs(synced.nodesWritten - first.nodesWritten) <= first.nodesWritten / 1000
  if (!synced.complete || !nodes || synced.counters.accounts !== first.counters.accounts) {
    throw new Error(
      `synced state unlike the walked run's: complete ${synced.complete}, ${synced.counters.accounts} accounts ` +
        `and ${synced.nodesWritten} nodes against ${first.counters.accounts} and ${first.nodesWritten}`,
    )
  }
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
  rebuild: BuiltState & { writeWaitSeconds: number }
  synced: SyncNodeResult
  serverCpuSeconds: number
}

/** One size of phase 1: its cached state, the server of it, and its runs */
interface Phase1Size {
  suffix: string
  spec: StateSpec
  source: Awaited<ReturnType<typeof cachedState>>
  sourceSeconds: number
  server: ReturnType<typeof startServer>
  enode: string
  /** Seconds the server took to generate its flat state (kept beside the cache; unknown for an older cache) */
  flatGenerateSeconds: number | undefined
  /** The server's memory, from its start (and generation, if it generated) to the end of the runs */
  serverMemory: MemorySampler
  runs: Phase1Run[]
}

/**
 * The state of one size, cached, and its server listening. A server that generated its flat state
 * says how long it took; the figure is kept beside the cached state, which keeps the flat state too
 */
async function prepareSize(suffix: string, spec: StateSpec): Promise<Phase1Size> {
  const built = performance.now()
  const source = await cachedState(spec)
  const sourceSeconds = (performance.now() - built) / 1000
  const server = startServer(source.dir, source.state.root, await freePort())
  const serverMemory = new MemorySampler(server.pid ?? 'self', SERVER_SAMPLE_MS)
  const enode = await server.enode.catch(async (err: Error) => {
    serverMemory.stop()
    await server.stop()
    throw err
  })
  const record = join(dirname(source.dir), 'flat.json')
  const generated = server.flatGenerateSeconds()
  if (generated !== undefined) writeFileSync(record, `${JSON.stringify({ seconds: generated })}\n`)
  const flatGenerateSeconds = existsSync(record)
    ? (JSON.parse(readFileSync(record, 'utf8')).seconds as number)
    : undefined
  return { suffix, spec, source, sourceSeconds, server, enode, flatGenerateSeconds, serverMemory, runs: [] }
}

/** A rebuild of the size's state, then a sync of it from its server */
async function runOnce(size: Phase1Size, dir: string, i: number): Promise<void> {
  const { source, server } = size
  const rebuild = await localRebuild(size.spec, join(dir, 'rebuild'))
  if (!equalsBytes(rebuild.root, source.state.root))
    throw new Error('local rebuild gave another root than the cached state')
  // The server works only for the syncer, and only while it syncs (the walk afterwards is local)
  const serverCpu = cpuSecondsOf(server.pid)
  const target = join(dir, `synced${size.suffix}-${i}`)
  // Every 1x run is walked (~20 s); at 10x the first only
  const first = size.suffix === '' ? undefined : size.runs[0]?.synced
  const synced = await runSyncer(size.enode, source.state.root, target, size.suffix, first === undefined)
  size.runs.push({ rebuild, synced, serverCpuSeconds: cpuSecondsOf(server.pid) - serverCpu })
  if (first === undefined) check(synced, source.state)
  else checkLike(synced, first)
  rmSync(target, { recursive: true, force: true })
  say(
    `phase 1${size.suffix === '' ? '' : ` ${size.suffix}`} run ${i + 1}: sync ${synced.seconds.toFixed(1)} s, ` +
      `rebuild ${rebuild.buildSeconds.toFixed(1)} s, ratio ${(rebuild.buildSeconds / synced.seconds).toFixed(3)}`,
  )
}

function say(line: string): void {
  process.stderr.write(`${line}\n`)
}

/** The figures of one size, their names suffixed with it */
function sizeFigures(size: Phase1Size): { [name: string]: number } {
  const { source, runs } = size
  const leaves = source.state.accounts + source.state.slots
  const ratios = runs.map((r) => r.rebuild.buildSeconds / r.synced.seconds)
  const snapSeconds = median(runs.map((r) => r.synced.seconds))
  const rebuildSeconds = median(runs.map((r) => r.rebuild.buildSeconds))
  const c = runs[0].synced.counters
  const figures: { [name: string]: number } = {
    accounts: source.state.accounts,
    slots: source.state.slots,
    codes: source.state.codes,
    sourceStateCached: source.cached ? 1 : 0,
    sourceStateSeconds: size.sourceSeconds,
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
    snapWriteWaitSeconds: median(runs.map((r) => r.synced.writeWaitSeconds)),
    localRebuildWriteWaitSeconds: median(runs.map((r) => r.rebuild.writeWaitSeconds)),
    localRebuildSeconds: rebuildSeconds,
    snapSyncerCpuSeconds: median(runs.map((r) => r.synced.cpuSeconds)),
    snapServerCpuSeconds: median(runs.map((r) => r.serverCpuSeconds)),
    localRebuildCpuSeconds: median(runs.map((r) => r.rebuild.buildCpuSeconds)),
    snapSyncerCpuOverLocalRebuildCpu: median(runs.map((r) => r.synced.cpuSeconds / r.rebuild.buildCpuSeconds)),
    // The largest of the runs: the target is a bound
    phase1PeakRssBytes: Math.max(...runs.map((r) => r.synced.vmHwmBytes)),
    phase1PeakRssSampledBytes: Math.max(...runs.map((r) => r.synced.peakRssSampledBytes)),
    phase1PeakRssAnonBytes: Math.max(...runs.map((r) => r.synced.peakRssAnonBytes)),
    phase1PeakRssFileBytes: Math.max(...runs.map((r) => r.synced.peakRssFileBytes)),
    phase1PeakHeapUsedBytes: Math.max(...runs.map((r) => r.synced.peakHeapUsedBytes)),
    ...(size.flatGenerateSeconds === undefined ? {} : { serverFlatGenerateSeconds: size.flatGenerateSeconds }),
    // Generation (when this run did it) and serving every run
    serverPeakRssBytes: procMemory(size.server.pid).peakRss,
    serverPeakRssAnonBytes: size.serverMemory.peakRssAnon,
    serverPeakRssFileBytes: size.serverMemory.peakRssFile,
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
  return Object.fromEntries(Object.entries(figures).map(([name, v]) => [`${name}${size.suffix}`, v]))
}

/**
 * Phase 1 alone, beside the local rebuild (see the module comment), at each size of
 * SNAP_BENCH_SYNC_SIZES (default `1x,10x`). A shared machine moves either figure by ±15% from one run
 * to the next, so each run pairs a rebuild with a sync right after it, the ratio is the median of the
 * runs' ratios, and the sizes take turns: run i of 10x follows run i of 1x, so that
 * `snapRate10xOver1x` is a median of paired ratios too
 */
async function phase1Figures(): Promise<{ [name: string]: number }> {
  await initKeccak()
  const wanted = (process.env.SNAP_BENCH_SYNC_SIZES ?? '1x,10x').split(',').map((s) => (s === '1x' ? '' : s))
  const unknown = wanted.filter((s) => !(s in SIZES))
  if (unknown.length > 0) throw new Error(`SNAP_BENCH_SYNC_SIZES: unknown size ${unknown.join(', ')}`)
  const dir = mkdtempSync(join(tmpdir(), 'snap-bench-sync-'))
  const sizes: Phase1Size[] = []
  try {
    for (const suffix of wanted) sizes.push(await prepareSize(suffix, SIZES[suffix]))
    for (let i = 0; i < PHASE1_RUNS; i++) for (const size of sizes) await runOnce(size, dir, i)
    const figures = Object.assign({}, ...sizes.map(sizeFigures)) as { [name: string]: number }
    const [one, ten] = [sizes.find((s) => s.suffix === ''), sizes.find((s) => s.suffix === '10x')]
    if (one !== undefined && ten !== undefined) {
      const rate = (s: Phase1Size, i: number) =>
        (s.source.state.accounts + s.source.state.slots) / s.runs[i].synced.seconds
      figures.snapRate10xOver1x = median(one.runs.map((_, i) => rate(ten, i) / rate(one, i)))
    }
    return figures
  } finally {
    for (const s of sizes) s.serverMemory.stop()
    await Promise.all(sizes.map((s) => s.server.stop()))
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
