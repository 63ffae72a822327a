/**
 * The message guards added to `@ethereumjs/devp2p` by patches/@ethereumjs+devp2p+10.0.0.patch: RLP
 * nesting depth and decompressed size in rlpx, request size and item count in the snap protocol
 * (imported by path: the package's exports map hides the files, and under tsx the package name
 * resolves to its unpatched TypeScript source).
 */
import { strict as assert } from 'node:assert'

import { RLP } from '@ethereumjs/rlp'
// @ts-expect-error snappyjs (devp2p's compressor) ships no types
import * as snappy from 'snappyjs'

// @ts-expect-error plain JS file added by our patch, no types
import * as guard from '../../node_modules/@ethereumjs/devp2p/dist/esm/rlpx/messageguard.js'
// The dist file itself: under tsx the package name resolves to devp2p's unpatched TypeScript source
import {
  MAX_SNAP_REQUEST_BYTES,
  MAX_SNAP_REQUEST_ITEMS,
  SNAP,
} from '../../node_modules/@ethereumjs/devp2p/dist/esm/protocol/snap.js'
import { nestedRlp, wideRlp } from '../helpers/hostile.js'

const { rlpDepthExceeds, rlpItemsExceed, snappyDecodedLength, MAX_RLP_DEPTH, MAX_MESSAGE_SIZE } = guard as {
  rlpDepthExceeds(input: Uint8Array, max?: number): boolean
  rlpItemsExceed(input: Uint8Array, max: number): boolean
  snappyDecodedLength(input: Uint8Array): number
  MAX_RLP_DEPTH: number
  MAX_MESSAGE_SIZE: number
}

describe('[devp2p message guard]', () => {
  const cases: [string, Uint8Array, boolean][] = [
    ['a flat snap request', RLP.encode([1, new Uint8Array(32), [new Uint8Array(32)], 1000]), false],
    ['a legacy receipt (7 levels, the deepest devp2p message)', nestedRlp(7), false],
    ['exactly the maximum depth', nestedRlp(MAX_RLP_DEPTH), false],
    ['one level too deep', nestedRlp(MAX_RLP_DEPTH + 1), true],
    ['100,000 levels (390 KB)', nestedRlp(100_000), true],
    [
      'a wide 10 MB message of shallow items',
      RLP.encode(Array.from({ length: 20_000 }, () => [[[new Uint8Array(500)]]])),
      false,
    ],
    ['a long string, not a list', RLP.encode(new Uint8Array(70_000)), false],
    ['garbage lengths', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), false],
  ]
  for (const [name, input, exceeds] of cases) {
    it(`${name}: ${exceeds ? 'refused' : 'passes'}`, () => {
      assert.equal(rlpDepthExceeds(input), exceeds)
    })
  }

  it('reads the decompressed size of a snappy block before decompressing', () => {
    assert.equal(snappyDecodedLength(snappy.compress(new Uint8Array(300_000))), 300_000)
    // A 5-byte preamble claiming 2^32 bytes is over the limit; an unterminated one is malformed
    assert.ok(snappyDecodedLength(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x10])) > MAX_MESSAGE_SIZE)
    assert.equal(snappyDecodedLength(Uint8Array.from([0x80, 0x80])), -1)
  })

  it('counts the items of a message without decoding it, at any depth', () => {
    assert.equal(rlpItemsExceed(wideRlp(20_000), 20_000), true, '20,000 strings and the list')
    assert.equal(rlpItemsExceed(wideRlp(19_999), 20_000), false)
    assert.equal(rlpItemsExceed(RLP.encode([1, [2, [3, new Uint8Array(100)]]]), 7), false, '7 items')
    assert.equal(rlpItemsExceed(RLP.encode([1, [2, [3, new Uint8Array(100)]]]), 6), true)
  })

  describe('snap requests are refused before decoding when too large', () => {
    const honest = RLP.encode([
      1,
      new Uint8Array(32),
      Array.from({ length: 1024 }, () => [new Uint8Array(33)]),
      500_000,
    ])
    // Larger than geth sends, but answered by geth capped to 1024 lookups: decoded, then capped by the server
    const manyPaths = RLP.encode([
      1,
      new Uint8Array(32),
      Array.from({ length: 10_000 }, () => [new Uint8Array(33)]),
      500_000,
    ])
    const manyHashes = RLP.encode([1, Array.from({ length: 10_000 }, () => new Uint8Array(32)), 500_000])
    const cases: [string, number, Uint8Array, boolean][] = [
      ['an honest GetTrieNodes of 1024 full paths', 6, honest, false],
      ['a GetTrieNodes of 10,000 full paths (~350 KB, 20k items)', 6, manyPaths, false],
      ['a GetByteCodes of 10,000 hashes (~330 KB)', 4, manyHashes, false],
      ['a request of more items than the limit', 6, wideRlp(MAX_SNAP_REQUEST_ITEMS + 1), true],
      ['a request larger than the byte limit', 4, RLP.encode([1, [new Uint8Array(MAX_SNAP_REQUEST_BYTES)], 1]), true],
      ['a large reply is not a request', 1, RLP.encode([1, [new Uint8Array(MAX_SNAP_REQUEST_BYTES)], []]), false],
    ]
    for (const [name, code, data, refused] of cases) {
      it(`${name}: ${refused ? 'refused' : 'decoded'}`, () => {
        const snap = new SNAP(1, { _socket: {} } as never, () => {})
        const seen: unknown[] = []
        snap.events.on('message', (c: unknown) => seen.push(c))
        if (refused) {
          assert.throws(() => snap._handleMessage(code as never, data), /invalid snap request/)
          assert.equal(seen.length, 0)
        } else {
          snap._handleMessage(code as never, data)
          assert.deepEqual(seen, [code])
        }
      })
    }
  })

  it('range replies are decoded as views into the message, other messages as copies', () => {
    const snap = new SNAP(1, { _socket: {} } as never, () => {})
    const payloads = new Map<number, Uint8Array[][]>()
    snap.events.on('message', (code: number, payload: unknown) => {
      payloads.set(code, payload as Uint8Array[][])
    })
    const hash = new Uint8Array(32).fill(7)
    // AccountRange (0x01), StorageRanges (0x03), ByteCodes (0x05), TrieNodes (0x07): [reqId, items, ...]
    const messages = new Map([
      [1, RLP.encode([1, [[hash, [1, 2, new Uint8Array(0), new Uint8Array(0)]]], [new Uint8Array(40)]])],
      [3, RLP.encode([1, [[[hash, Uint8Array.of(5)]]], []])],
      [5, RLP.encode([1, [new Uint8Array(40).fill(1)]])],
      [7, RLP.encode([1, [new Uint8Array(40).fill(2)]])],
    ])
    for (const [code, data] of messages) snap._handleMessage(code as never, data)
    const first = (code: number) => payloads.get(code)?.[1][0] as unknown as Uint8Array | Uint8Array[]
    const leaf = (code: number) => {
      const item = first(code)
      return (Array.isArray(item) ? (Array.isArray(item[0]) ? item[0][0] : item[0]) : item) as Uint8Array
    }
    for (const code of [1, 3]) assert.equal(leaf(code).buffer, messages.get(code)?.buffer, `code ${code}`)
    for (const code of [5, 7]) assert.notEqual(leaf(code).buffer, messages.get(code)?.buffer, `code ${code}`)
    assert.deepEqual(leaf(3), hash)
  })
})
