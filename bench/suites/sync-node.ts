/**
 * The sync benchmark's syncer process: connects to serve-node.ts over loopback RLPx, syncs the state
 * under a root with our `StateSync` (16 account tasks, one peer) into a fresh LevelDB, then walks the
 * result from the root (not timed). A separate process so that its peak RSS is its own and it does
 * not share an event loop with the server.
 * Usage: tsx sync-node.ts <enode> <rootHex> <dir>; prints one JSON line ({@link SyncNodeResult}).
 * SNAP_BENCH_SYNC_PROFILE=<file>: writes a CPU profile of the timed part (the sync only) there.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

import { Common, Mainnet } from '@ethereumjs/common'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'

import { connectSnap } from '../../integration/snapPeer.js'
import { newAccountTasks } from '../../src/sync/work/accounttasks.js'
import { StateSync } from '../../src/sync/scheduler/statesync.js'
import { emptyCounters } from '../../src/sync/report/status.js'
import { initKeccak } from '../../src/trie/keccak.js'
import { STATE_ENCODINGS, nodeKey } from '../../src/trie/statedb.js'
import { StateWalker } from '../../src/trie/walker.js'

import { BENCH_GENESIS_HASH } from './serve-node.js'
import { MemorySampler, procMemory } from './procmem.js'
import { openState } from './state.js'

import type { SnapConnection } from '../../integration/snapPeer.js'
import type { SnapPeer, SnapPeerSource } from '../../src/sync/peers/snappeer.js'
import type { SnapSyncCounters } from '../../src/sync/report/status.js'
import type { StateStore } from '../../src/trie/statedb.js'
import type { WalkStats } from '../../src/trie/walker.js'

/** Account tasks of the sync: the client's default split of the hash space */
const ACCOUNT_TASKS = 16
/** A sync that has not finished by then is stuck: fail rather than hang the benchmark */
const WATCHDOG_MS = 30 * 60_000
/** RSS sampling period */
const SAMPLE_MS = 100

/** What the syncer reports */
export interface SyncNodeResult {
  /** Wall-clock seconds of `StateSync.run`, connection made, until the state is complete */
  seconds: number
  /** Seconds until the ranges were done and completion from the root began */
  rangeSeconds: number
  /** CPU seconds of the sync, every thread of the process (LevelDB's included) */
  cpuSeconds: number
  counters: SnapSyncCounters
  /** Seconds the sync waited for its DB batch writes (LevelDB's write thread, compaction stalls included) */
  writeWaitSeconds: number
  /** Trie nodes and codes written to the DB */
  nodesWritten: number
  codesWritten: number
  /** Peak of the RSS sampled every 100 ms during the sync */
  peakRssSampledBytes: number
  /** VmHWM at the end of the sync: the kernel's peak RSS of the process */
  vmHwmBytes: number
  /** Peak of V8's used heap, sampled with the RSS */
  peakHeapUsedBytes: number
  /** Peaks of the RSS's anonymous part (the process's own memory) and of its mapped files (procmem.ts) */
  peakRssAnonBytes: number
  peakRssFileBytes: number
  /** The walk from the root after the sync; all zero when it did not walk (SNAP_BENCH_SYNC_WALK=0) */
  walk: WalkStats
  walkSeconds: number
  complete: boolean
}

/** The requester of one connection as the sync's peer */
function snapPeer(conn: SnapConnection): SnapPeer {
  const r = conn.requester
  return {
    id: 'bench-server',
    getAccountRange: (req, timeoutMs) => r.getAccountRange(req, timeoutMs),
    getStorageRanges: (req, timeoutMs) => r.getStorageRanges(req, timeoutMs),
    getByteCodes: (req, timeoutMs) => r.getByteCodes(req, timeoutMs),
    getTrieNodes: (req, timeoutMs) => r.getTrieNodes(req, timeoutMs),
  }
}

/**
 * SNAP_BENCH_SYNC_HEAP=<file>: V8's sampling heap profiler runs through the sync, and the live
 * allocations are taken whenever the anonymous RSS reaches a new peak (at most every 2 s); the last one taken,
 * the one at the peak, is written to <file> (a .heapprofile for Chrome DevTools), with the process's
 * memory usage at that moment in <file>.json.
 * SNAP_BENCH_SYNC_ALLOCS=<file>: the same profiler counts every allocation of the sync, collected or
 * not, and writes them all at the end: where the garbage comes from
 */
class PeakHeapProfile {
  private session: Session | undefined
  private best: { profile: unknown; usage: NodeJS.MemoryUsage } | undefined
  private bestRss = 0
  private lastTaken = 0
  private taking = false

  constructor(
    private readonly file: string | undefined,
    private readonly allocations = false,
  ) {}

  async start(): Promise<void> {
    if (this.file === undefined) return
    this.session = new Session()
    this.session.connect()
    await this.session.post('HeapProfiler.enable')
    await this.session.post('HeapProfiler.startSampling', {
      samplingInterval: 64 * 1024,
      includeObjectsCollectedByMajorGC: this.allocations,
      includeObjectsCollectedByMinorGC: this.allocations,
    })
  }

  /** Called with each RSS sample */
  sample(rss: number): void {
    const session = this.session
    if (session === undefined || this.allocations || this.taking || rss <= this.bestRss * 1.02) return
    if (performance.now() - this.lastTaken < 2000) return
    this.taking = true
    this.lastTaken = performance.now()
    void session.post('HeapProfiler.getSamplingProfile').then(({ profile }) => {
      this.best = { profile, usage: process.memoryUsage() }
      this.bestRss = rss
      this.taking = false
    })
  }

  async stop(): Promise<void> {
    if (this.session === undefined || this.file === undefined) return
    const { profile } = await this.session.post('HeapProfiler.stopSampling')
    this.session.disconnect()
    if (this.allocations) this.best = { profile, usage: process.memoryUsage() }
    if (this.best === undefined) return
    writeFileSync(this.file, JSON.stringify(this.best.profile))
    writeFileSync(`${this.file}.json`, `${JSON.stringify({ ...this.best.usage, sampledRss: this.bestRss }, null, 2)}\n`)
  }
}

/** Runs `fn` under the V8 profiler when `file` is set, writing the profile there */
async function profiled<T>(file: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (file === undefined) return fn()
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  try {
    return await fn()
  } finally {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}

async function main(): Promise<void> {
  const [enode, rootHex, dir] = process.argv.slice(2)
  await initKeccak()
  const root = hexToBytes(rootHex as `0x${string}`)
  const level = await openState(dir)
  const db: StateStore = {
    getMany: (keys, opts) => level.getMany(keys, opts),
    batch: (ops, opts) => level.batch(ops, opts),
  }
  const conn = await connectSnap(enode, { common: new Common({ chain: Mainnet }), genesisHash: BENCH_GENESIS_HASH })
  const abort = new AbortController()
  const peer = snapPeer(conn)
  const source: SnapPeerSource = {
    peers: () => (conn.disconnected() || abort.signal.aborted ? [] : [peer]),
    // One peer: a drop ends the benchmark
    drop: (_p, reason, detail) => abort.abort(new Error(`peer dropped (${reason}): ${detail}`)),
  }
  const counters = emptyCounters()
  const sync = new StateSync(db, source, root, newAccountTasks(ACCOUNT_TASKS), counters, {
    persist: async () => {},
    waiting: (why) => console.error(`sync waits: ${why}`),
  })
  // The writer's flushes, timed: how much of the sync waits on LevelDB
  let writeWait = 0
  const writer = sync.ctx.writer
  const flush = writer.flush.bind(writer)
  writer.flush = async () => {
    const started = performance.now()
    try {
      await flush()
    } finally {
      writeWait += performance.now() - started
    }
  }
  let peakRss = 0
  let peakHeapUsed = 0
  let rangeSeconds = 0
  const allocs = process.env.SNAP_BENCH_SYNC_ALLOCS
  const heap = new PeakHeapProfile(allocs ?? process.env.SNAP_BENCH_SYNC_HEAP, allocs !== undefined)
  await heap.start()
  const start = performance.now()
  const cpu = process.cpuUsage()
  const memory = new MemorySampler('self', 60_000)
  const sampler = setInterval(() => {
    const { rss, heapUsed } = process.memoryUsage()
    peakRss = Math.max(peakRss, rss)
    peakHeapUsed = Math.max(peakHeapUsed, heapUsed)
    heap.sample(memory.sample()?.rssAnon ?? rss)
    if (rangeSeconds === 0 && sync.healing) rangeSeconds = (performance.now() - start) / 1000
  }, SAMPLE_MS)
  const watchdog = setTimeout(() => abort.abort(new Error('sync watchdog expired')), WATCHDOG_MS)
  try {
    await profiled(process.env.SNAP_BENCH_SYNC_PROFILE, () => sync.run(abort.signal))
  } finally {
    clearInterval(sampler)
    clearTimeout(watchdog)
    await heap.stop()
  }
  const seconds = (performance.now() - start) / 1000
  const { user, system } = process.cpuUsage(cpu)
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  const vmHwm = procMemory().peakRss
  memory.stop()
  await conn.close()

  const walked = performance.now()
  const walker = new StateWalker(db)
  // SNAP_BENCH_SYNC_WALK=0: no walk (the suite compares the run with one that was walked); complete
  // then means the root is stored, which the sync writes last
  const walk = process.env.SNAP_BENCH_SYNC_WALK !== '0'
  const [rootNode] = await db.getMany([nodeKey(root)], STATE_ENCODINGS)
  if (walk) {
    let shown = 0
    for await (const f of walker.walk(root)) {
      if (shown++ < 5) console.error(`walk: ${f.kind} ${'hash' in f && f.hash !== undefined ? bytesToHex(f.hash) : ''}`)
    }
  }
  const walkSeconds = (performance.now() - walked) / 1000
  await level.close()
  const result: SyncNodeResult = {
    seconds,
    rangeSeconds: rangeSeconds === 0 ? seconds : rangeSeconds,
    cpuSeconds: (user + system) / 1e6,
    writeWaitSeconds: writeWait / 1000,
    counters,
    nodesWritten: sync.ctx.writer.nodes,
    codesWritten: sync.ctx.writer.codes,
    peakRssSampledBytes: peakRss,
    vmHwmBytes: vmHwm,
    peakHeapUsedBytes: peakHeapUsed,
    peakRssAnonBytes: memory.peakRssAnon,
    peakRssFileBytes: memory.peakRssFile,
    walk: walker.stats,
    walkSeconds,
    complete: walk ? walker.complete : rootNode !== undefined,
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

if (process.argv[1]?.endsWith('sync-node.ts')) {
  main().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(err.stack ?? err.message)
      process.exit(1)
    },
  )
}
