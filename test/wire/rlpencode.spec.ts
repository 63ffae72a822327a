/**
 * `RLP.encode` and `RLP.decode` as patched in `@ethereumjs/rlp` (patches/@ethereumjs+rlp+10.1.3.patch):
 * encode makes one size pass, then one write into one buffer, instead of concatenating every item at
 * every level; decode reads by offsets instead of copying each list and passing views of the rest on;
 * decodeViews (new) does the same and returns views into the input instead of copies.
 * Every message the node sends or receives goes through them, so encode must give byte for byte what
 * the definition gives (Yellow Paper, appendix B), for every input type the library takes, decode must
 * give the items back, and both must throw where the library threw.
 */
import { strict as assert } from 'node:assert'

import { createRequire } from 'node:module'

// Every copy the patch changes, by path: the client processes load dist/esm; a require, and these tests
// through tsx, load dist/cjs; the TypeScript source is what the package exports under `typescript`
import { RLP as esmRLP } from '../../node_modules/@ethereumjs/rlp/dist/esm/index.js'
import { rng } from '../helpers/rng.js'

import type { Input, NestedUint8Array } from '@ethereumjs/rlp'

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Big-endian bytes of a positive length, no leading zero */
const lengthBytes = (len: number) => {
  const out: number[] = []
  for (let rest = len; rest > 0; rest = Math.floor(rest / 256)) out.unshift(rest % 256)
  return Uint8Array.from(out)
}

const prefix = (len: number, offset: number) =>
  len < 56
    ? Uint8Array.of(offset + len)
    : concat(Uint8Array.of(offset + 55 + lengthBytes(len).length), lengthBytes(len))

/** The library's conversions of a non-list input, as documented (`toBytes` in `@ethereumjs/rlp`) */
const asBytes = (v: Exclude<Input, Input[]>): Uint8Array => {
  if (v instanceof Uint8Array) return v
  if (v === null || v === undefined) return new Uint8Array()
  if (typeof v === 'string') {
    if (!v.startsWith('0x')) return new TextEncoder().encode(v)
    const hex = v.length % 2 === 0 ? v.slice(2) : `0${v.slice(2)}`
    return Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16))
  }
  if (BigInt(v) === 0n) return new Uint8Array()
  const hex = BigInt(v).toString(16)
  return Uint8Array.from((hex.length % 2 === 0 ? hex : `0${hex}`).match(/../g) ?? [], (h) => Number.parseInt(h, 16))
}

const same = (a: unknown, b: unknown): boolean =>
  Array.isArray(a)
    ? Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]))
    : a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)

/** The definition, recursively, as the stock encoder did it */
function reference(input: Input): Uint8Array {
  if (Array.isArray(input)) {
    const payload = concat(...input.map(reference))
    return concat(prefix(payload.length, 0xc0), payload)
  }
  const bytes = asBytes(input)
  return bytes.length === 1 && bytes[0] < 0x80 ? bytes : concat(prefix(bytes.length, 0x80), bytes)
}

/** A random item: byte strings around every length boundary, the other input types, nested lists */
function randomItem(next: () => number, depth: number): Input {
  const pick = Math.floor(next() * 12)
  if (depth < 5 && pick < 3) return Array.from({ length: Math.floor(next() * 6) }, () => randomItem(next, depth + 1))
  if (depth < 3 && pick === 3) return Array.from({ length: 50 + Math.floor(next() * 300) }, () => randomItem(next, 4))
  // Long strings only near the top, so that a list of 300 items stays small
  const lengths = [0, 1, 1, 2, 31, 32, 55, 56, 57, 255, 256, ...(depth < 2 ? [1000, 65535, 65536] : [])]
  const length = lengths[Math.floor(next() * lengths.length)]
  const [start, mask] = [Math.floor(next() * 256), next() < 0.5 ? 0x7f : 0xff]
  const bytes = Uint8Array.from({ length }, (_, i) => (start + i * 131) & mask)
  switch (pick) {
    case 4:
      return Math.floor(next() * 2 ** 40)
    case 5:
      return BigInt(Math.floor(next() * 2 ** 50)) * BigInt(Math.floor(next() * 2 ** 50))
    case 6:
      return `0x${Buffer.from(bytes.subarray(0, 40)).toString('hex')}${next() < 0.5 ? 'a' : ''}`
    case 7:
      return 'snap/1 ü'.repeat(Math.floor(next() * 10))
    case 8:
      return next() < 0.5 ? null : undefined
    case 9:
      // A view into a larger buffer, as replies built from stored chunks are
      return concat(Uint8Array.of(1, 2, 3), bytes, Uint8Array.of(4)).subarray(3, 3 + length)
    default:
      return bytes
  }
}

// By a path the type check does not follow (the source's own imports end in `.ts`)
const SOURCE = '../../node_modules/@ethereumjs/rlp/src/index.ts'
const sourceRLP = ((await import(SOURCE)) as { RLP: typeof esmRLP }).RLP
const cjsRLP = (createRequire(import.meta.url)('@ethereumjs/rlp') as { RLP: typeof esmRLP }).RLP

for (const [dist, RLP] of [
  ['dist/esm', esmRLP],
  ['dist/cjs', cjsRLP],
  ['src', sourceRLP],
] as const)
  describe(`[RLP.encode] one buffer, written once (${dist})`, () => {
    it('gives the definition for every length boundary of strings and lists', () => {
      for (const length of [0, 1, 55, 56, 255, 256, 65535, 65536, 2 ** 24]) {
        const bytes = new Uint8Array(length).fill(0xaa)
        assert.deepEqual(RLP.encode(bytes), reference(bytes), `a ${length}-byte string`)
        const list = Array.from({ length: Math.min(length, 70_000) }, () => Uint8Array.of(1))
        assert.deepEqual(RLP.encode(list), reference(list), `a list of ${list.length} one-byte items`)
      }
      for (const byte of [0, 0x7f, 0x80, 0xff])
        assert.deepEqual(RLP.encode(Uint8Array.of(byte)), reference(Uint8Array.of(byte)))
      assert.deepEqual(RLP.encode([]), Uint8Array.of(0xc0))
      assert.deepEqual(
        RLP.encode([[], [[]], [[], [[]]]]),
        Uint8Array.of(0xc7, 0xc0, 0xc1, 0xc0, 0xc3, 0xc0, 0xc1, 0xc0),
      )
    })

    it('gives the definition for 2,000 random nested items of every input type', () => {
      const next = rng(23)
      for (let i = 0; i < 2000; i++) {
        const item = randomItem(next, 0)
        const encoded = RLP.encode(item)
        if (!same(encoded, reference(item))) assert.fail(`item ${i} (seed 23) differs from the definition`)
        if (!Array.isArray(item)) continue
        // Decoding gives the byte strings back (every input type as its bytes)
        const asRead = (x: Input): unknown => (Array.isArray(x) ? x.map(asRead) : asBytes(x as Exclude<Input, Input[]>))
        assert.ok(same(RLP.decode(encoded), asRead(item)), `item ${i} decoded`)
      }
    })

    it('a snap reply of 5,000 accounts and its proof: the definition, in one new buffer', () => {
      const next = rng(5)
      const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256))
      const accounts = Array.from({ length: 5000 }, () => [
        bytes(32),
        [Uint8Array.of(1), bytes(9), new Uint8Array(), new Uint8Array()],
      ])
      const reply: Input = [Uint8Array.of(7), accounts, Array.from({ length: 10 }, () => bytes(532))]
      const encoded = RLP.encode(reply)
      assert.ok(same(encoded, reference(reply)))
      assert.equal(encoded.byteOffset, 0)
      assert.equal(encoded.buffer.byteLength, encoded.length, 'the output is its own buffer, sized once')
    })

    it('decode: by offsets into the input, the same items and the same errors', () => {
      const item: Input = [Uint8Array.of(1), [new Uint8Array(60).fill(2), []], new Uint8Array(0), Uint8Array.of(0x80)]
      const encoded = RLP.encode(item)
      assert.ok(same(RLP.decode(encoded), item))
      // Stream mode: the first item, and a copy of what follows it
      const streamed = RLP.decode(Uint8Array.from([...encoded, 0x01, 0x02]), true)
      assert.ok(same(streamed.data, item))
      assert.deepEqual(streamed.remainder, Uint8Array.of(1, 2))
      // The stock decoder's errors for each (10.0.0's messages)
      const refused: [string, RegExp][] = [
        ['8100', /single byte < 0x80 are not prefixed/],
        ['b801', /not enough bytes for string length/],
        ['b83700', /expected string length to be greater than 55/],
        ['b900010000', /extra zeros/],
        ['c4010203', /out-of-bounds/],
        ['c20183', /out-of-bounds/],
        ['f838', /total length is larger than the data/],
        ['f80101', /encoded list too short/],
        ['f83801', /total length is larger than the data/],
        ['0102', /remainder must be zero/],
        // An item may not run past the end of its list, though the input goes on
        ['c2820102', /out-of-bounds/],
      ]
      for (const [hex, error] of refused) assert.throws(() => RLP.decode(Buffer.from(hex, 'hex')), error, hex)
    })

    it('decodeViews: the items decode gives, as views into the input, and the same errors', () => {
      const item: Input = [Uint8Array.of(1), [new Uint8Array(60).fill(2), []], new Uint8Array(0), Uint8Array.of(0x80)]
      const encoded = RLP.encode(item)
      const viewed = RLP.decodeViews(encoded) as NestedUint8Array
      assert.ok(same(viewed, item))
      const copied = RLP.decode(encoded) as NestedUint8Array
      const flat = (x: Uint8Array | NestedUint8Array): Uint8Array[] => (Array.isArray(x) ? x.flatMap(flat) : [x])
      // Every non-empty string shares the input's memory under decodeViews, none under decode
      for (const b of flat(viewed).filter((b) => b.length > 0)) assert.equal(b.buffer, encoded.buffer)
      for (const b of flat(copied)) assert.notEqual(b.buffer, encoded.buffer)
      const refused: [string, RegExp][] = [
        ['8100', /single byte < 0x80 are not prefixed/],
        ['b83700', /expected string length to be greater than 55/],
        ['c4010203', /out-of-bounds/],
        ['f83801', /total length is larger than the data/],
        ['0102', /remainder must be zero/],
        ['c2820102', /out-of-bounds/],
      ]
      for (const [hex, error] of refused) assert.throws(() => RLP.decodeViews(Buffer.from(hex, 'hex')), error, hex)
    })

    it('throws where the library throws: a negative number, a type it does not take', () => {
      assert.throws(() => RLP.encode([1, -1]), /unsigned/)
      assert.throws(() => RLP.encode([Uint8Array.of(1), {} as unknown as Input]), /unsupported type/)
    })
  })
