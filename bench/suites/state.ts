/**
 * The generated states of the serve and sync benchmarks: accounts under sorted pseudo-random hashes,
 * storage contracts of given sizes spread evenly over the account key space, and bytecodes shared by
 * some accounts, built with our sorted-leaf builder into a LevelDB in the client's layout (and, for
 * the serve suite, into a flat key-ordered table of the same leaves). Deterministic per spec.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { RLP } from '@ethereumjs/rlp'
import { bigIntToBytes, bytesToHex, concatBytes, hexToBytes, setLengthLeft } from '@ethereumjs/util'
import { Level } from 'level'

import { EMPTY_CODE_HASH, encodeFullAccount } from '../../src/trie/account.js'
import { keccak256 } from '../../src/trie/keccak.js'
import { compareBytes } from '../../src/trie/nibbles.js'
import { EMPTY_ROOT, StackTrieBuilder } from '../../src/trie/stackbuilder.js'
import { STATE_ENCODINGS, StateWriter } from '../../src/trie/statedb.js'

/** A LevelDB of the benchmarks: the state (hex keys) or the flat table (byte keys) */
export type Db = Level<Uint8Array | string, Uint8Array>

/** What a benchmark state holds */
export interface StateSpec {
  /** Accounts in the account trie */
  readonly accounts: number
  /** Storage contracts, laid out in this order, one every accounts / (their count) accounts */
  readonly contracts: readonly { readonly count: number; readonly slots: number }[]
  /** Accounts with bytecode, one every accounts / codeAccounts accounts (0: none) */
  readonly codeAccounts: number
  /** Distinct bytecodes those accounts share, round robin */
  readonly distinctCodes: number
}

/** A built state */
export interface BuiltState {
  readonly root: Uint8Array
  readonly accounts: number
  readonly slots: number
  /** Accounts with bytecode */
  readonly codeAccounts: number
  /** Distinct bytecodes stored */
  readonly codes: number
  /** Trie nodes written */
  readonly nodes: number
  /** Seconds spent building and writing (the timed part: making the leaves is not in it) */
  readonly buildSeconds: number
  /** CPU seconds of the timed part, LevelDB's threads included */
  readonly buildCpuSeconds: number
}

const word = (n: number) => setLengthLeft(bigIntToBytes(BigInt(n)), 32)
const sortedHashes = (n: number, salt: number) =>
  Array.from({ length: n }, (_, i) => keccak256(concatBytes(word(salt), word(i)))).sort(compareBytes)

/** Bytecode number `k`: 64 B to ~24 KB of pseudo-random bytes */
function makeCode(k: number): Uint8Array {
  const code = new Uint8Array(64 + ((k * 7919) % 24_000))
  let seed = (k + 1) * 0x9e3779b1
  for (let i = 0; i < code.length; i++) {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    code[i] = seed & 0xff
  }
  return code
}

/** Accumulates the wall-clock and CPU seconds (all threads of the process) of the timed parts */
class Clock {
  seconds = 0
  cpuSeconds = 0
  private started = 0
  private cpu = process.cpuUsage()
  start(): void {
    this.started = performance.now()
    this.cpu = process.cpuUsage()
  }
  stop(): void {
    this.seconds += (performance.now() - this.started) / 1000
    const { user, system } = process.cpuUsage(this.cpu)
    this.cpuSeconds += (user + system) / 1e6
  }
}

/** Builds one storage trie into the state DB (and the flat table); returns its root */
async function buildStorage(
  writer: StateWriter,
  flat: Db | undefined,
  owner: Uint8Array,
  slots: number,
  salt: number,
  clock: Clock,
): Promise<Uint8Array> {
  const keys = sortedHashes(slots, salt)
  const values = keys.map((_, i) => RLP.encode(bigIntToBytes(BigInt(i + 1))))
  clock.start()
  const builder = new StackTrieBuilder({ sink: writer.sink(owner) })
  const batch = flat?.batch()
  for (let i = 0; i < keys.length; i++) {
    builder.addLeaf(keys[i], values[i])
    batch?.put(concatBytes(Uint8Array.of(0x73), owner, keys[i]), values[i])
  }
  await batch?.write()
  await writer.flushIfFull()
  const root = builder.finish()
  clock.stop()
  return root
}

/**
 * Builds the state of `spec` into `state` (and `flat`): storage tries first (their roots go into the
 * accounts), then the codes, then the account trie.
 */
export async function buildState(spec: StateSpec, state: Db, flat?: Db): Promise<BuiltState> {
  const clock = new Clock()
  const writer = new StateWriter(state as never)
  const hashes = sortedHashes(spec.accounts, 1 << 30)
  const owners = spec.contracts.flatMap((c) => Array.from({ length: c.count }, () => c.slots))
  const contractStep = Math.floor(spec.accounts / owners.length)
  const codeStep = spec.codeAccounts === 0 ? 0 : Math.floor(spec.accounts / spec.codeAccounts)
  const codeHashes = new Map<number, Uint8Array>()
  const roots: Uint8Array[] = []
  let slots = 0
  for (let i = 0; i < hashes.length; i++) {
    // Contracts spread evenly over the key space
    const contract = i % contractStep === 0 ? owners[i / contractStep] : undefined
    roots.push(contract === undefined ? EMPTY_ROOT : await buildStorage(writer, flat, hashes[i], contract, i, clock))
    slots += contract ?? 0
  }
  const codeOf = (i: number) => (codeStep !== 0 && i % codeStep === 0 ? (i / codeStep) % spec.distinctCodes : undefined)
  let codeAccounts = 0
  for (let i = 0; i < hashes.length; i++) {
    const k = codeOf(i)
    if (k === undefined) continue
    codeAccounts++
    if (codeHashes.has(k)) continue
    const code = makeCode(k)
    const hash = keccak256(code)
    codeHashes.set(k, hash)
    clock.start()
    writer.putCode(hash, code)
    await writer.flushIfFull()
    clock.stop()
  }
  const bodies = hashes.map((_, i) =>
    encodeFullAccount({
      nonce: BigInt(i),
      balance: BigInt(i) * 10n ** 15n,
      storageRoot: roots[i],
      codeHash: codeHashes.get(codeOf(i) ?? -1) ?? EMPTY_CODE_HASH,
    }),
  )
  clock.start()
  const builder = new StackTrieBuilder({ sink: writer.sink() })
  const batch = flat?.batch()
  for (const [i, hash] of hashes.entries()) {
    builder.addLeaf(hash, bodies[i])
    batch?.put(concatBytes(Uint8Array.of(0x61), hash), bodies[i])
    await writer.flushIfFull()
  }
  await batch?.write()
  const root = builder.finish()
  await writer.flush()
  clock.stop()
  return {
    root,
    accounts: hashes.length,
    slots,
    codeAccounts,
    codes: codeHashes.size,
    nodes: writer.nodes,
    buildSeconds: clock.seconds,
    buildCpuSeconds: clock.cpuSeconds,
  }
}

/** Opens a state LevelDB in the client's layout at `dir` */
export async function openState(dir: string): Promise<Db> {
  const db: Db = new Level(dir, STATE_ENCODINGS)
  await db.open()
  return db
}

interface SavedState extends Omit<BuiltState, 'root'> {
  root: string
}

/**
 * The state of `spec` in a LevelDB under the OS temp dir, built on the first call and reused by later
 * runs (never inside the repo). The cache is keyed by the spec and this file's source, so changing
 * either builds afresh; a build is renamed into place only once complete.
 */
export async function cachedState(spec: StateSpec): Promise<{ dir: string; state: BuiltState; cached: boolean }> {
  const source = readFileSync(fileURLToPath(import.meta.url), 'utf8')
  const key = createHash('sha256').update(JSON.stringify(spec)).update(source).digest('hex').slice(0, 16)
  const dir = join(tmpdir(), `ejs-snap-bench-cache-${key}`)
  const meta = join(dir, 'state.json')
  if (existsSync(meta)) {
    const saved = JSON.parse(readFileSync(meta, 'utf8')) as SavedState
    return { dir: join(dir, 'state'), state: { ...saved, root: hexToBytes(saved.root as `0x${string}`) }, cached: true }
  }
  const partial = `${dir}.partial-${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  mkdirSync(partial)
  try {
    const db = await openState(join(partial, 'state'))
    const state = await buildState(spec, db)
    await db.close()
    writeFileSync(
      join(partial, 'state.json'),
      `${JSON.stringify({ ...state, root: bytesToHex(state.root) }, null, 2)}\n`,
    )
    rmSync(dir, { recursive: true, force: true })
    renameSync(partial, dir)
    return { dir: join(dir, 'state'), state, cached: false }
  } finally {
    rmSync(partial, { recursive: true, force: true })
  }
}
