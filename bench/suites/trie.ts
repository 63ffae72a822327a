/**
 * Trie building: the sorted-leaf path (verify a range proof, build, write to the client's state
 * LevelDB) against `@ethereumjs/mpt` `put` per leaf, on the same leaves and the same DB, in one run.
 *
 * Each size runs in its own child process so that its peak RSS is its own. A child streams sorted
 * pseudo-random accounts (never holding them all), builds the source trie into a LevelDB, then
 * replays it as snap/1 AccountRange responses of 4096 accounts (about geth's 500 KB soft limit),
 * each with the proofs of its origin and last key read from the source DB, verified and written
 * into a second LevelDB as the syncer would. `put` runs at ~3k leaves/s, so it is timed on the
 * first 50k leaves only (figure `mptPutLeavesTimed`), into the same target DB after the build.
 * Timed for the build: verification (slim decode, proof walk, build, root check) and the DB writes;
 * not timed: making the leaves and reading the proofs, which are the server's side.
 * Memory: `peakRssBytes1M`/`2M` are the children's maxRSS (the figure); it includes LevelDB's
 * memory-mapped table files, which grow with the DBs, so `peakRssAnonBytes*` (anonymous RSS) and
 * `peakHeapUsedBytes*` (V8 heap), sampled per range, show what the builder itself holds.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import { LevelDB } from '@ethereumjs/client/dist/esm/src/execution/level.js'
import { createMPT } from '@ethereumjs/mpt'
import { ValueEncoding } from '@ethereumjs/util'

import { DEFAULT_DB_BACKEND, openBackendDB } from '../../src/db/backend.js'
import { EMPTY_CODE_HASH, encodeFullAccount, encodeSlimAccount } from '../../src/trie/account.js'
import { initKeccak, keccak256 } from '../../src/trie/keccak.js'
import { bytesToNibbles } from '../../src/trie/nibbles.js'
import { decodeNode } from '../../src/trie/node.js'
import { verifyAccountRange } from '../../src/trie/responses.js'
import { EMPTY_ROOT, StackTrieBuilder } from '../../src/trie/stackbuilder.js'
import { STATE_ENCODINGS, StateWriter, nodeKey } from '../../src/trie/statedb.js'

import { procMemory } from './procmem.js'

import type { BackendLevel, DbBackend } from '../../src/db/backend.js'
import type { AccountBody } from '../../src/trie/account.js'

type Db = BackendLevel<string, Uint8Array>

/** Accounts per simulated AccountRange response. */
const RANGE = 4096
/** Leaves timed with mpt `put` (a prefix of the same leaves). */
const PUT_LEAVES = 50_000

export interface ChildResult {
  leaves: number
  buildSeconds: number
  nodes: number
  peakRssBytes: number
  peakRssAnonBytes: number
  peakHeapUsedBytes: number
  putSeconds: number
  putLeaves: number
}

/**
 * Peaks of the process's own memory, sampled once per range. maxRSS also counts the file pages that
 * LevelDB maps to read its tables (the proofs are read from the source DB), which grow with the DB;
 * RssAnon (/proc/self/status) and the V8 heap are what the builder itself holds.
 */
const peaks = { anon: 0, heap: 0 }

function samplePeaks(): void {
  peaks.anon = Math.max(peaks.anon, procMemory().rssAnon)
  peaks.heap = Math.max(peaks.heap, process.memoryUsage().heapUsed)
}

/**
 * The leaves, in key order, streamed: keys are sorted uniform random 256-bit values (the top 64 bits
 * a running sum of exponential gaps, the rest random), so the trie has the shape of a real hashed
 * state (~1.4 nodes per leaf) without ever holding or sorting the leaves. Deterministic per `n`.
 */
function* leafStream(n: number): Generator<{ key: Uint8Array; body: AccountBody }> {
  let seed = n >>> 0
  const random = () => {
    seed = (seed + 0x6d2b79f5) >>> 0
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  // Mean gap slightly under 2^64/n so that the sum stays below 2^64 (a clamp guards the tail)
  const gap = 2 ** 64 / (n + 10 * Math.sqrt(n) + 10)
  let top = 0
  let prev = -1n
  for (let i = 0; i < n; i++) {
    top += -Math.log(1 - random()) * gap
    let t = BigInt(Math.floor(Math.min(top, 2 ** 64 - 2 ** 12)))
    if (t <= prev) t = prev + 1n
    prev = t
    const key = new Uint8Array(32)
    new DataView(key.buffer).setBigUint64(0, t)
    for (let b = 8; b < 32; b += 4) new DataView(key.buffer).setUint32(b, Math.floor(random() * 2 ** 32))
    const balance = BigInt(1 + Math.floor(random() * 1e9)) * 1_000_000_000n
    yield { key, body: { nonce: BigInt(i % 1000), balance, storageRoot: EMPTY_ROOT, codeHash: EMPTY_CODE_HASH } }
  }
}

async function buildSource(db: Db, n: number): Promise<Uint8Array> {
  const writer = new StateWriter(db)
  const builder = new StackTrieBuilder({ sink: writer.sink() })
  let i = 0
  for (const l of leafStream(n)) {
    builder.addLeaf(l.key, encodeFullAccount(l.body))
    if (i++ % RANGE === 0) {
      await writer.flushIfFull()
      samplePeaks()
    }
  }
  const root = builder.finish()
  await writer.flush()
  return root
}

// The stored nodes on `key`'s path: a server's proof for one edge
async function prove(db: Db, root: Uint8Array, key: Uint8Array): Promise<Uint8Array[]> {
  const path = bytesToNibbles(key)
  const proof: Uint8Array[] = []
  let ref = root
  for (let pos = 0; ref.length === 32; ) {
    const [rlp] = await db.getMany([nodeKey(ref)], STATE_ENCODINGS)
    if (rlp === undefined) break
    proof.push(rlp)
    const node = decodeNode(rlp)
    if (node.kind === 'branch' && node.children[path[pos]] !== undefined) ref = node.children[path[pos++]]!
    else if (node.kind === 'extension') [ref, pos] = [node.child, pos + node.path.length]
    else break
  }
  return proof
}

// Replays the source as AccountRange responses; only verify + build + write is timed
async function syncFromSource(
  source: Db,
  target: Db,
  root: Uint8Array,
  n: number,
): Promise<{ nodes: number; seconds: number }> {
  const writer = new StateWriter(target)
  let seconds = 0
  const stream = leafStream(n)
  for (let from = 0; from < n; from += RANGE) {
    const hashes: Uint8Array[] = []
    const bodies: Uint8Array[] = []
    for (let i = from; i < Math.min(n, from + RANGE); i++) {
      const l = stream.next().value as { key: Uint8Array; body: AccountBody }
      hashes.push(l.key)
      bodies.push(encodeSlimAccount(l.body))
    }
    const origin = from === 0 ? new Uint8Array(32) : hashes[0]
    const proof = [...(await prove(source, root, origin)), ...(await prove(source, root, hashes[hashes.length - 1]))]
    const unique = [...new Map(proof.map((p) => [nodeKey(keccak256(p)), p])).values()]
    const start = performance.now()
    const result = verifyAccountRange({ root, origin, hashes, bodies, proof: unique })
    writer.putNodes(result.nodes)
    await writer.flushIfFull()
    seconds += (performance.now() - start) / 1000
    samplePeaks()
  }
  const start = performance.now()
  await writer.flush()
  seconds += (performance.now() - start) / 1000
  return { nodes: writer.nodes, seconds }
}

async function mptPut(target: Db, n: number, count: number): Promise<number> {
  // As the client opens its state trie, with the same (WASM) keccak; keys are already hashed
  const trie = await createMPT({
    db: new LevelDB(target as never),
    valueEncoding: ValueEncoding.Bytes,
    useKeyHashingFunction: keccak256,
  })
  const stream = leafStream(n)
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const l = stream.next().value as { key: Uint8Array; body: AccountBody }
    await trie.put(l.key, encodeFullAccount(l.body))
  }
  return (performance.now() - start) / 1000
}

async function child(n: number, withPut: boolean, backend: DbBackend): Promise<ChildResult> {
  await initKeccak()
  const dir = mkdtempSync(join(tmpdir(), 'snap-bench-trie-'))
  // Both DBs on the backend measured: the proofs' reads are not timed, the build's writes are
  const source = openBackendDB<string, Uint8Array>(join(dir, 'source'), backend, STATE_ENCODINGS)
  const target = openBackendDB<string, Uint8Array>(join(dir, 'state'), backend, STATE_ENCODINGS)
  try {
    const root = await buildSource(source, n)
    const { nodes, seconds: buildSeconds } = await syncFromSource(source, target, root, n)
    // maxRSS is a high-water mark: read it before the put run, which is not part of the build
    const peakRssBytes = process.resourceUsage().maxRSS * 1024
    const putLeaves = withPut ? Math.min(PUT_LEAVES, n) : 0
    const putSeconds = withPut ? await mptPut(target, n, putLeaves) : 0
    return {
      leaves: n,
      buildSeconds,
      nodes,
      peakRssBytes,
      peakRssAnonBytes: peaks.anon,
      peakHeapUsedBytes: peaks.heap,
      putSeconds,
      putLeaves,
    }
  } finally {
    await source.close()
    await target.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Builds `n` leaves in a child process into a DB of `backend` (see the module comment) */
export async function runChild(
  n: number,
  withPut: boolean,
  backend: DbBackend = DEFAULT_DB_BACKEND,
): Promise<ChildResult> {
  const args = [
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
    '--trie-child',
    String(n),
    withPut ? 'put' : 'noput',
    backend,
  ]
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 20 })
  return JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult
}

/** The `trie` suite: see the module comment. */
export async function trieSuite(): Promise<{ [name: string]: number }> {
  const one = await runChild(1_000_000, true)
  const two = await runChild(2_000_000, false)
  const buildLeavesPerSec = one.leaves / one.buildSeconds
  const mptPutLeavesPerSec = one.putLeaves / one.putSeconds
  return {
    buildLeavesPerSec: Math.round(buildLeavesPerSec),
    mptPutLeavesPerSec: Math.round(mptPutLeavesPerSec),
    mptPutLeavesTimed: one.putLeaves,
    buildOverPut: buildLeavesPerSec / mptPutLeavesPerSec,
    buildNodesPerLeaf: one.nodes / one.leaves,
    buildLeavesPerSec2M: Math.round(two.leaves / two.buildSeconds),
    peakRssBytes1M: one.peakRssBytes,
    peakRssBytes2M: two.peakRssBytes,
    peakRss2MOver1M: two.peakRssBytes / one.peakRssBytes,
    peakRssAnonBytes1M: one.peakRssAnonBytes,
    peakRssAnonBytes2M: two.peakRssAnonBytes,
    peakHeapUsedBytes1M: one.peakHeapUsedBytes,
    peakHeapUsedBytes2M: two.peakHeapUsedBytes,
  }
}

if (process.argv[2] === '--trie-child') {
  const result = await child(
    Number(process.argv[3]),
    process.argv[4] === 'put',
    (process.argv[5] ?? DEFAULT_DB_BACKEND) as DbBackend,
  )
  console.log(JSON.stringify(result))
}
