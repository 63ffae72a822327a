/**
 * Full sync against snap sync of the same chain, each the way a user runs it: a client process
 * started empty (`--sync=full`, then `--sync=snap` with its defaults) whose one peer is a source
 * process holding the chain (chain.ts; not mining: a still chain). Timed from the spawn of the
 * syncing process until it has executed the chain's head (the snap sync's handoff included), its
 * progress sampled every second for the chart, its peak RSS the kernel's VmHWM at the end.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'

import { ClientNode, makeTempDir } from '../../integration/harness/node.js'
import { field, snapLines, snapSyncing } from '../../integration/harness/snap.js'
import { count } from '../../src/sync/reporter.js'

import { cachedChain, copySourceDataDir } from './chain.js'
import { BENCH_CHAIN, BENCH_CHAIN_2X } from './chainspecs.js'
import { progressChart } from './chart.js'

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
  /** Progress shares over time: blocks executed (full), state leaves downloaded (snap) */
  samples: { seconds: number; share: number }[]
}

/** A sync that has not reached the head by then is stuck: fail rather than hang */
const WATCHDOG_MS = 4 * 3600_000
const SAMPLE_MS = 1000

/** The kernel's peak resident set of a process (VmHWM), in bytes */
function peakRssOf(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmHWM for process ${pid}`)
  return Number(kb) * 1024
}

/** A source process on a copy of the data dir that imported the chain */
export async function startChainSource(chain: BenchChain): Promise<{ node: ClientNode; destroy: () => Promise<void> }> {
  const dir = makeTempDir('snap-bench-source-')
  const dataDir = copySourceDataDir(chain, join(dir, 'node'))
  const node = await ClientNode.start({ name: 'source', genesisFile: chain.genesisFile, sync: 'full', dataDir })
  const head = await node.blockNumber()
  if (head !== BigInt(chain.head.number)) throw new Error(`the source's head is ${head}, the chain's ${chain.head.number}`)
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
export async function syncChain(source: ClientNode, chain: BenchChain, mode: 'full' | 'snap', say: (line: string) => void): Promise<SyncRun> {
  const started = performance.now()
  const elapsed = () => (performance.now() - started) / 1000
  const node = await ClientNode.start({ name: `${mode}-syncer`, genesisFile: chain.genesisFile, sync: mode, bootnodes: [await source.enode()] })
  const samples: SyncRun['samples'] = [{ seconds: 0, share: 0 }]
  let stateSeconds: number | undefined
  let lastSaid = 0
  try {
    const head = BigInt(chain.head.number)
    await node.waitFor(
      async () => {
        if (mode === 'snap' && stateSeconds === undefined && snapLines(node).some((l) => l.kind === 'done')) stateSeconds = elapsed()
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
    const done = snapLines(node).find((l) => l.kind === 'done')
    return {
      seconds,
      stateSeconds,
      pivot: done === undefined ? undefined : Number(done.fields.pivot),
      bytes: done === undefined ? undefined : field(done, 'downloaded'),
      peakRssBytes,
      samples,
    }
  } finally {
    await node.destroy()
  }
}

const say = (line: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`)

/** Snap syncs of a chain from a source process: the source stays up for all of them */
async function withSource<T>(chain: BenchChain, run: (source: ClientNode) => Promise<T>): Promise<T> {
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
    const snap = await syncChain(source, chain, 'snap', say)
    say(`snap sync: ${snap.seconds.toFixed(0)} s`)
    return { full, snap }
  })
  const chain2x = await cachedChain(BENCH_CHAIN_2X, say)
  const snap2x = await withSource(chain2x, (source) => syncChain(source, chain2x, 'snap', say))
  say(`snap sync of the 2x chain: ${snap2x.seconds.toFixed(0)} s`)
  const chart = out === undefined ? 'sync-progress.svg' : out.replace(/\.json$/, '') + '.svg'
  writeFileSync(
    chart,
    progressChart(
      `Syncing a ${chain.blocks}-block chain (${count(chain.counts.accounts)} accounts, ${count(chain.counts.slots)} slots) from one peer`,
      [
        { name: `full sync: blocks executed (${full.seconds.toFixed(0)} s)`, color: '#c0392b', points: full.samples },
        { name: `snap sync: state leaves downloaded, then blocks ${snap.pivot}→${chain.head.number} executed (${snap.seconds.toFixed(0)} s)`, color: '#2471a3', points: snap.samples },
      ],
      `npm run bench -- --suite sync; ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, node ${process.version}`,
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
    snapSyncSeconds: snap.seconds,
    snapOverFullSpeedup: full.seconds / snap.seconds,
    snapStateSeconds: snap.stateSeconds ?? 0,
    snapPivotBlock: snap.pivot ?? 0,
    snapDownloadedBytes: snap.bytes ?? 0,
    fullPeakRssBytes: full.peakRssBytes,
    snapPeakRssBytes: snap.peakRssBytes,
    chain2xAccounts: chain2x.counts.accounts,
    chain2xSlots: chain2x.counts.slots,
    snapSyncSeconds2x: snap2x.seconds,
    snapStateSeconds2x: snap2x.stateSeconds ?? 0,
    snapPeakRssBytes2x: snap2x.peakRssBytes,
    snapPeakRssGrowth2x: snap2x.peakRssBytes / snap.peakRssBytes - 1,
  }
}

