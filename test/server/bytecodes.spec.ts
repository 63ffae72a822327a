import { strict as assert } from 'node:assert'

import { KECCAK256_NULL, bytesToUnprefixedHex } from '@ethereumjs/util'

import { Budget } from '../../src/server/budget.js'
import { serveByteCodes } from '../../src/server/bytecodes.js'
import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'

import { buildState, hex, plusOne } from './fixtures.js'

import type { TestState } from './fixtures.js'

const code = (i: number, size: number) => new Uint8Array(size).fill(i + 1)

describe('[serveByteCodes]', () => {
  let s: TestState
  let hashes: Uint8Array[]
  before(async () => {
    s = await buildState(Array.from({ length: 6 }, (_, i) => ({ code: code(i, 100 * (i + 1)) })))
    hashes = s.codeHashes
  })
  const serve = (h: Uint8Array[], bytes = 1_000_000n, limits = DEFAULT_SERVE_LIMITS) =>
    serveByteCodes(s.view, { kind: 'GetByteCodes', reqId: 1n, hashes: h, bytes }, limits, Budget.unlimited())
  const codesOf = (h: Uint8Array[]) => h.map((x) => s.codes.get(bytesToUnprefixedHex(x))!)

  const cases: { name: string; req: () => Uint8Array[]; bytes?: bigint; want: () => Uint8Array[] }[] = [
    {
      name: 'all codes in request order',
      req: () => [...hashes].reverse(),
      want: () => codesOf([...hashes].reverse()),
    },
    {
      name: 'missing codes are skipped without placeholders',
      req: () => [plusOne(hashes[0]), hashes[1], plusOne(hashes[2]), hashes[3]],
      want: () => codesOf([hashes[1], hashes[3]]),
    },
    { name: 'only unknown hashes: empty reply', req: () => hashes.map(plusOne), want: () => [] },
    { name: 'byte limit of 1 byte: one code', req: () => hashes, bytes: 1n, want: () => codesOf(hashes.slice(0, 1)) },
    { name: 'the empty code is answered without a read', req: () => [KECCAK256_NULL], want: () => [new Uint8Array()] },
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const reply = await serve(c.req(), c.bytes)
      assert.deepEqual(hex(reply.codes), hex(c.want()))
    })
  }

  it('10,000 hashes: at most maxCodeLookups are looked at', async () => {
    const many = Array.from({ length: 10_000 }, (_, i) => hashes[i % hashes.length])
    const reply = await serve(many, (1n << 64n) - 1n, { ...DEFAULT_SERVE_LIMITS, maxResponseBytes: 1 << 30 })
    assert.equal(reply.codes.length, DEFAULT_SERVE_LIMITS.maxCodeLookups)
  })
})
