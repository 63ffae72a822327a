/**
 * Serving snap/1: accounts and slots per second served over loopback RLPx by our server (in its
 * own process, bench/suites/serve-node.ts), for a state of 100k accounts and 500k slots, beside
 * the same state read in key order from LevelDB in the same run:
 * - `dbReadLeavesPerSec`: a flat key-ordered table of the same leaves (what a flat snapshot
 *   would give a server), read with an iterator; the ceiling of any key-ordered read.
 * - `trieWalkLeavesPerSec`: our range walk (`walkLeaves`) over the trie nodes in the state DB,
 *   in process, no network: what serving from the trie costs before the wire.
 * The served rates include the server's reads (from its flat state, generated before it listens;
 * SNAP_BENCH_FLAT=0 walks the trie instead) and proofs, the client's encoder, RLPx framing and
 * snappy, loopback, and the requester's decoding; not the requester's proof verification.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Common, Mainnet } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToBytes, bytesToHex, setLengthLeft } from '@ethereumjs/util'
import { Level } from 'level'

import { freePort } from '../../integration/harness/ports.js'
import { nextHash } from '../../integration/snapCrawl.js'
import { connectSnap } from '../../integration/snapPeer.js'
import { Budget } from '../../src/server/budget.js'
import { walkLeaves } from '../../src/trie/leafwalk.js'
import { LevelStateReader } from '../../src/trie/reader.js'
import { DBStateView } from '../../src/server/stateview.js'
import { initKeccak } from '../../src/trie/keccak.js'
import { compareBytes } from '../../src/trie/nibbles.js'
import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'
import { EMPTY_ROOT } from '../../src/trie/stackbuilder.js'

import { BENCH_GENESIS_HASH } from './serve-node.js'
import { buildState } from './state.js'

import type { Db, StateSpec } from './state.js'
import type { SnapRequester } from '../../src/wire/requester.js'

const ACCOUNTS = 100_000
// 500k slots: 100 contracts of 4,000 slots (cut across replies) and 1,000 of 100 (batched)
const SERVE_STATE: StateSpec = {
  accounts: ACCOUNTS,
  contracts: [
    { count: 100, slots: 4000 },
    { count: 1000, slots: 100 },
  ],
  codeAccounts: 0,
  distinctCodes: 0,
}
const REPLY_BYTES = 512n * 1024n // what geth's syncer asks for
// Requests in flight on the one connection: the server serves two per peer at a time
const STREAMS = DEFAULT_SERVE_LIMITS.maxConcurrentPerPeer
const ZERO = new Uint8Array(32)
const MAX = new Uint8Array(32).fill(0xff)

/** Leaves per second reading the flat table in key order */
async function flatReadRate(flat: Db): Promise<number> {
  const start = performance.now()
  let n = 0
  const it = flat.iterator({ keyEncoding: 'view', valueEncoding: 'view' })
  for (let entries = await it.nextv(1000); entries.length > 0; entries = await it.nextv(1000)) n += entries.length
  await it.close()
  return n / ((performance.now() - start) / 1000)
}

/** Leaves per second walking the account trie and every storage trie from the state DB */
async function trieWalkRate(state: Db, root: Uint8Array): Promise<number> {
  const view = new DBStateView(new LevelStateReader(state as never), { has: () => true })
  const budget = Budget.unlimited()
  const start = performance.now()
  const owners: [Uint8Array, Uint8Array][] = []
  let n = 0
  await walkLeaves(view.accountReader(budget), root, ZERO, (key, body) => {
    const storageRoot = (RLP.decode(body) as Uint8Array[])[2]
    if (compareBytes(storageRoot, EMPTY_ROOT) !== 0) owners.push([key, storageRoot])
    n++
    return true
  })
  for (const [owner, storageRoot] of owners) {
    await walkLeaves(view.storageReader(owner, budget), storageRoot, ZERO, () => ++n > 0)
  }
  return n / ((performance.now() - start) / 1000)
}

/** Splits the hash space into `n` equal intervals: [origin, limit] pairs */
function intervals(n: number): [Uint8Array, Uint8Array][] {
  const step = (1n << 256n) / BigInt(n)
  const at = (v: bigint) => setLengthLeft(bigIntToBytes(v), 32)
  return Array.from({ length: n }, (_, i) => [at(step * BigInt(i)), i === n - 1 ? MAX : at(step * BigInt(i + 1) - 1n)])
}

/** Downloads the accounts of one interval (no verification) */
async function serveInterval(requester: SnapRequester, root: Uint8Array, from: Uint8Array, limit: Uint8Array) {
  const accounts: { hash: Uint8Array; slimBody: Uint8Array }[] = []
  for (let origin = from; ; ) {
    const reply = await requester.getAccountRange({ root, origin, limit, bytes: REPLY_BYTES })
    // The first account past the limit ends the interval (it belongs to the next one)
    const inside = reply.accounts.filter((a) => compareBytes(a.hash, limit) <= 0)
    accounts.push(...inside)
    if (inside.length < reply.accounts.length || reply.accounts.length === 0 || reply.proof.length === 0)
      return accounts
    const last = inside[inside.length - 1].hash
    if (compareBytes(last, limit) >= 0) return accounts
    origin = nextHash(last)
  }
}

/**
 * Downloads every account (no verification), in `streams` intervals at once as a syncer does
 * (one request per interval in flight); returns the count and the storage-bearing accounts
 */
async function serveAccounts(requester: SnapRequester, root: Uint8Array, streams: number) {
  const parts = await Promise.all(
    intervals(streams).map(([from, limit]) => serveInterval(requester, root, from, limit)),
  )
  const accounts = parts.flat()
  // Slim bodies: an empty storage root is sent as an empty string
  const owners = accounts.filter((a) => (RLP.decode(a.slimBody) as Uint8Array[])[2].length !== 0).map((a) => a.hash)
  return { count: accounts.length, owners }
}

/** Downloads the storage of `owners` in batches, continuing cut contracts (no verification) */
async function serveSlots(
  requester: SnapRequester,
  root: Uint8Array,
  owners: Uint8Array[],
  perContract: Map<string, number>,
) {
  const pending = [...owners]
  let origin: Uint8Array = ZERO
  let count = 0
  while (pending.length > 0) {
    const reply = await requester.getStorageRanges({
      root,
      accounts: pending.slice(0, 128),
      origin,
      limit: MAX,
      bytes: REPLY_BYTES,
    })
    if (reply.slots.length === 0) throw new Error('empty storage reply')
    let done = 0
    for (const [i, range] of reply.slots.entries()) {
      count += range.length
      const id = bytesToHex(pending[i])
      const got = (perContract.get(id) ?? 0) + range.length
      perContract.set(id, got)
      const cut = i === reply.slots.length - 1 && reply.proof.length > 0
      if (cut) {
        origin = nextHash(range[range.length - 1].hash)
        break
      }
      origin = ZERO
      done++
    }
    pending.splice(0, done)
  }
  return count
}

/** Starts serve-node.ts on the state in `stateDir`; resolves its enode once it listens */
export function startServer(stateDir: string, root: Uint8Array, port: number) {
  const script = fileURLToPath(new URL('./serve-node.ts', import.meta.url))
  // SNAP_BENCH_PROFILE=<dir>: write the server's CPU profile there
  const profile = process.env.SNAP_BENCH_PROFILE
  const flags = profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]
  const args = [...flags, '--import', 'tsx', script, stateDir, bytesToHex(root), String(port)]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  // Seconds the server spent generating its flat state before it listened (undefined: it held it already)
  let flatGenerateSeconds: number | undefined
  let buffered = ''
  const enode = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      const lines = (buffered + d.toString()).split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        if (line.startsWith('flat-generated ')) flatGenerateSeconds = Number(line.split(' ')[1])
        if (line.startsWith('enode://')) resolve(line.trim())
      }
    })
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)))
  })
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref()
    })
  return { enode, stop, pid: child.pid, flatGenerateSeconds: () => flatGenerateSeconds }
}

export async function serveSuite(): Promise<{ [name: string]: number }> {
  await initKeccak()
  const dir = mkdtempSync(join(tmpdir(), 'snap-bench-serve-'))
  let server: ReturnType<typeof startServer> | undefined
  try {
    const state: Db = new Level(join(dir, 'state'), { keyEncoding: 'utf8', valueEncoding: 'view' })
    const flat: Db = new Level(join(dir, 'flat'), { keyEncoding: 'view', valueEncoding: 'view' })
    await Promise.all([state.open(), flat.open()])
    const built = performance.now()
    const { root, slots } = await buildState(SERVE_STATE, state, flat)
    const buildSeconds = (performance.now() - built) / 1000
    const dbReadLeavesPerSec = await flatReadRate(flat)
    const trieWalkLeavesPerSec = await trieWalkRate(state, root)
    await Promise.all([state.close(), flat.close()])

    server = startServer(join(dir, 'state'), root, await freePort())
    const peer = await connectSnap(await server.enode, {
      common: new Common({ chain: Mainnet }),
      genesisHash: BENCH_GENESIS_HASH,
    })
    try {
      let start = performance.now()
      const accounts = await serveAccounts(peer.requester, root, STREAMS)
      const accountSeconds = (performance.now() - start) / 1000
      const perContract = new Map<string, number>()
      start = performance.now()
      const half = Math.ceil(accounts.owners.length / STREAMS)
      const parts = Array.from({ length: STREAMS }, (_, i) => accounts.owners.slice(i * half, (i + 1) * half))
      const counts = await Promise.all(parts.map((owners) => serveSlots(peer.requester, root, owners, perContract)))
      const served = counts.reduce((a, b) => a + b, 0)
      const slotSeconds = (performance.now() - start) / 1000
      if (accounts.count !== ACCOUNTS || served !== slots) {
        throw new Error(`served ${accounts.count} accounts and ${served} slots, expected ${ACCOUNTS} and ${slots}`)
      }
      const servedAccountsPerSec = accounts.count / accountSeconds
      const servedSlotsPerSec = served / slotSeconds
      return {
        accounts: accounts.count,
        slots: served,
        buildSeconds,
        servedAccountsPerSec,
        servedSlotsPerSec,
        dbReadLeavesPerSec,
        trieWalkLeavesPerSec,
        servedAccountsOverDbRead: servedAccountsPerSec / dbReadLeavesPerSec,
        servedSlotsOverDbRead: servedSlotsPerSec / dbReadLeavesPerSec,
        trieWalkOverDbRead: trieWalkLeavesPerSec / dbReadLeavesPerSec,
      }
    } finally {
      await peer.close()
    }
  } finally {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
