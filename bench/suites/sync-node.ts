/**
 * The sync benchmark's syncer process: connects to serve-node.ts over loopback RLPx, syncs the state
 * under a root with our `StateSync` (16 account tasks, one peer) into a fresh LevelDB, then walks the
 * result from the root (not timed). A separate process so that its peak RSS is its own and it does
 * not share an event loop with the server.
 * Usage: tsx sync-node.ts <enode> <rootHex> <dir>; prints one JSON line ({@link SyncNodeResult}).
 * SNAP_BENCH_SYNC_PROFILE=<file>: writes a CPU profile of the timed part (the sync only) there.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

import { Common, Mainnet } from '@ethereumjs/common'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'

import { connectSnap } from '../../integration/snapPeer.js'
import { newAccountTasks } from '../../src/sync/work/accounttasks.js'
import { StateSync } from '../../src/sync/scheduler/statesync.js'
import { emptyCounters } from '../../src/sync/report/status.js'
import { initKeccak } from '../../src/trie/keccak.js'
import { StateWalker } from '../../src/trie/walker.js'

import { BENCH_GENESIS_HASH } from './serve-node.js'
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
  /** Trie nodes and codes written to the DB */
  nodesWritten: number
  codesWritten: number
  /** Peak of the RSS sampled every 100 ms during the sync */
  peakRssSampledBytes: number
  /** VmHWM at the end of the sync: the kernel's peak RSS of the process */
  vmHwmBytes: number
  /** The walk from the root after the sync */
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

function vmHwmBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
  return m === null ? 0 : Number(m[1]) * 1024
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
  let peakRss = 0
  let rangeSeconds = 0
  const start = performance.now()
  const cpu = process.cpuUsage()
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    if (rangeSeconds === 0 && sync.healing) rangeSeconds = (performance.now() - start) / 1000
  }, SAMPLE_MS)
  const watchdog = setTimeout(() => abort.abort(new Error('sync watchdog expired')), WATCHDOG_MS)
  try {
    await profiled(process.env.SNAP_BENCH_SYNC_PROFILE, () => sync.run(abort.signal))
  } finally {
    clearInterval(sampler)
    clearTimeout(watchdog)
  }
  const seconds = (performance.now() - start) / 1000
  const { user, system } = process.cpuUsage(cpu)
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  const vmHwm = vmHwmBytes()
  await conn.close()

  const walked = performance.now()
  const walker = new StateWalker(db)
  let shown = 0
  for await (const f of walker.walk(root)) {
    if (shown++ < 5) console.error(`walk: ${f.kind} ${'hash' in f && f.hash !== undefined ? bytesToHex(f.hash) : ''}`)
  }
  const walkSeconds = (performance.now() - walked) / 1000
  await level.close()
  const result: SyncNodeResult = {
    seconds,
    rangeSeconds: rangeSeconds === 0 ? seconds : rangeSeconds,
    cpuSeconds: (user + system) / 1e6,
    counters,
    nodesWritten: sync.ctx.writer.nodes,
    codesWritten: sync.ctx.writer.codes,
    peakRssSampledBytes: peakRss,
    vmHwmBytes: vmHwm,
    walk: walker.stats,
    walkSeconds,
    complete: walker.complete,
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
