/**
 * What tests read of a snap-syncing node: its `Snap sync:` log lines, its `eth_syncing` answer and
 * Prometheus metrics, `verify-state` on its data dir, and its JSON-RPC answers next to another node's.
 */
import { execFile } from 'node:child_process'

import { CLI } from './node.js'
import { RpcError } from './rpc.js'

import type { ClientNode } from './node.js'
import type { ThrottledProxy } from './proxy.js'

/** The kinds of `Snap sync:` lines the synchronizer logs */
export type SnapLineKind = 'pivot' | 'moved' | 'progress' | 'drop' | 'complete' | 'done' | 'other'

/** One `Snap sync:` log line: its kind and its `key=value` fields */
export interface SnapLine {
  kind: SnapLineKind
  fields: { [key: string]: string }
  text: string
}

// The client's logger colours its output on a TTY; a log file may carry the codes all the same
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour codes to strip
const ANSI = /\x1b\[[0-9;]*m/g

/** Parses a log line; undefined when it is not a `Snap sync:` line */
export function parseSnapLine(line: string): SnapLine | undefined {
  const text = line.replace(ANSI, '')
  const at = text.indexOf('Snap sync: ')
  if (at < 0) return undefined
  const body = text.slice(at + 'Snap sync: '.length)
  const fields: { [key: string]: string } = {}
  // A byte count carries its unit after a space: `downloaded=12.3 MiB`
  for (const m of body.matchAll(/(\w+)=(\S+(?: [KMGT]?i?B\b)?)/g)) fields[m[1]] = m[2]
  let kind: SnapLineKind = 'other'
  if (body.startsWith('pivot moved')) kind = 'moved'
  else if (body.startsWith('pivot ')) kind = 'pivot'
  else if (body.startsWith('dropped peer')) kind = 'drop'
  else if (body.startsWith('state complete')) kind = 'complete'
  else if (body.startsWith('done')) kind = 'done'
  else if ('phase' in fields) kind = 'progress'
  return { kind, fields, text: text.slice(at) }
}

/** The `Snap sync:` lines of a node's current process */
export function snapLines(node: ClientNode): SnapLine[] {
  return node.logLines(/Snap sync: /).flatMap((l) => parseSnapLine(l) ?? [])
}

// Byte units as logged ("12.3 MiB") and count suffixes ("1.23M")
const UNITS: { [unit: string]: number } = {
  '': 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
}

/** A count or byte count as logged: `123456`, `1.23M`, `12.3 MiB`, `0x1e240` */
export function parseQuantity(text: string): number {
  if (/^0x[0-9a-f]+$/i.test(text)) return Number(BigInt(text))
  const m = /^([\d.]+)\s*([a-z]*)$/i.exec(text.replace(/,/g, ''))
  const unit = m === null ? undefined : UNITS[m[2].toLowerCase()]
  if (m === null || unit === undefined) throw new Error(`not a quantity: ${text}`)
  return Math.round(Number(m[1]) * unit)
}

/** A number field of a log line (`accounts=1234`, `bytes=1.2 MiB`); undefined when absent */
export function field(line: SnapLine, name: string): number | undefined {
  const value = line.fields[name]
  return value === undefined ? undefined : parseQuantity(value)
}

/** `eth_syncing` of a snap-syncing node, numbers decoded; false once synced */
export interface SnapSyncing {
  startingBlock: bigint
  currentBlock: bigint
  highestBlock: bigint
  syncedAccounts: bigint
  syncedStorage: bigint
  syncedBytecodes: bigint
  healedTrienodes: bigint
  healingTrienodes: bigint
  /** Payload bytes of the replies accepted */
  syncedBytes: bigint
  snapPhase: string | undefined
  pivotBlock: bigint | undefined
}

/** The node's `eth_syncing`, with absent snap fields as zero */
export async function snapSyncing(node: ClientNode): Promise<SnapSyncing | false> {
  const raw = await node.rpc<false | { [key: string]: string }>('eth_syncing')
  if (raw === false) return false
  const n = (key: string) => (raw[key] === undefined ? 0n : BigInt(raw[key]))
  return {
    startingBlock: n('startingBlock'),
    currentBlock: n('currentBlock'),
    highestBlock: n('highestBlock'),
    syncedAccounts: n('syncedAccounts'),
    syncedStorage: n('syncedStorage'),
    syncedBytecodes: n('syncedBytecodes'),
    healedTrienodes: n('healedTrienodes'),
    healingTrienodes: n('healingTrienodes'),
    syncedBytes: n('syncedBytes'),
    snapPhase: raw.snapPhase,
    pivotBlock: raw.pivotBlock === undefined ? undefined : BigInt(raw.pivotBlock),
  }
}

/**
 * Waits until `node`, syncing through `proxy` (slow enough to be caught), has stored part of the state,
 * holds the proxy while its progress record (saved at most every 2 s) catches up, then kills it with
 * SIGKILL (nothing flushed). Throws when the state was complete first; returns the status at the kill.
 */
export async function killMidDownload(node: ClientNode, proxy: ThrottledProxy): Promise<SnapSyncing> {
  await node.waitFor(
    async () => {
      const s = await snapSyncing(node).catch(() => undefined)
      if (s === undefined || s === false) return false
      if (['handoff', 'done'].includes(s.snapPhase ?? ''))
        throw new Error('the state was complete before the kill (lower the proxy rate)')
      return s.syncedAccounts + s.syncedStorage + s.syncedBytecodes > 0n
    },
    { what: 'a state download midway', timeoutMs: 300_000, intervalMs: 100 },
  )
  proxy.setRate(0)
  await new Promise((r) => setTimeout(r, 3_000))
  const atKill = await snapSyncing(node)
  if (atKill === false || !['state', 'heal'].includes(atKill.snapPhase ?? '')) {
    throw new Error(`not midway at the kill: ${atKill === false ? 'synced' : atKill.snapPhase}`)
  }
  await node.kill()
  return atKill
}

/** `snap_sync_phase` gauge values (src/sync/report/status.ts) */
export const SNAP_PHASES = ['pivot', 'state', 'heal', 'handoff', 'done'] as const

/** The snap sync metrics of a node started with `prometheus: true` */
export interface SnapMetrics {
  accounts: number
  bytes: number
  wastedBytes: number
  phase: (typeof SNAP_PHASES)[number] | undefined
  pivotBlock: number
  pivotMoves: number
  healedNodes: number
}

/** Reads the `snap_sync_*` metrics */
export async function snapMetrics(node: ClientNode): Promise<SnapMetrics> {
  const m = await node.metrics()
  const phase = m.get('snap_sync_phase')
  return {
    accounts: m.get('snap_sync_accounts_total') ?? 0,
    bytes: m.get('snap_sync_bytes_total') ?? 0,
    wastedBytes: m.get('snap_sync_wasted_bytes_total') ?? 0,
    phase: phase === undefined ? undefined : SNAP_PHASES[phase],
    pivotBlock: m.get('snap_sync_pivot_block') ?? 0,
    pivotMoves: m.get('snap_sync_pivot_moves_total') ?? 0,
    healedNodes: m.get('snap_sync_trie_nodes_healed_total') ?? 0,
  }
}

/**
 * What went on in a snap-syncing node, for a failure message: its last `Snap sync:` lines, warnings
 * and errors (the log tail is mostly block imports)
 */
export function snapContext(node: ClientNode, extra = ''): string {
  const lines = node.logLines(/Snap sync: | WARN | ERROR |Error:/).slice(-25)
  return (
    `${extra}${extra === '' ? '' : '\n'}${node.options.name}'s snap sync lines, warnings and errors (last 25):\n` +
    `${lines.join('\n')}`
  )
}

const statusText = (s: SnapSyncing | false | undefined) =>
  JSON.stringify(s, (_, v) => (typeof v === 'bigint' ? String(v) : v))

/**
 * Waits until the snap sync is over: the `Snap sync: done` line (state downloaded, handed over, the
 * node executes blocks). Returns that line. `onStatus` sees every `eth_syncing` answer on the way.
 */
export async function waitSnapDone(
  node: ClientNode,
  opts: { timeoutMs: number; onStatus?: (s: SnapSyncing | false) => void },
): Promise<SnapLine> {
  let done: SnapLine | undefined
  let last: SnapSyncing | false | undefined
  await node.waitFor(
    async () => {
      last = (await snapSyncing(node).catch(() => undefined)) ?? last
      if (last !== undefined) opts.onStatus?.(last)
      done = snapLines(node).find((l) => l.kind === 'done')
      return done !== undefined
    },
    {
      what: 'snap sync to finish ("Snap sync: done")',
      timeoutMs: opts.timeoutMs,
      intervalMs: 1000,
      context: () => snapContext(node, `last eth_syncing: ${statusText(last)}`),
    },
  )
  return done!
}

/** Waits until `eth_syncing` is false */
export async function waitSynced(node: ClientNode, timeoutMs: number): Promise<void> {
  let last: SnapSyncing | false | undefined
  await node.waitFor(async () => (last = (await snapSyncing(node).catch(() => undefined)) ?? last) === false, {
    what: 'eth_syncing to be false',
    timeoutMs,
    intervalMs: 1000,
    context: () =>
      snapContext(
        node,
        `last eth_syncing: ${statusText(last)}\nlast imports:\n${node
          .logLines(/Imported blocks|Synchronized/)
          .slice(-4)
          .join('\n')}`,
      ),
  })
}

/** What `verify-state` said about a data dir */
export interface VerifyResult {
  code: number | null
  output: string
  complete: boolean
  headBlock: bigint | undefined
  stateRoot: string | undefined
  counts: { accounts: number; slots: number; codes: number; nodes: number } | undefined
}

/** Runs `ethereumjs-snap verify-state --dataDir D` (the node must be stopped) */
export async function verifyState(dataDir: string, timeoutMs = 300_000): Promise<VerifyResult> {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'verify-state', `--dataDir=${dataDir}`],
      { timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null
        resolve({ code, output: `${stdout}${stderr}` })
      },
    )
  })
  const head = /head block (\d+), state root (0x[0-9a-f]{64})/.exec(output)
  const counts = /accounts (\d+), slots (\d+), codes (\d+), nodes (\d+)/.exec(output)
  return {
    code,
    output,
    complete: /: complete$/m.test(output),
    headBlock: head === null ? undefined : BigInt(head[1]),
    stateRoot: head?.[2],
    counts:
      counts === null ? undefined : { accounts: +counts[1], slots: +counts[2], codes: +counts[3], nodes: +counts[4] },
  }
}

/** What to ask two nodes about: addresses, and storage slots by contract */
export interface StateSample {
  accounts: string[]
  slots: { address: string; slot: string }[]
}

/**
 * Asks both nodes the same questions at `block` (hex tag): the block's hash and state root, balance,
 * nonce and code of every sampled account, every sampled slot. Returns the differences, one line
 * each (empty: the same answers), and how many answers were compared.
 */
export async function compareNodes(
  a: ClientNode,
  b: ClientNode,
  block: bigint,
  sample: StateSample,
): Promise<{ compared: number; differences: string[] }> {
  const tag = `0x${block.toString(16)}`
  const questions: [string, unknown[]][] = [['eth_getBlockByNumber', [tag, false]]]
  for (const address of sample.accounts) {
    for (const method of ['eth_getBalance', 'eth_getTransactionCount', 'eth_getCode'])
      questions.push([method, [address, tag]])
  }
  for (const { address, slot } of sample.slots) questions.push(['eth_getStorageAt', [address, slot, tag]])
  const differences: string[] = []
  const ask = async (node: ClientNode, method: string, params: unknown[]) => {
    const answer = await node
      .rpc<unknown>(method, params)
      .catch((err: unknown) => (err instanceof RpcError ? `error: ${err.message}` : Promise.reject(err)))
    if (method !== 'eth_getBlockByNumber' || answer === null || typeof answer !== 'object')
      return JSON.stringify(answer)
    const { hash, stateRoot } = answer as { hash: string; stateRoot: string }
    return JSON.stringify({ hash, stateRoot })
  }
  // A few at a time: the nodes answer one by one anyway, and both keep working meanwhile
  for (let i = 0; i < questions.length; i += 16) {
    await Promise.all(
      questions.slice(i, i + 16).map(async ([method, params]) => {
        const [fromA, fromB] = await Promise.all([ask(a, method, params), ask(b, method, params)])
        if (fromA !== fromB)
          differences.push(`${method}(${params.join(', ')}): ${a.options.name} ${fromA}, ${b.options.name} ${fromB}`)
      }),
    )
  }
  return { compared: questions.length, differences }
}
