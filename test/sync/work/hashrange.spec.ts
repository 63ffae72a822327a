import { strict as assert } from 'node:assert'

import { MAX_HASH, fractionDone, hashBytes, hashNumber, splitRange } from '../../../src/sync/work/hashrange.js'
import { rng } from '../../helpers/rng.js'

import type { HashRange } from '../../../src/sync/work/hashrange.js'

/** Throws unless `ranges` are non-empty, in order, and cover [first, last] exactly, without gaps or overlaps */
function assertCovers(ranges: HashRange[], first: bigint, last: bigint): void {
  assert.ok(ranges.length > 0, 'no ranges')
  assert.equal(ranges[0].first, first, 'first range starts late')
  assert.equal(ranges[ranges.length - 1].last, last, 'last range ends early')
  ranges.forEach((r, i) => {
    assert.ok(r.first <= r.last, `range ${i} is empty: ${r.first} > ${r.last}`)
    if (i > 0) assert.equal(r.first, ranges[i - 1].last + 1n, `gap or overlap before range ${i}`)
  })
}

/** A random bigint in [0, MAX_HASH] with a random number of significant bits */
function randomKey(random: () => number): bigint {
  const bits = 1 + Math.floor(random() * 256)
  let n = 0n
  for (let i = 0; i < bits; i += 16) n = (n << 16n) | BigInt(Math.floor(random() * 65536))
  return n & ((1n << BigInt(bits)) - 1n)
}

describe('[hashrange]', () => {
  describe('splitRange', () => {
    const cases: { name: string; first: bigint; last: bigint; parts: number; expect: number }[] = [
      { name: 'whole space in 1', first: 0n, last: MAX_HASH, parts: 1, expect: 1 },
      { name: 'whole space in 16', first: 0n, last: MAX_HASH, parts: 16, expect: 16 },
      { name: 'whole space in 3 (does not divide)', first: 0n, last: MAX_HASH, parts: 3, expect: 3 },
      { name: 'a tail of the space in 7', first: MAX_HASH - 1000n, last: MAX_HASH, parts: 7, expect: 7 },
      { name: 'fewer keys than parts', first: 10n, last: 13n, parts: 16, expect: 4 },
      { name: 'a single key', first: 5n, last: 5n, parts: 4, expect: 1 },
      { name: 'zero parts is one range', first: 0n, last: 99n, parts: 0, expect: 1 },
    ]
    for (const c of cases) {
      it(`${c.name} -> ${c.expect} ranges`, () => {
        const ranges = splitRange(c.first, c.last, c.parts)
        assert.equal(ranges.length, c.expect)
        assertCovers(ranges, c.first, c.last)
      })
    }

    it('covers random ranges exactly, in parts of near-equal width (seeded)', () => {
      const random = rng(7)
      for (let i = 0; i < 500; i++) {
        const [a, b] = [randomKey(random), randomKey(random)]
        const [first, last] = a <= b ? [a, b] : [b, a]
        const parts = 1 + Math.floor(random() * 40)
        const ranges = splitRange(first, last, parts)
        assertCovers(ranges, first, last)
        assert.ok(ranges.length <= parts)
        // Every range but the last has the same width; the last takes the rest, less than twice that
        const width = ranges[0].last - ranges[0].first + 1n
        for (const r of ranges.slice(0, -1)) assert.equal(r.last - r.first + 1n, width)
        const tail = ranges[ranges.length - 1]
        assert.ok(tail.last - tail.first + 1n < 2n * width)
      }
    })
  })

  describe('fractionDone', () => {
    const range: HashRange = { first: 1000n, last: 1999n }
    const cases: { name: string; range: HashRange; next: bigint; expect: number }[] = [
      { name: 'nothing before the first key', range, next: 1000n, expect: 0 },
      { name: 'below the range', range, next: 0n, expect: 0 },
      { name: 'a quarter', range, next: 1250n, expect: 0.25 },
      { name: 'half', range, next: 1500n, expect: 0.5 },
      { name: 'past the last key', range, next: 2000n, expect: 1 },
      { name: 'far past the range', range, next: MAX_HASH, expect: 1 },
      { name: 'half of the whole space', range: { first: 0n, last: MAX_HASH }, next: 1n << 255n, expect: 0.5 },
    ]
    for (const c of cases) {
      it(`${c.name} -> ${c.expect}`, () => {
        assert.ok(Math.abs(fractionDone(c.range, c.next) - c.expect) < 1e-6, String(fractionDone(c.range, c.next)))
      })
    }

    it('never decreases as the cursor moves forward', () => {
      let prev = 0
      for (let next = 990n; next <= 2010n; next += 7n) {
        const f = fractionDone(range, next)
        assert.ok(f >= prev && f <= 1, `${next}: ${f} after ${prev}`)
        prev = f
      }
    })
  })

  it('hashBytes and hashNumber round-trip 32-byte keys', () => {
    for (const n of [0n, 1n, 255n, 1n << 128n, MAX_HASH]) {
      const bytes = hashBytes(n)
      assert.equal(bytes.length, 32)
      assert.equal(hashNumber(bytes), n)
    }
  })
})
