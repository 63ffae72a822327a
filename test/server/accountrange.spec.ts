import { strict as assert } from 'node:assert'

import { RLP } from '@ethereumjs/rlp'
import { bytesToUnprefixedHex } from '@ethereumjs/util'

import { accountFields, serveAccountRange, slimLength } from '../../src/server/accountrange.js'
import { Budget } from '../../src/server/budget.js'
import { EMPTY_CODE_HASH, decodeFullAccount, encodeFullAccount, encodeSlimAccount } from '../../src/trie/account.js'
import { EMPTY_ROOT } from '../../src/trie/stackbuilder.js'
import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'

import { MAX, ZERO, buildState, hex, plusOne, verifyRange } from './fixtures.js'

import type { TestState } from './fixtures.js'
import type { GetAccountRangeRequest } from '../../src/wire/messages.js'

interface Case {
  name: string
  /** Request fields from the state (defaults: served root, zero origin, max limit, 2 MiB) */
  req: (s: TestState) => Partial<GetAccountRangeRequest>
  /** Expected account hashes, from the sorted account hashes of the state */
  keys: (all: Uint8Array[], s: TestState) => Uint8Array[]
  /** Expected number of proof nodes: 'none' or 'some' */
  proof: 'none' | 'some'
  /** Whether the verifier must report more accounts after the reply */
  more?: boolean
}

const request = (s: TestState, over: Partial<GetAccountRangeRequest>): GetAccountRangeRequest => ({
  kind: 'GetAccountRange',
  reqId: 1n,
  root: s.root,
  origin: ZERO,
  limit: MAX,
  bytes: 2n * 1024n * 1024n,
  ...over,
})

/** The accounts a reply holds under a byte limit: up to and including the first to pass it, counted slim */
function cut(hashes: Uint8Array[], s: TestState, bytes: number): Uint8Array[] {
  let size = 0
  for (let i = 0; i < hashes.length; i++) {
    size += 32 + slimLength(s.bodies.get(bytesToUnprefixedHex(hashes[i]))!)
    if (size > bytes) return hashes.slice(0, i + 1)
  }
  return hashes
}

const cases: Case[] = [
  {
    name: 'full range from zero: every account, no proof',
    req: () => ({}),
    keys: (a) => a,
    proof: 'none',
    more: false,
  },
  {
    name: 'byte limit cuts the range after the first account past it: proofs of origin and last',
    req: () => ({ bytes: 3000n }),
    keys: (a, s) => cut(a, s, 3000),
    proof: 'some',
    more: true,
  },
  {
    name: 'origin is an existing key',
    req: (s) => ({ origin: s.accountHashes[10], bytes: 500n }),
    keys: (a, s) => cut(a.slice(10), s, 500),
    proof: 'some',
    more: true,
  },
  {
    name: 'origin not a key: starts at the next one',
    req: (s) => ({ origin: plusOne(s.accountHashes[40]), limit: s.accountHashes[44] }),
    keys: (a) => a.slice(41, 45),
    proof: 'some',
    more: true,
  },
  {
    name: 'limit between keys: the first key after it is the last returned',
    req: (s) => ({ origin: s.accountHashes[5], limit: plusOne(s.accountHashes[7]) }),
    keys: (a) => a.slice(5, 9),
    proof: 'some',
    more: true,
  },
  {
    name: 'empty range past the last key: proof of absence, no accounts',
    req: (s) => ({ origin: plusOne(s.accountHashes[s.accountHashes.length - 1]) }),
    keys: () => [],
    proof: 'some',
    more: false,
  },
  {
    name: 'limit below origin: the first account at or after the origin',
    req: (s) => ({ origin: s.accountHashes[20], limit: s.accountHashes[3] }),
    keys: (a) => [a[20]],
    proof: 'some',
    more: true,
  },
  {
    name: 'byte limit of 1 byte: exactly one account',
    req: () => ({ bytes: 1n }),
    keys: (a) => [a[0]],
    proof: 'some',
    more: true,
  },
  {
    name: 'byte limit 2^64-1 is bounded by our maximum',
    req: () => ({ bytes: (1n << 64n) - 1n }),
    keys: (a) => a,
    proof: 'none',
    more: false,
  },
  {
    name: 'tail from an origin: proofs, nothing more',
    req: (s) => ({ origin: s.accountHashes[195] }),
    keys: (a) => a.slice(195),
    proof: 'some',
    more: false,
  },
]

describe('[serveAccountRange]', () => {
  let state: TestState
  before(async () => {
    state = await buildState(Array.from({ length: 200 }, () => ({})))
  })

  for (const c of cases) {
    it(c.name, async () => {
      const req = request(state, c.req(state))
      const reply = await serveAccountRange(state.view, req, DEFAULT_SERVE_LIMITS, Budget.unlimited())
      const keys = reply.accounts.map((a) => a.hash)
      assert.deepEqual(hex(keys), hex(c.keys(state.accountHashes, state)))
      assert.equal(reply.proof.length > 0, c.proof === 'some', 'proof presence')
      const more = await verifyRange(
        req.root,
        req.origin,
        keys,
        reply.accounts.map((a) => a.body),
        reply.proof,
      )
      if (c.more !== undefined) assert.equal(more, c.more, 'more accounts after the range')
    })
  }

  it('unknown root: empty reply', async () => {
    const req = request(state, { root: plusOne(state.root) })
    const reply = await serveAccountRange(state.view, req, DEFAULT_SERVE_LIMITS, Budget.unlimited())
    assert.deepEqual(reply, { accounts: [], proof: [] })
  })

  it('served root whose nodes are not in the DB: empty reply', async () => {
    const other = await buildState([{}], [state.root])
    const reply = await serveAccountRange(other.view, request(state, {}), DEFAULT_SERVE_LIMITS, Budget.unlimited())
    assert.deepEqual(reply, { accounts: [], proof: [] })
  })

  it('single-account trie: the account without proof, and with proofs from a non-zero origin', async () => {
    const single = await buildState([{}])
    const full = await serveAccountRange(single.view, request(single, {}), DEFAULT_SERVE_LIMITS, Budget.unlimited())
    assert.deepEqual(hex(full.accounts.map((a) => a.hash)), hex(single.accountHashes))
    assert.equal(full.proof.length, 0)
    await verifyRange(
      single.root,
      ZERO,
      single.accountHashes,
      full.accounts.map((a) => a.body),
      full.proof,
    )
    const origin = Uint8Array.from(single.accountHashes[0])
    origin[31] ^= 1
    const req = request(single, { origin })
    const part = await serveAccountRange(single.view, req, DEFAULT_SERVE_LIMITS, Budget.unlimited())
    const keys = part.accounts.map((a) => a.hash)
    assert.ok(part.proof.length > 0)
    await verifyRange(
      single.root,
      origin,
      keys,
      part.accounts.map((a) => a.body),
      part.proof,
    )
  })

  it('a spent time budget still returns one account with its proofs', async () => {
    const spent = new Budget(Infinity, 0, () => 1)
    const reply = await serveAccountRange(state.view, request(state, {}), DEFAULT_SERVE_LIMITS, spent)
    assert.equal(reply.accounts.length, 1)
    await verifyRange(state.root, ZERO, [reply.accounts[0].hash], [reply.accounts[0].body], reply.proof)
  })
})

describe('[slimLength] read from the full body, without decoding it', () => {
  const ONES = new Uint8Array(32).fill(0x11)
  const nonces = [0n, 1n, 0x7fn, 0x80n, 2n ** 64n - 1n]
  const balances = [0n, 1n, 0x80n, 10n ** 18n, 2n ** 256n - 1n]
  it('equals the length of the slim encoding for every shape of account', () => {
    let checked = 0
    for (const nonce of nonces)
      for (const balance of balances)
        for (const storageRoot of [EMPTY_ROOT, ONES])
          for (const codeHash of [EMPTY_CODE_HASH, ONES]) {
            const body = encodeFullAccount({ nonce, balance, storageRoot, codeHash })
            const slim = encodeSlimAccount(decodeFullAccount(body)).length
            assert.equal(slimLength(body), slim, `nonce ${nonce} balance ${balance}`)
            checked++
          }
    assert.equal(checked, 100)
  })

  it('a body that is not a full account still fails as the decoder does', () => {
    assert.throws(() => slimLength(Uint8Array.of(0xc0)))
    assert.throws(() => slimLength(new Uint8Array(70).fill(0xf8)))
  })
})

describe('[accountFields] the fields of a full body, read without decoding it', () => {
  const ONES = new Uint8Array(32).fill(0x11)
  const bodies = [0n, 1n, 0x7fn, 0x80n, 2n ** 64n - 1n].flatMap((nonce) =>
    [0n, 1n, 0x80n, 10n ** 18n, 2n ** 256n - 1n].flatMap((balance) =>
      [EMPTY_ROOT, ONES].flatMap((storageRoot) =>
        [EMPTY_CODE_HASH, ONES].map((codeHash) => encodeFullAccount({ nonce, balance, storageRoot, codeHash })),
      ),
    ),
  )

  it("equals RLP.decode's fields for every shape of account, as views into the body", () => {
    for (const body of bodies) {
      const fields = accountFields(body)
      assert.deepEqual(fields, RLP.decode(body))
      for (const f of fields) assert.equal(f.buffer, body.buffer, 'a view, not a copy')
    }
    assert.equal(bodies.length, 100)
  })

  it('a body not in the canonical shape is decoded by RLP.decode, which refuses bad data', () => {
    // A one-byte nonce below 0x80 written with a prefix: not canonical
    const body = encodeFullAccount({ nonce: 5n, balance: 1n, storageRoot: ONES, codeHash: ONES })
    const prefixed = Uint8Array.from([0xf8, body[1] + 1, 0x81, ...body.subarray(2)])
    assert.throws(() => accountFields(prefixed), /invalid RLP/)
    assert.throws(() => accountFields(new Uint8Array(70).fill(0xf8)))
    // A list that is not 4 hashes long is still what RLP.decode makes of it
    assert.deepEqual(accountFields(RLP.encode([Uint8Array.of(1), Uint8Array.of(2)])), [
      Uint8Array.of(1),
      Uint8Array.of(2),
    ])
  })
})
