import { strict as assert } from 'node:assert'

import { LevelDB } from '@ethereumjs/client/dist/esm/src/execution/level.js'
import { createMPT } from '@ethereumjs/mpt'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import {
  Address,
  ValueEncoding,
  bigIntToBytes,
  bytesToHex,
  createAccount,
  equalsBytes,
  setLengthLeft,
} from '@ethereumjs/util'
import { MemoryLevel } from 'memory-level'
import sinon from 'sinon'

import { Budget } from '../../src/server/budget.js'
import { serveAccountRange } from '../../src/server/accountrange.js'
import {
  FLAT_RANGE,
  FlatStateError,
  MARKER_KEY,
  decodeChunk,
  encodeChunk,
  splitChunks,
} from '../../src/server/flat/chunk.js'
import { FlatState } from '../../src/server/flat/flatstate.js'
import { FlatStateFollower } from '../../src/server/flat/follower.js'
import { generateFlatState, trieReaders } from '../../src/server/flat/generator.js'
import { moveFlatState } from '../../src/server/flat/mover.js'
import { DBStateView } from '../../src/server/stateview.js'
import { serveStorageRanges } from '../../src/server/storageranges.js'
import { LevelStateReader } from '../../src/trie/reader.js'
import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'
import { rng as seeded } from '../helpers/rng.js'

import type { FlatLevel } from '../../src/server/flat/flatstate.js'
import type { TrieReaders } from '../../src/server/flat/generator.js'
import type { StateView } from '../../src/server/stateview.js'

/** Two states of one DB, as a client's execution leaves them: `before`, then `after` a block's changes */
interface TwoStates {
  level: MemoryLevel<string, Uint8Array>
  before: Uint8Array
  after: Uint8Array
  readers: TrieReaders
  /** Storage owners (account hashes) of both states */
  owners: Uint8Array[]
}

/** Random ints and bytes from a seed */
class Rng {
  private readonly next: () => number
  constructor(seed: number) {
    this.next = seeded(seed)
  }
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256))
  }
}

const addr = (i: number) => new Address(setLengthLeft(bigIntToBytes(BigInt(i) + 0x1000n), 20))
const slotKey = (s: number) => setLengthLeft(bigIntToBytes(BigInt(s)), 32)

/**
 * 300 accounts, 20 contracts of 5-60 slots and one of 1,500; then a block: balances changed,
 * accounts deleted (one with storage) and created, slots written, zeroed and added, a new contract
 */
async function twoStates(): Promise<TwoStates> {
  const level = new MemoryLevel<string, Uint8Array>()
  const trie = await createMPT({
    db: new LevelDB(level as never),
    useKeyHashing: true,
    valueEncoding: ValueEncoding.Bytes,
  })
  const sm = new MerkleStateManager({ trie, prefixStorageTrieKeys: true })
  const rng = new Rng(20261201)
  await sm.checkpoint()
  for (let i = 0; i < 300; i++) {
    await sm.putAccount(addr(i), createAccount({ nonce: BigInt(i), balance: BigInt(i + 1) }))
    const slots = i === 7 ? 1500 : i % 15 === 0 ? 5 + rng.int(56) : 0
    for (let s = 0; s < slots; s++) await sm.putStorage(addr(i), slotKey(s), bigIntToBytes(BigInt(s + i + 1)))
  }
  await sm.commit()
  await sm.flush()
  const before = await sm.getStateRoot()
  await sm.checkpoint()
  for (let i = 0; i < 300; i += 11)
    await sm.putAccount(addr(i), createAccount({ nonce: 1n, balance: BigInt(i * 1000) }))
  await sm.deleteAccount(addr(30))
  await sm.deleteAccount(addr(31))
  for (let i = 300; i < 320; i++) await sm.putAccount(addr(i), createAccount({ balance: 5n }))
  for (let s = 0; s < 40; s++)
    await sm.putStorage(addr(7), slotKey(s * 13), s % 3 === 0 ? new Uint8Array(0) : bigIntToBytes(BigInt(s + 99)))
  for (let s = 1500; s < 1530; s++) await sm.putStorage(addr(7), slotKey(s), Uint8Array.of(1))
  for (let s = 0; s < 25; s++) await sm.putStorage(addr(310), slotKey(s), Uint8Array.of(s + 1))
  await sm.commit()
  await sm.flush()
  const after = await sm.getStateRoot()
  const readers = trieReaders(new LevelStateReader(level as never), 1024)
  const { keccak256 } = await import('ethereum-cryptography/keccak.js')
  const owners = [0, 7, 15, 30, 45, 310].map((i) => keccak256(addr(i).bytes))
  return { level, before, after, readers, owners }
}

/** Fails with the first difference only: a dump is thousands of long lines */
function sameList(actual: string[], expected: string[], what: string): void {
  const i = actual.findIndex((x, j) => x !== expected[j])
  assert.ok(
    i === -1 && actual.length === expected.length,
    `${what}: ${actual.length} vs ${expected.length} entries, first difference ` +
      `at ${i}: ${actual[i]?.slice(0, 200)} vs ${expected[i]?.slice(0, 200)}`,
  )
}

/** Every flat-state entry, hex, in key order */
async function dump(level: MemoryLevel<string, Uint8Array>): Promise<string[]> {
  const out: string[] = []
  for await (const [k, v] of level.iterator({ ...FLAT_RANGE, keyEncoding: 'utf8', valueEncoding: 'view' })) {
    if (k !== (MARKER_KEY as string)) out.push(`${k}=${bytesToHex(v as Uint8Array)}`)
  }
  return out
}

/** Both states; the flat state holds `before`, and `generatedAfter` is what a generation of `after` writes */
async function flatAtBefore(): Promise<{ s: TwoStates; flat: FlatState; generatedAfter: string[] }> {
  const s = await twoStates()
  const flat = await FlatState.open(s.level as unknown as FlatLevel)
  await generateFlatState(flat, s.readers, s.after)
  const generatedAfter = await dump(s.level)
  await flat.drop()
  await generateFlatState(flat, s.readers, s.before)
  return { s, flat, generatedAfter }
}

/** The leaves of a dump, each with its trie's prefix: chunk boundaries may differ, the leaves may not */
const leaves = (entries: string[]) =>
  entries.flatMap((e) => {
    const [key, value] = e.split('=0x')
    const prefix = key.split('/').slice(0, -1).join('/')
    return decodeChunk(Buffer.from(value, 'hex')).map((l) => `${prefix} ${bytesToHex(l.key)} ${bytesToHex(l.value)}`)
  })

function views(s: TwoStates, follower: FlatStateFollower): { flat: StateView; trie: StateView } {
  const served = { has: () => true }
  const store = new LevelStateReader(s.level as never)
  return { flat: new DBStateView(store, served, async () => follower), trie: new DBStateView(store, served) }
}

const hex = (list: { hash: Uint8Array; body: Uint8Array }[]) => list.map((x) => bytesToHex(x.hash) + bytesToHex(x.body))

describe('[FlatState]', () => {
  it('chunks: leaves round-trip in chunks of about 4 KiB; bad bytes are a FlatStateError', () => {
    const leaves = Array.from({ length: 300 }, (_, i) => ({
      key: setLengthLeft(bigIntToBytes(BigInt(i + 1)), 32),
      value: Uint8Array.of(0x80 + (i % 30), i & 0xff),
    }))
    const chunks = splitChunks(leaves)
    assert.ok(chunks.length > 1 && chunks.every((c) => encodeChunk(c).length <= 4096))
    assert.deepEqual(
      chunks.flatMap((c) => decodeChunk(encodeChunk(c))).map((l) => bytesToHex(l.key) + bytesToHex(l.value)),
      leaves.map((l) => bytesToHex(l.key) + bytesToHex(l.value)),
    )
    const good = encodeChunk(leaves.slice(0, 2))
    for (const bad of [
      new Uint8Array(0),
      good.subarray(0, 33),
      Uint8Array.from([...good.subarray(0, 32), 0, 0]),
      Uint8Array.from([...good, 1]),
    ]) {
      assert.throws(() => decodeChunk(bad), FlatStateError)
    }
  })

  it('serves every range exactly as the trie walk does', async function () {
    this.timeout(60_000)
    const s = await twoStates()
    const flat = await FlatState.open(s.level as unknown as FlatLevel)
    const stats = await generateFlatState(flat, s.readers, s.after, { roundLeaves: 64 })
    assert.equal(stats.accounts, 318)
    const follower = new FlatStateFollower(flat, { readers: s.readers, isServedRoot: () => true })
    const { flat: fromFlat, trie } = views(s, follower)
    const rng = new Rng(7)
    const limits = DEFAULT_SERVE_LIMITS
    for (let i = 0; i < 60; i++) {
      const origin = i === 0 ? new Uint8Array(32) : rng.bytes(32)
      const req = {
        kind: 'GetAccountRange' as const,
        reqId: 1n,
        root: s.after,
        origin,
        limit: i % 3 === 0 ? new Uint8Array(32).fill(0xff) : rng.bytes(32),
        bytes: BigInt(i % 2 === 0 ? 50 + rng.int(4000) : 500_000),
      }
      const a = await serveAccountRange(fromFlat, req, limits, Budget.unlimited())
      const b = await serveAccountRange(trie, req, limits, Budget.unlimited())
      assert.deepEqual(hex(a.accounts), hex(b.accounts), `accounts of request ${i}`)
      assert.deepEqual(a.proof.map(bytesToHex), b.proof.map(bytesToHex))
    }
    for (let i = 0; i < 40; i++) {
      const accounts = rng.int(2) === 0 ? [s.owners[1]] : s.owners.slice(rng.int(3))
      const req = {
        kind: 'GetStorageRanges' as const,
        reqId: 1n,
        root: s.after,
        accounts,
        origin: i % 2 === 0 ? new Uint8Array(32) : rng.bytes(32),
        limit: new Uint8Array(32).fill(0xff),
        bytes: BigInt(100 + rng.int(30_000)),
      }
      const a = await serveStorageRanges(fromFlat, req, limits, Budget.unlimited())
      const b = await serveStorageRanges(trie, req, limits, Budget.unlimited())
      assert.deepEqual(a.slots.map(hex), b.slots.map(hex), `slots of request ${i}`)
      assert.deepEqual(a.proof.map(bytesToHex), b.proof.map(bytesToHex))
    }
  })

  it('a generation stopped between rounds resumes where it stopped and ends as a fresh one', async function () {
    this.timeout(60_000)
    const s = await twoStates()
    const flat = await FlatState.open(s.level as unknown as FlatLevel)
    const abort = new AbortController()
    const commit = flat.commit.bind(flat)
    let rounds = 0
    flat.commit = async (ops, marker) => {
      await commit(ops, marker)
      if (marker !== undefined && !marker.complete && ++rounds === 3) abort.abort(new Error('killed'))
    }
    await assert.rejects(
      generateFlatState(flat, s.readers, s.after, { roundLeaves: 50, signal: abort.signal }),
      /killed/,
    )
    const reopened = await FlatState.open(s.level as unknown as FlatLevel)
    assert.equal(reopened.marker?.complete, false)
    assert.ok(
      reopened.marker?.next.some((b) => b !== 0),
      'the marker records how far it got',
    )
    const resumed = await generateFlatState(reopened, s.readers, s.after, { roundLeaves: 50 })
    assert.ok(resumed.accounts < 318, `resumed, not restarted (${resumed.accounts} accounts)`)
    assert.ok(reopened.holds(s.after))
    const afterResume = await dump(s.level)
    await reopened.drop()
    assert.deepEqual(await dump(s.level), [])
    await generateFlatState(reopened, s.readers, s.after)
    sameList(leaves(afterResume), leaves(await dump(s.level)), 'resumed vs fresh')
  })

  it('moves between two roots by their difference, to the same chunks a generation writes', async function () {
    this.timeout(60_000)
    const { s, flat, generatedAfter } = await flatAtBefore()
    const generatedBefore = await dump(s.level)
    assert.equal(await moveFlatState(flat, s.readers, s.before, s.after, 10), false, 'over the bound: nothing moves')
    assert.ok(flat.holds(s.before))
    sameList(await dump(s.level), generatedBefore, 'after a refused move')
    assert.equal(await moveFlatState(flat, s.readers, s.before, s.after), true)
    assert.ok(flat.holds(s.after))
    sameList(leaves(await dump(s.level)), leaves(generatedAfter), 'moved forward vs generated')
    assert.equal(await moveFlatState(flat, s.readers, s.after, s.before), true)
    sameList(leaves(await dump(s.level)), leaves(generatedBefore), 'moved back vs generated')
  })

  it(
    'the follower flattens the root asked for, moves with it, ' + 'and drops a corrupt flat state for the trie',
    async function () {
      this.timeout(60_000)
      const s = await twoStates()
      const flat = await FlatState.open(s.level as unknown as FlatLevel)
      const follower = new FlatStateFollower(flat, { readers: s.readers, isServedRoot: () => true })
      const { flat: view, trie } = views(s, follower)
      const req = {
        kind: 'GetAccountRange' as const,
        reqId: 1n,
        root: s.before,
        origin: new Uint8Array(32),
        limit: new Uint8Array(32).fill(0xff),
        bytes: 3000n,
      }
      const expected = await serveAccountRange(trie, req, DEFAULT_SERVE_LIMITS, Budget.unlimited())
      assert.deepEqual(
        hex((await serveAccountRange(view, req, DEFAULT_SERVE_LIMITS, Budget.unlimited())).accounts),
        hex(expected.accounts),
      )
      await follower.idle()
      assert.ok(flat.holds(s.before), 'generated for the root asked for')
      await serveAccountRange(view, { ...req, root: s.after }, DEFAULT_SERVE_LIMITS, Budget.unlimited())
      await follower.idle()
      assert.ok(flat.holds(s.after), 'moved to the next root asked for')
      // A chunk that does not decode: the reply still comes (from the trie) and the flat state is gone
      const first = (await s.level.keys({ gte: 'snapflat/a/', lt: 'snapflat/a0', limit: 1 }).all())[0]
      await s.level.put(first, Uint8Array.of(1, 2, 3), { valueEncoding: 'view' })
      const again = { ...req, root: s.after }
      const fromTrie = await serveAccountRange(trie, again, DEFAULT_SERVE_LIMITS, Budget.unlimited())
      assert.deepEqual(
        hex((await serveAccountRange(view, again, DEFAULT_SERVE_LIMITS, Budget.unlimited())).accounts),
        hex(fromTrie.accounts),
      )
      await follower.idle()
      assert.equal(flat.marker, undefined)
      assert.deepEqual(await dump(s.level), [])
      await follower.stop()
    },
  )

  it('a discard during a job drops the flat state once the job ends, and stop() returns', async function () {
    this.timeout(60_000)
    const s = await twoStates()
    const flat = await FlatState.open(s.level as unknown as FlatLevel)
    const follower = new FlatStateFollower(flat, { readers: s.readers, isServedRoot: () => true })
    // The job, a generation, is held at its first commit until the discard is asked for
    const commit = flat.commit.bind(flat)
    let started!: () => void
    let release!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    const held = new Promise<void>((resolve) => (release = resolve))
    flat.commit = async (ops, marker) => {
      started()
      await held
      return commit(ops, marker)
    }
    follower.want(s.before)
    await running
    void follower.discard(new FlatStateError('bad chunk'))
    release()
    // Before the fix this never returned: the drop waited for itself (mocha's timeout shows it)
    await follower.stop()
    assert.equal(flat.marker, undefined, 'dropped')
    assert.deepEqual(await dump(s.level), [])
  })

  it('a root wanted while a drop is pending is flattened after the drop, whole', async function () {
    this.timeout(60_000)
    const { s, flat, generatedAfter } = await flatAtBefore()
    const follower = new FlatStateFollower(flat, { readers: s.readers, isServedRoot: () => true })
    // A walk in progress (the reply that met the bad chunk) holds the drop back
    let walking!: () => void
    let endWalk!: () => void
    const inWalk = new Promise<void>((resolve) => (walking = resolve))
    const walk = flat.read(s.before, async () => {
      walking()
      await new Promise<void>((resolve) => (endWalk = resolve))
    })
    await inWalk
    const commit = flat.commit.bind(flat)
    let committing!: () => void
    const moveCommitting = new Promise<void>((resolve) => (committing = resolve))
    flat.commit = (ops, marker) => {
      if (marker !== undefined && equalsBytes(marker.root, s.after)) committing()
      return commit(ops, marker)
    }
    const accountReads = sinon.spy(s.readers, 'account')
    const discarded = follower.discard(new FlatStateError('bad chunk'))
    follower.want(s.after)
    // A job started beside the drop (the fault) reaches its commit before the walk ends: the worst case
    if (accountReads.called) await moveCommitting
    endWalk()
    await Promise.all([walk, discarded])
    await follower.idle()
    assert.ok(flat.holds(s.after))
    sameList(leaves(await dump(s.level)), leaves(generatedAfter), 'flattened after the drop vs generated')
    await follower.stop()
  })

  it('a change of root waits for the walks in progress', async function () {
    this.timeout(60_000)
    const s = await twoStates()
    const flat = await FlatState.open(s.level as unknown as FlatLevel)
    await generateFlatState(flat, s.readers, s.before)
    // The commit's one write, counted: none may happen while the walk runs
    const batches = sinon.spy(flat.db, 'batch')
    let release!: () => void
    let batchesInWalk: number | undefined
    const reading = flat.read(s.before, async () => {
      await new Promise<void>((resolve) => (release = resolve))
      batchesInWalk = batches.callCount
    })
    let committed = false
    const commit = flat
      .commit([], { root: s.after, complete: true, next: new Uint8Array(32) })
      .then(() => (committed = true))
    try {
      assert.equal(await flat.read(s.after, async () => 1).then((r) => r?.result), undefined, 'not before the commit')
      assert.equal(committed, false)
      release()
      await Promise.all([reading, commit])
    } finally {
      batches.restore()
    }
    assert.equal(batchesInWalk, 0, 'written while the walk ran')
    assert.equal(batches.callCount, 1)
    assert.ok(committed && flat.holds(s.after))
  })
})
