import { strict as assert } from 'node:assert'

import { MemoryLevel } from 'memory-level'

import { fromHex, toHex } from '../../src/trie/hex.js'
import { initKeccak, keccak256 } from '../../src/trie/keccak.js'
import { bytesToNibbles } from '../../src/trie/nibbles.js'
import { NodeDecodeError, decodeNode, encodeLeaf } from '../../src/trie/node.js'
import { MissingNodeError, NodeCache, TrieReader } from '../../src/trie/reader.js'
import { EMPTY_ROOT, StackTrieBuilder } from '../../src/trie/stackbuilder.js'
import { STATE_ENCODINGS, StateWriter, nodeKey } from '../../src/trie/statedb.js'
import { diffTries } from '../../src/trie/triediff.js'

import { randomLeaves, rng } from './helpers.js'

import type { LoadCounter } from '../../src/trie/reader.js'

type Level = MemoryLevel<string, Uint8Array>
/** Leaves by hex key */
type Entries = Map<string, string>
/** A reported change: hex key, hex value before (or undefined), hex value after (or undefined) */
type Change = [string, string | undefined, string | undefined]

/** A 32-byte hex key: `prefix`, padded with `fill` */
const k = (prefix: string, fill = '0'): string => (prefix + fill.repeat(64)).slice(0, 64)
/** A value of `n` bytes `b` (1-byte values make deep leaves small enough to embed) */
const v = (b: number, n = 1): string => toHex(new Uint8Array(n).fill(b))

async function writeTrie(level: Level, entries: Entries, owner?: Uint8Array): Promise<Uint8Array> {
  const writer = new StateWriter(level)
  const builder = new StackTrieBuilder({ sink: writer.sink(owner) })
  for (const key of [...entries.keys()].sort()) builder.addLeaf(fromHex(key), fromHex(entries.get(key)!))
  const root = builder.finish()
  await writer.flush()
  return root
}

function readerOf(level: Level, counter: LoadCounter = { loads: 0 }, owner?: Uint8Array): TrieReader {
  return new TrieReader(
    { getMany: (keys) => level.getMany(keys, STATE_ENCODINGS) },
    new NodeCache(1000),
    counter,
    owner,
  )
}

type Collected = { changes: Change[]; done: boolean }

async function collect(reader: TrieReader, from: Uint8Array, to: Uint8Array, max?: number): Promise<Collected> {
  const changes: Change[] = []
  const hex = (b?: Uint8Array): string | undefined => b && toHex(b)
  const record = (key: Uint8Array, before?: Uint8Array, after?: Uint8Array): number =>
    changes.push([toHex(key), hex(before), hex(after)])
  const done = await diffTries(reader, from, to, record, max)
  return { changes, done }
}

/** The changes from `a` to `b` computed from the maps, in key order */
function expected(a: Entries, b: Entries): Change[] {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort()
  return keys.filter((key) => a.get(key) !== b.get(key)).map((key) => [key, a.get(key), b.get(key)])
}

/** Diffs a -> b and b -> a written into one DB against the maps */
async function checkBothWays(a: Entries, b: Entries, owner?: Uint8Array): Promise<void> {
  const level: Level = new MemoryLevel(STATE_ENCODINGS)
  const [ra, rb] = [await writeTrie(level, a, owner), await writeTrie(level, b, owner)]
  for (const [from, to, x, y] of [
    [ra, rb, a, b],
    [rb, ra, b, a],
  ] as const) {
    const got = await collect(readerOf(level, undefined, owner), from, to)
    assert.deepEqual(got.changes, expected(x, y))
    assert.equal(got.done, true)
  }
}

const entries = (list: [string, string][]): Entries => new Map(list)

const deep = 'a'.repeat(62)
/** A 40-byte value: its leaf is always stored by hash */
const big = (b: number): string => v(b, 40)
const cases: { name: string; before: [string, string][]; after: [string, string][] }[] = [
  { name: 'both empty', before: [], after: [] },
  {
    name: 'empty trie: all added, and all removed the other way',
    before: [],
    after: [
      [k('1'), big(1)],
      [k('2'), v(2)],
      [k('25'), big(3)],
    ],
  },
  {
    name: 'single value changed',
    before: [
      [k('1'), big(1)],
      [k('2'), big(2)],
    ],
    after: [
      [k('1'), big(1)],
      [k('2'), big(9)],
    ],
  },
  {
    name: 'single-leaf trie gets a second key (leaf becomes branch)',
    before: [[k('1'), big(1)]],
    after: [
      [k('1'), big(1)],
      [k('2'), big(2)],
    ],
  },
  { name: 'single-leaf tries with different keys', before: [[k('1'), big(1)]], after: [[k('3'), big(1)]] },
  {
    name: 'same key and value at another depth (leaf moves up)',
    before: [
      [k('1'), big(1)],
      [k('20'), big(2)],
      [k('21'), big(3)],
    ],
    after: [
      [k('1'), big(1)],
      [k('20'), big(2)],
    ],
  },
  {
    name: 'extension split by a key that diverges inside it',
    before: [
      [k('ab', '1'), big(1)],
      [k('ab', '2'), big(2)],
    ],
    after: [
      [k('ab', '1'), big(1)],
      [k('ab', '2'), big(2)],
      [k('ac'), big(3)],
    ],
  },
  {
    name: 'branch collapses into an extension',
    before: [
      [k('5', '1'), big(1)],
      [k('5', '2'), big(2)],
      [k('6'), big(3)],
    ],
    after: [
      [k('5', '1'), big(1)],
      [k('5', '2'), big(2)],
    ],
  },
  {
    name: 'embedded leaves sharing 62 nibbles, one value changed',
    before: [
      [k('0'), big(7)],
      [`${deep}01`, v(1)],
      [`${deep}02`, v(2)],
    ],
    after: [
      [k('0'), big(7)],
      [`${deep}01`, v(1)],
      [`${deep}02`, v(3)],
    ],
  },
  {
    name: 'embedded leaves: keys sharing 63 nibbles added and removed',
    before: [
      [k('0'), big(7)],
      [`${deep}01`, v(1)],
      [`${deep}02`, v(2)],
    ],
    after: [
      [k('0'), big(7)],
      [`${deep}01`, v(1)],
      [`${deep}03`, v(2)],
      [`${deep}04`, v(4)],
      [`${deep}11`, v(5)],
    ],
  },
  {
    name: 'embedded subtree replaced by a hashed one',
    before: [
      [k('0'), big(7)],
      [`${deep}01`, v(1)],
      [`${deep}02`, v(2)],
    ],
    after: [
      [k('0'), big(7)],
      [`${deep}01`, big(1)],
      [`${deep}02`, v(2)],
    ],
  },
]

describe('[diffTries]', () => {
  before(async () => {
    await initKeccak()
  })

  for (const c of cases) {
    it(`${c.name} (both directions)`, async () => {
      await checkBothWays(entries(c.before), entries(c.after))
    })
  }

  it('the embedded cases really have embedded nodes', async () => {
    const level: Level = new MemoryLevel(STATE_ENCODINGS)
    const root = await writeTrie(
      level,
      entries([
        [k('0'), big(7)],
        [`${deep}01`, v(1)],
        [`${deep}02`, v(2)],
      ]),
    )
    const top = decodeNode((await level.get(toHex(root), STATE_ENCODINGS))!)
    assert.equal(top.kind, 'branch')
    const ext = decodeNode((await level.get(toHex(top.kind === 'branch' ? top.children[10]! : root), STATE_ENCODINGS))!)
    assert.ok(ext.kind === 'extension' && ext.child.length < 32)
  })

  it('identical roots: no visits and no reads', async () => {
    const level: Level = new MemoryLevel(STATE_ENCODINGS)
    const root = await writeTrie(
      level,
      entries([
        [k('1'), big(1)],
        [k('2'), big(2)],
      ]),
    )
    const counter = { loads: 0 }
    assert.deepEqual(await collect(readerOf(level, counter), root, root), { changes: [], done: true })
    assert.equal(counter.loads, 0)
  })

  for (const seed of [1, 2, 3]) {
    it(`random 2000-key trie with random updates, inserts and deletions (seed ${seed})`, async () => {
      const random = rng(seed)
      const a: Entries = new Map(randomLeaves(2000, random).map((l) => [toHex(l.key), toHex(l.value)]))
      const b = new Map(a)
      const keys = [...a.keys()]
      for (let i = 0; i < 60; i++) {
        const key = keys[Math.floor(random() * keys.length)]
        const r = random()
        if (r < 0.4) b.delete(key)
        else b.set(key, v(1 + Math.floor(random() * 255), 1 + Math.floor(random() * 40)))
      }
      for (const l of randomLeaves(60, random)) b.set(toHex(l.key), toHex(l.value))
      // Inserts that share a long prefix with an existing key, so deep nodes split
      for (const key of keys.slice(0, 20)) {
        const last = (parseInt(key.slice(60), 16) + 1) & 0xffff
        b.set(key.slice(0, 60) + last.toString(16).padStart(4, '0'), v(9))
      }
      assert.ok(expected(a, b).length > 100)
      await checkBothWays(a, b)
    })
  }

  it("a storage trie under its owner's key prefix", async () => {
    const owner = keccak256(Uint8Array.of(1, 2, 3))
    const a = entries([
      [k('1'), big(1)],
      [k('2'), v(2)],
      [k('21'), v(3)],
    ])
    const b = entries([
      [k('1'), big(1)],
      [k('21'), v(4)],
      [k('3'), v(5, 33)],
    ])
    await checkBothWays(a, b, owner)
    // The same nodes are not in the account trie's namespace
    const level: Level = new MemoryLevel(STATE_ENCODINGS)
    const [ra, rb] = [await writeTrie(level, a, owner), await writeTrie(level, b, owner)]
    await assert.rejects(collect(readerOf(level), ra, rb), MissingNodeError)
  })

  it('maxChanges: stops after that many changes and returns false; true when the diff fits', async () => {
    const a = entries([...Array(20).keys()].map((i) => [k(i.toString(16).padStart(2, '0')), big(i + 1)]))
    const b = new Map([...a].map(([key, val], i) => [key, i % 2 === 0 ? v(200) : val]))
    const level: Level = new MemoryLevel(STATE_ENCODINGS)
    const [ra, rb] = [await writeTrie(level, a), await writeTrie(level, b)]
    const all = expected(a, b)
    assert.equal(all.length, 10)
    assert.deepEqual(await collect(readerOf(level), ra, rb, 3), { changes: all.slice(0, 3), done: false })
    assert.deepEqual(await collect(readerOf(level), ra, rb, 10), { changes: all, done: true })
    const removed = expected(a, new Map())
    assert.deepEqual(await collect(readerOf(level), ra, EMPTY_ROOT, 19), { changes: removed.slice(0, 19), done: false })
  })

  it('a missing node throws MissingNodeError', async () => {
    const a = entries([
      [k('1'), big(1)],
      [k('2', '1'), big(2)],
      [k('2', '3'), big(3)],
    ])
    const b = entries([
      [k('1'), big(1)],
      [k('2', '1'), big(2)],
      [k('2', '3'), big(4)],
    ])
    const level: Level = new MemoryLevel(STATE_ENCODINGS)
    const [ra, rb] = [await writeTrie(level, a), await writeTrie(level, b)]
    const top = decodeNode((await level.get(toHex(rb), STATE_ENCODINGS))!)
    assert.equal(top.kind, 'branch')
    // The changed subtree of `b`: its reads fail, the unchanged sibling is never needed
    await level.del(nodeKey(top.kind === 'branch' ? top.children[2]! : rb), STATE_ENCODINGS)
    await assert.rejects(collect(readerOf(level), ra, rb), MissingNodeError)
    await assert.rejects(collect(readerOf(level), EMPTY_ROOT, keccak256(Uint8Array.of(9))), MissingNodeError)
  })

  it('a leaf that does not end at 32 bytes throws NodeDecodeError', async () => {
    const level: Level = new MemoryLevel(STATE_ENCODINGS)
    const rlp = encodeLeaf(bytesToNibbles(fromHex('1234')), 0, fromHex(big(1)))
    const root = keccak256(rlp)
    await level.put(nodeKey(root), rlp, STATE_ENCODINGS)
    await assert.rejects(collect(readerOf(level), EMPTY_ROOT, root), NodeDecodeError)
    const good = await writeTrie(level, entries([[k('1'), big(1)]]))
    await assert.rejects(collect(readerOf(level), good, root), NodeDecodeError)
  })

  it('cost follows the change: a 1-key update or insert in a 2000-key trie reads few nodes', async () => {
    const a: Entries = new Map(randomLeaves(2000, rng(7)).map((l) => [toHex(l.key), toHex(l.value)]))
    const key = [...a.keys()][1234]
    const updated = new Map(a).set(key, big(5))
    const inserted = new Map(a).set(k('77', '7'), big(5))
    const level: Level = new MemoryLevel(STATE_ENCODINGS)
    const ra = await writeTrie(level, a)
    const runs = [
      [updated, [key, a.get(key), big(5)]],
      [inserted, [k('77', '7'), undefined, big(5)]],
    ] as const
    for (const [b, change] of runs) {
      const rb = await writeTrie(level, b)
      const counter = { loads: 0 }
      assert.deepEqual(await collect(readerOf(level, counter), ra, rb), { changes: [change], done: true })
      assert.ok(counter.loads > 0 && counter.loads < 40, `${counter.loads} loads`)
    }
  })
})
