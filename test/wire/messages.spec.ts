import { strict as assert } from 'node:assert'

import { parseSnapRequest } from '../../src/wire/messages.js'

const H = new Uint8Array(32).fill(1)
const E = new Uint8Array()

describe('[parseSnapRequest]', () => {
  const ok: [string, string, object, (r: any) => void][] = [
    [
      'account range',
      'GetAccountRange',
      { reqId: 1n, root: H, origin: H, limit: H, bytes: 0n },
      (r) => assert.equal(r.bytes, 0n),
    ],
    [
      'storage ranges with empty origin/limit',
      'GetStorageRanges',
      { reqId: 1n, root: H, accounts: [H], origin: E, limit: E, bytes: 5n },
      (r) => {
        assert.equal(
          r.origin.every((b: number) => b === 0),
          true,
        )
        assert.equal(
          r.limit.every((b: number) => b === 0xff),
          true,
        )
      },
    ],
    [
      'bytecodes, max uint64 bytes',
      'GetByteCodes',
      { reqId: 0n, hashes: [H, H], bytes: (1n << 64n) - 1n },
      (r) => assert.equal(r.hashes.length, 2),
    ],
    [
      'trie nodes',
      'GetTrieNodes',
      { reqId: 9n, root: H, paths: [[E], [H, E]], bytes: 1n },
      (r) => assert.equal(r.paths.length, 2),
    ],
  ]
  for (const [name, kind, data, check] of ok) {
    it(`accepts ${name}`, () => {
      const parsed = parseSnapRequest(kind, data)
      assert.ok(parsed.ok)
      if (parsed.ok) check(parsed.request)
    })
  }

  const bad: [string, string, unknown, bigint | undefined][] = [
    ['reqId above uint64', 'GetByteCodes', { reqId: 1n << 64n, hashes: [], bytes: 1n }, undefined],
    ['missing bytes', 'GetByteCodes', { reqId: 3n, hashes: [] }, 3n],
    ['root of 0 bytes', 'GetTrieNodes', { reqId: 3n, root: E, paths: [], bytes: 1n }, 3n],
    [
      'origin of 33 bytes',
      'GetAccountRange',
      { reqId: 3n, root: H, origin: new Uint8Array(33), limit: H, bytes: 1n },
      3n,
    ],
    ['a reply name', 'AccountRange', { reqId: 3n }, 3n],
    ['not an object', 'GetByteCodes', 'x', undefined],
  ]
  for (const [name, kind, data, reqId] of bad) {
    it(`rejects ${name}`, () => {
      const parsed = parseSnapRequest(kind, data)
      assert.equal(parsed.ok, false)
      if (!parsed.ok) assert.equal(parsed.reqId, reqId)
    })
  }
})
