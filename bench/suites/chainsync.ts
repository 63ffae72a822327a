/**
 * Full sync against snap sync of the same chain, each the way a user runs it: a client process
 * started empty (`--sync=full`, then `--sync=snap` with its defaults) whose one peer is a source
 * process holding the chain (chain.ts; not mining: a still chain). Timed from the spawn of the
 * syncing process until it has executed the chain's head (the snap sync's handoff included), its
 * progress sampled every second for the chart, its peak RSS the kernel's VmHWM at the end.
 */
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'

import { ClientNode, makeTempDir } from '../../integration/harness/node.js'
import { field, snapLines, snapSyncing } from '../../integration/harness/snap.js'
import { count } from '../../src/sync/report/reporter.js'

import { cachedChain, copySourceDataDir } from './chain.js'
import { BENCH_CHAIN, BENCH_CHAIN_2X } from './chainspecs.js'
import { progressChart } from './chart.js'
import { procMemory } from './procmem.js'

import type { BenchChain } from './chain.js'

/** What one sync measured */
export interface SyncRun {
  /** From the spawn until the head was executed */
  seconds: number
  /** Snap only: until the `Snap sync: done` line (state complete, handed over) */
  stateSeconds?: number
  /** Snap only: the pivot block */
  pivot?: number
  /** Snap only: payload bytes of the replies accepted (the `done` line's `downloaded`) */
  bytes?: number
  peakRssBytes: number
  /** Bytes of the syncing node's data dir at the end (its DBs; the log left out) */
  dataDirBytes: number
  /** Progress shares over time: blocks executed (full), state leaves downloaded (snap) */
  samples: { seconds: number; share: number }[]
}

/**
 * Snap syncs of each chain: a peak RSS differs by ±15% between runs of the same sync (it is where
 * V8's collector happens to run in a heap of mostly garbage), so the figures are the medians
 */
const SNAP_RUNS = Number(process.env.SNAP_BENCH_SNAP_RUNS ?? 3)

/** A sync that has not reached the head by then is stuck: fail rather than hang */
const WATCHDOG_MS = 4 * 3600_000
const SAMPLE_MS = 1000

/** The kernel's peak resident set of a process (VmHWM), in bytes */
function peakRssOf(pid: number | undefined): number {
  if (pid === undefined) throw new Error('no process')
  return procMemory(pid).peakRss
}

/** Bytes of the files under `dir`, `.log` files left out */
function dirBytes(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) n += dirBytes(path)
    else if (e.isFile() && !e.name.endsWith('.log')) n += statSync(path).size
  }
  return n
}

/** A source process on a copy of the data dir that imported the chain */
export async function startChainSource(chain: BenchChain): Promise<{ node: ClientNode; destroy: () => Promise<void> }> {
  const dir = makeTempDir('snap-bench-source-')
  const dataDir = copySourceDataDir(chain, join(dir, 'node'))
  const node = await ClientNode.start({ name: 'source', genesisFile: chain.genesisFile, sync: 'full', dataDir })
  const head = await node.blockNumber()
  if (head !== BigInt(chain.head.number))
    throw new Error(`the source's head is ${head}, the chain's ${chain.head.number}`)
  return {
    node,
    destroy: async () => {
      await node.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Progress of the sync now, as a share: see {@link SyncRun.samples} */
async function progressOf(node: ClientNode, mode: 'full' | 'snap', chain: BenchChain): Promise<number> {
  if (mode === 'full') return Number(node.executedHead() ?? 0n) / chain.head.number
  const status = await snapSyncing(node).catch(() => undefined)
  if (status === undefined || status === false) return 1
  return Number(status.syncedAccounts + status.syncedStorage) / (chain.counts.accounts + chain.counts.slots)
}

/** Syncs an empty node from `source` in `mode` until it has executed the chain's head */
export async function syncChain(
  source: ClientNode,
  chain: BenchChain,
  mode: 'full' | 'snap',
  say: (line: string) => void,
  args: string[] = [],
): Promise<SyncRun> {
  const started = performance.now()
  const elapsed = () => (performance.now() - started) / 1000
  const node = await ClientNode.start({
    name: `${mode}-syncer`,
    genesisFile: chain.genesisFile,
    sync: mode,
    bootnodes: [await source.enode()],
    args,
  })
  const samples: SyncRun['samples'] = [{ seconds: 0, share: 0 }]
  let stateSeconds: number | undefined
  let lastSaid = 0
  try {
    const head = BigInt(chain.head.number)
    await node.waitFor(
      async () => {
        if (mode === 'snap' && stateSeconds === undefined && snapLines(node).some((l) => l.kind === 'done'))
          stateSeconds = elapsed()
        const share = stateSeconds === undefined ? await progressOf(node, mode, chain) : 1
        samples.push({ seconds: elapsed(), share: Math.max(share, samples[samples.length - 1].share) })
        if (elapsed() - lastSaid >= 60) {
          lastSaid = elapsed()
          say(`${mode} sync: ${(share * 100).toFixed(1)}% after ${lastSaid.toFixed(0)} s`)
        }
        return (node.executedHead() ?? -1n) >= head
      },
      { what: `the ${mode} sync to execute block ${head}`, timeoutMs: WATCHDOG_MS, intervalMs: SAMPLE_MS },
    )
    const seconds = elapsed()
    samples.push({ seconds, share: 1 })
    const peakRssBytes = peakRssOf(node.pid)
    const dataDirBytes = dirBytes(node.dataDir)
    const done = snapLines(node).find((l) => l.kind === 'done')
    return {
      seconds,
      stateSeconds,
      pivot: done === undefined ? undefined : Number(done.fields.pivot),
      bytes: done === undefined ? undefined : field(done, 'downloaded'),
      peakRssBytes,
      dataDirBytes,
      samples,
    }
  } finally {
    await node.destroy()
  }
}

export const say = (line: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`)

/** The run of median `key` of `runs` (the lower middle one of an even count) */
function medianBy<T>(runs: T[], key: (r: T) => number): T {
  return [...runs].sort((a, b) => key(a) - key(b))[Math.floor((runs.length - 1) / 2)]
}

/** SNAP_RUNS snap syncs of `chain` from `source`: the run of median time and the median peak RSS */
async function snapRuns(
  source: ClientNode,
  chain: BenchChain,
): Promise<{ run: SyncRun; peakRssBytes: number; rss: number[] }> {
  const runs: SyncRun[] = []
  for (let i = 0; i < SNAP_RUNS; i++) {
    runs.push(await syncChain(source, chain, 'snap', say))
    say(
      `snap sync ${i + 1} of ${SNAP_RUNS}: ${runs[i].seconds.toFixed(0)} s, ` +
        `peak RSS ${(runs[i].peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
    )
  }
  const rss = runs.map((r) => r.peakRssBytes)
  return { run: medianBy(runs, (r) => r.seconds), peakRssBytes: medianBy(rss, (b) => b), rss }
}

/** Snap syncs of a chain from a source process: the source stays up for all of them */
export async function withSource<T>(chain: BenchChain, run: (source: ClientNode) => Promise<T>): Promise<T> {
  const source = await startChainSource(chain)
  try {
    return await run(source.node)
  } finally {
    await source.destroy()
  }
}

/**
 * Full sync and snap sync of `BENCH_CHAIN`, snap sync of `BENCH_CHAIN_2X`; the chart of both syncs'
 * progress is written beside `out` (`<out>.svg`, or `sync-progress.svg`)
 */
export async function chainSyncFigures(out: string | undefined): Promise<{ [name: string]: number }> {
  const chain = await cachedChain(BENCH_CHAIN, say)
  const { full, snap } = await withSource(chain, async (source) => {
    say(`chain: ${chain.blocks} blocks, ${chain.counts.accounts} accounts, ${chain.counts.slots} slots; full sync`)
    const full = await syncChain(source, chain, 'full', say)
    say(`full sync: ${full.seconds.toFixed(0)} s; snap sync`)
    return { full, snap: await snapRuns(source, chain) }
  })
  // SNAP_BENCH_CHAIN_2X=0: the 1x chain only (full against snap sync), without the 2x chain's figures
  const twice = process.env.SNAP_BENCH_CHAIN_2X === '0' ? {} : await chain2xFigures(snap)
  const chart = out === undefined ? 'sync-progress.svg' : `${out.replace(/\.json$/, '')}.svg`
  writeFileSync(
    chart,
    progressChart(
      `Syncing a ${chain.blocks}-block chain (${count(chain.counts.accounts)} accounts, ` +
        `${count(chain.counts.slots)} slots) from one peer`,
      [
        { name: `full sync: blocks executed (${full.seconds.toFixed(0)} s)`, color: '#c0392b', points: full.samples },
        {
          name:
            `snap sync: state leaves downloaded, ` +
            `then blocks ${snap.run.pivot}→${chain.head.number} executed (${snap.run.seconds.toFixed(0)} s)`,
          color: '#2471a3',
          points: snap.run.samples,
        },
      ],
      `npm run bench -- --suite sync; ${cpus()[0]?.model ?? 'unknown CPU'}, ` +
        `${cpus().length} cores, node ${process.version}`,
    ),
  )
  say(`wrote ${chart}`)
  return {
    chainBlocks: chain.blocks,
    chainGasUsed: chain.gasUsed,
    chainAccounts: chain.counts.accounts,
    chainSlots: chain.counts.slots,
    chainContracts: chain.counts.codes,
    fullSyncSeconds: full.seconds,
    snapRuns: SNAP_RUNS,
    snapSyncSeconds: snap.run.seconds,
    snapOverFullSpeedup: full.seconds / snap.run.seconds,
    snapStateSeconds: snap.run.stateSeconds ?? 0,
    snapPivotBlock: snap.run.pivot ?? 0,
    snapDownloadedBytes: snap.run.bytes ?? 0,
    fullPeakRssBytes: full.peakRssBytes,
    snapPeakRssBytes: snap.peakRssBytes,
    snapPeakRssBytesMin: Math.min(...snap.rss),
    snapPeakRssBytesMax: Math.max(...snap.rss),
    ...twice,
  }
}

/** Snap sync of `BENCH_CHAIN_2X`, beside the 1x chain's `snap` runs */
async function chain2xFigures(snap: Awaited<ReturnType<typeof snapRuns>>): Promise<{ [name: string]: number }> {
  const chain2x = await cachedChain(BENCH_CHAIN_2X, say)
  const snap2x = await withSource(chain2x, (source) => snapRuns(source, chain2x))
  const mib = (b: number) => (b / 2 ** 20).toFixed(0)
  say(
    `snap sync of the 2x chain: ${snap2x.run.seconds.toFixed(0)} s; ` +
      `peak RSS 1x ${snap.rss.map(mib).join(', ')} MiB, 2x ${snap2x.rss.map(mib).join(', ')} MiB`,
  )
  return {
    chain2xAccounts: chain2x.counts.accounts,
    chain2xSlots: chain2x.counts.slots,
    snapSyncSeconds2x: snap2x.run.seconds,
    snapStateSeconds2x: snap2x.run.stateSeconds ?? 0,
    snapPeakRssBytes2x: snap2x.peakRssBytes,
    snapPeakRssBytes2xMin: Math.min(...snap2x.rss),
    snapPeakRssBytes2xMax: Math.max(...snap2x.rss),
    snapPeakRssGrowth2x: snap2x.peakRssBytes / snap.peakRssBytes - 1,
  }
}
