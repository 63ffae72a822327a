/**
 * The RLP nesting guard added to `@ethereumjs/devp2p` by patches/@ethereumjs+devp2p+10.0.0.patch
 * (the package's exports map hides the file, so it is imported by path).
 */
import { strict as assert } from 'node:assert'

import { RLP } from '@ethereumjs/rlp'
// @ts-expect-error snappyjs (devp2p's compressor) ships no types
import * as snappy from 'snappyjs'

// @ts-expect-error plain JS file added by our patch, no types
import * as guard from '../../node_modules/@ethereumjs/devp2p/dist/esm/rlpx/messageguard.js'
import { nestedRlp } from '../helpers/hostile.js'

const { rlpDepthExceeds, snappyDecodedLength, MAX_RLP_DEPTH, MAX_MESSAGE_SIZE } = guard as {
  rlpDepthExceeds(input: Uint8Array, max?: number): boolean
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
    ['a wide 10 MB message of shallow items', RLP.encode(Array.from({ length: 20_000 }, () => [[[new Uint8Array(500)]]])), false],
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
})
