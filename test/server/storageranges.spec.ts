import { strict as assert } from 'node:assert'

import { bytesToUnprefixedHex } from '@ethereumjs/util'

import { Budget } from '../../src/server/budget.js'
import { lookupKey } from '../../src/trie/prove.js'
import { serveStorageRanges } from '../../src/server/storageranges.js'
import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'

import { MAX, ZERO, buildState, hex, plusOne, storageRootOfBody, verifyRange } from './fixtures.js'

import type { TestState } from './fixtures.js'
import type { GetStorageRangesRequest, StorageRangesReply } from '../../src/wire/messages.js'

// Accounts 0..19: small contracts (3 slots); 20: a big contract (3000 slots); 21..29: no storage
const SPECS = [
  ...Array.from({ length: 20 }, () => ({ slots: 3 })),
  { slots: 3000 },
  ...Array.from({ length: 9 }, () => ({})),
]

const request = (s: TestState, over: Partial<GetStorageRangesRequest>): GetStorageRangesRequest => ({
  kind: 'GetStorageRanges',
  reqId: 7n,
  root: s.root,
  accounts: [],
  origin: ZERO,
  limit: MAX,
  bytes: 512n * 1024n,
  ...over,
})

/** Verifies every range of a reply: complete ones without proof, the last one with the proof */
async function verifyReply(s: TestState, req: GetStorageRangesRequest, reply: StorageRangesReply): Promise<boolean> {
  let more = false
  for (const [i, slots] of reply.slots.entries()) {
    const body = await lookupKey(s.view.accountReader(Budget.unlimited()), s.root, req.accounts[i])
    const root = storageRootOfBody(body!)
    const isLast = i === reply.slots.length - 1
    const proof = isLast ? reply.proof : []
    const origin = i === 0 ? req.origin : ZERO
    more = await verifyRange(
      root,
      origin,
      slots.map((x) => x.hash),
      slots.map((x) => x.body),
      proof,
    )
  }
  return more
}

describe('[serveStorageRanges]', () => {
  let s: TestState
  let small: Uint8Array[]
  let big: Uint8Array
  let bigSlots: Uint8Array[]
  before(async () => {
    s = await buildState(SPECS)
    small = s.accountHashes.filter((h) => s.slotHashes.get(bytesToUnprefixedHex(h))?.length === 3)
    big = s.accountHashes.find((h) => s.slotHashes.get(bytesToUnprefixedHex(h))?.length === 3000)!
    bigSlots = s.slotHashes.get(bytesToUnprefixedHex(big))!
  })
  const slotsOf = (h: Uint8Array) => s.slotHashes.get(bytesToUnprefixedHex(h)) ?? []
  const serve = (req: GetStorageRangesRequest, budget = Budget.unlimited()) =>
    serveStorageRanges(s.view, req, DEFAULT_SERVE_LIMITS, budget)

  it('storage of many small contracts in one request: complete ranges, no proof', async () => {
    const req = request(s, { accounts: small })
    const reply = await serve(req)
    assert.equal(reply.slots.length, 20)
    assert.deepEqual(
      reply.slots.map((r) => hex(r.map((x) => x.hash))),
      small.map((h) => hex(slotsOf(h))),
    )
    assert.equal(reply.proof.length, 0)
    assert.equal(await verifyReply(s, req, reply), false)
  })

  it('a big contract is cut with a proof and continued from its last slot to the end', async () => {
    let origin: Uint8Array = ZERO
    const got: Uint8Array[] = []
    for (let round = 0; round < 100; round++) {
      const req = request(s, { accounts: [big], origin, bytes: 20000n })
      const reply = await serve(req)
      assert.equal(reply.slots.length, 1)
      const keys = reply.slots[0].map((x) => x.hash)
      const more = await verifyReply(s, req, reply)
      got.push(
        ...keys.filter(
          (k) => got.length === 0 || bytesToUnprefixedHex(k) !== bytesToUnprefixedHex(got[got.length - 1]),
        ),
      )
      if (!more) break
      assert.ok(reply.proof.length > 0)
      origin = plusOne(keys[keys.length - 1])
    }
    assert.deepEqual(hex(got), hex(bigSlots))
  })

  it('small contracts then the big one: complete ranges, then the cut one with the only proof', async () => {
    const req = request(s, { accounts: [...small.slice(0, 5), big, small[5]], bytes: 10000n })
    const reply = await serve(req)
    assert.equal(reply.slots.length, 6, 'stops at the cut contract')
    assert.ok(reply.proof.length > 0)
    assert.deepEqual(hex(reply.slots[5].map((x) => x.hash)), hex(bigSlots.slice(0, reply.slots[5].length)))
    assert.ok(reply.slots[5].length < 3000)
    assert.equal(await verifyReply(s, req, reply), true)
  })

  it('origin and limit select a sub-range of one contract', async () => {
    const req = request(s, { accounts: [big], origin: bigSlots[100], limit: plusOne(bigSlots[149]) })
    const reply = await serve(req)
    assert.deepEqual(hex(reply.slots[0].map((x) => x.hash)), hex(bigSlots.slice(100, 151)))
    assert.equal(await verifyReply(s, req, reply), true)
  })

  it('empty range past the last slot: an empty list with a proof of absence', async () => {
    const req = request(s, { accounts: [big], origin: plusOne(bigSlots[2999]) })
    const reply = await serve(req)
    assert.deepEqual(reply.slots, [[]])
    assert.ok(reply.proof.length > 0)
    assert.equal(await verifyReply(s, req, reply), false)
  })

  it('byte limit of 1 byte: one slot, proved', async () => {
    const req = request(s, { accounts: [big, small[0]], bytes: 1n })
    const reply = await serve(req)
    assert.deepEqual(hex(reply.slots[0].map((x) => x.hash)), hex(bigSlots.slice(0, 1)))
    assert.equal(reply.slots.length, 1)
    assert.equal(await verifyReply(s, req, reply), true)
  })

  it('account without storage: an empty list keeps positions aligned', async () => {
    const noStorage = s.accountHashes.find((h) => slotsOf(h).length === 0)!
    const req = request(s, { accounts: [small[0], noStorage, small[1]] })
    const reply = await serve(req)
    assert.deepEqual(
      reply.slots.map((r) => r.length),
      [3, 0, 3],
    )
    assert.equal(reply.proof.length, 0)
  })

  for (const [name, over] of [
    ['unknown root', (t: TestState) => ({ root: plusOne(t.root), accounts: [big] })],
    ['unknown account', () => ({ accounts: [small[0], plusOne(small[0])] })],
    ['no accounts', () => ({ accounts: [] })],
  ] as const) {
    it(`${name}: empty reply`, async () => {
      const reply = await serve(request(s, over(s)))
      assert.deepEqual(reply, { slots: [], proof: [] })
    })
  }

  it('the storage root read matches the account body', async () => {
    const body = await lookupKey(s.view.accountReader(Budget.unlimited()), s.root, big)
    assert.equal(storageRootOfBody(body!).length, 32)
  })
})
