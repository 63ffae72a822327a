/**
 * Serving beside the node's other work (issue 23 item 10): a mining clique node (1 s blocks, a 20k-account
 * state, the client process the CLI starts) is asked by PEERS snap peers at once, each with two requests in
 * flight, for account and storage ranges of its newest state, without pause; meanwhile `eth_blockNumber` is
 * timed every RPC_EVERY_MS from a worker thread. The same RPC timing with the peers connected but idle comes
 * first, in the same run, so the load's cost reads as a ratio.
 *
 * Figures: RPC latency idle and under load (p50, p99, max, in ms) and failed calls; what was served
 * (bytes and replies per second); requests that timed out or came back empty (a root the server no longer
 * serves: the head moved); blocks the node mined during the load.
 */
import { randomBytes } from 'node:crypto'
import { Worker } from 'node:worker_threads'

import { hexToBytes } from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

import { startSource } from '../../integration/harness/index.js'
import { chainInfo, connectSnap } from '../../integration/snapPeer.js'
import { RequestTimeoutError } from '../../src/wire/requester.js'

import type { SnapConnection } from '../../integration/snapPeer.js'

const PEERS = Number(process.env.SNAP_BENCH_PEERS ?? 24)
const IN_FLIGHT = 2
const REPLY_BYTES = 512n * 1024n
/** A request not answered within this is counted as timed out (a syncer gives a new peer 15 s) */
const REQUEST_TIMEOUT_MS = 15_000
const IDLE_MS = 15_000
const LOAD_MS = Number(process.env.SNAP_BENCH_LOAD_MS ?? 60_000)
const RPC_EVERY_MS = 100
/** Contracts whose storage one storage request asks for */
const STORAGE_BATCH = 8
const MAX = new Uint8Array(32).fill(0xff)

const DEVNET = { accounts: 20_000, contracts: 300, slotsPerContract: 40, largeContracts: [4_000], period: 1 }

/**
 * The RPC probe, in a worker thread: this process's own event loop is busy with the peers' replies, and
 * a probe on it measured its own waits too (7–8 s stalls once the server served 3.4 MiB/s)
 */
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads')
const { url, everyMs, forMs } = workerData
const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] })
;(async () => {
  const ms = []
  let failed = 0
  const end = performance.now() + forMs
  while (performance.now() < end) {
    const started = performance.now()
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body,
        signal: AbortSignal.timeout(10000) })
      const json = await res.json()
      if (json.result === undefined) failed++
      else ms.push(performance.now() - started)
    } catch {
      failed++
    }
    const left = everyMs - (performance.now() - started)
    if (left > 0) await new Promise((r) => setTimeout(r, left))
  }
  parentPort.postMessage({ ms, failed })
})()
`

/** Latencies of `eth_blockNumber` calls made every RPC_EVERY_MS for `forMs`, from a worker thread */
async function timeRpc(url: string, forMs: number): Promise<{ ms: number[]; failed: number }> {
  const worker = new Worker(PROBE, { eval: true, workerData: { url, everyMs: RPC_EVERY_MS, forMs } })
  try {
    return await new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
  } finally {
    await worker.terminate()
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

function latencyFigures(prefix: string, run: { ms: number[]; failed: number }): { [name: string]: number } {
  const sorted = [...run.ms].sort((a, b) => a - b)
  return {
    [`${prefix}RpcCalls`]: run.ms.length + run.failed,
    [`${prefix}RpcP50Ms`]: percentile(sorted, 50),
    [`${prefix}RpcP99Ms`]: percentile(sorted, 99),
    [`${prefix}RpcMaxMs`]: sorted[sorted.length - 1] ?? Number.NaN,
    [`${prefix}RpcFailures`]: run.failed,
  }
}

interface LoadCounts {
  replies: number
  bytes: number
  timeouts: number
  empty: number
  errors: number
}

/** One request loop of one peer: account and storage ranges of the newest root, in turn, until `stop` */
async function askWithoutPause(
  conn: SnapConnection,
  root: () => Uint8Array,
  contracts: Uint8Array[],
  counts: LoadCounts,
  stop: AbortSignal,
): Promise<void> {
  for (let i = 0; !stop.aborted; i++) {
    try {
      if (i % 2 === 0) {
        const reply = await conn.requester.getAccountRange(
          { root: root(), origin: randomBytes(32), limit: MAX, bytes: REPLY_BYTES },
          REQUEST_TIMEOUT_MS,
        )
        if (reply.accounts.length === 0) counts.empty++
        counts.bytes += reply.accounts.reduce((n, a) => n + 32 + a.slimBody.length, 0)
        counts.bytes += reply.proof.reduce((n, p) => n + p.length, 0)
      } else {
        const start = Math.floor(Math.random() * Math.max(1, contracts.length - STORAGE_BATCH))
        const reply = await conn.requester.getStorageRanges(
          {
            root: root(),
            accounts: contracts.slice(start, start + STORAGE_BATCH),
            origin: new Uint8Array(32),
            limit: MAX,
            bytes: REPLY_BYTES,
          },
          REQUEST_TIMEOUT_MS,
        )
        if (reply.slots.length === 0) counts.empty++
        counts.bytes += reply.slots.flat().reduce((n, s) => n + 32 + s.body.length, 0)
        counts.bytes += reply.proof.reduce((n, p) => n + p.length, 0)
      }
      counts.replies++
    } catch (err) {
      if (stop.aborted) return
      if (err instanceof RequestTimeoutError) counts.timeouts++
      else counts.errors++
    }
  }
}

export async function serveLoadSuite(): Promise<{ [name: string]: number }> {
  const step = (what: string) => console.log(`serveload: ${what}`)
  const source = await startSource({
    devnet: { ...DEVNET, seed: 'serveload' },
    plan: { newAccounts: 100, touchedAccounts: 100 },
    step,
  })
  const conns: SnapConnection[] = []
  try {
    const node = source.node
    const url = `http://127.0.0.1:${node.ports.rpc}`
    const info = await chainInfo((m, p) => node.rpc(m, p), source.devnet.genesis as never)
    step(`connecting ${PEERS} snap peers`)
    for (let i = 0; i < PEERS; i++) conns.push(await connectSnap(await node.enode(), info))
    const contracts = [...source.devnet.contracts, ...source.devnet.largeContracts].map((a) =>
      keccak256(hexToBytes(a as `0x${string}`)),
    )

    step(`timing eth_blockNumber for ${IDLE_MS / 1000} s, the peers idle`)
    const idle = await timeRpc(url, IDLE_MS)

    // The newest state root, looked up every second: the server serves the recent ones
    let root = hexToBytes(
      (await node.rpc<{ stateRoot: string }>('eth_getBlockByNumber', ['latest', false])).stateRoot as `0x${string}`,
    )
    const stop = new AbortController()
    const follow = (async () => {
      while (!stop.signal.aborted) {
        await new Promise((r) => setTimeout(r, 1_000))
        const head = await node
          .rpc<{ stateRoot: string }>('eth_getBlockByNumber', ['latest', false])
          .catch(() => undefined)
        if (head !== undefined) root = hexToBytes(head.stateRoot as `0x${string}`)
      }
    })()
    const firstBlock = await node.blockNumber()
    step(`${PEERS} peers × ${IN_FLIGHT} requests in flight for ${LOAD_MS / 1000} s, timing eth_blockNumber`)
    const counts: LoadCounts = { replies: 0, bytes: 0, timeouts: 0, empty: 0, errors: 0 }
    const started = performance.now()
    const loops = conns.flatMap((c) =>
      Array.from({ length: IN_FLIGHT }, () => askWithoutPause(c, () => root, contracts, counts, stop.signal)),
    )
    const load = await timeRpc(url, LOAD_MS)
    const seconds = (performance.now() - started) / 1000
    const snapshot = { ...counts }
    stop.abort()
    for (const c of conns) await c.close()
    await Promise.allSettled([...loops, follow])
    const blocks = Number((await node.blockNumber()) - firstBlock)
    // A clean stop (SIGINT), so that a node run with NODE_OPTIONS=--cpu-prof writes its profile
    await node.stop()

    const idleFigures = latencyFigures('idle', idle)
    const loadFigures = latencyFigures('load', load)
    return {
      peers: PEERS,
      ...idleFigures,
      ...loadFigures,
      loadOverIdleP50: loadFigures.loadRpcP50Ms / idleFigures.idleRpcP50Ms,
      servedMiBPerSec: snapshot.bytes / 2 ** 20 / seconds,
      repliesPerSec: snapshot.replies / seconds,
      requestTimeouts: snapshot.timeouts,
      emptyReplies: snapshot.empty,
      requestErrors: snapshot.errors,
      blocksMinedPerSec: blocks / seconds,
    }
  } finally {
    for (const c of conns) await c.close().catch(() => {})
    await source.destroy()
  }
}
