import { strict as assert } from 'node:assert'

import { createMPT } from '@ethereumjs/mpt'

import { toHex } from '../../src/trie/hex.js'
import { STATE_ENCODINGS } from '../../src/trie/statedb.js'

import { assertSynced, checkSynced } from './checkstate.js'
import { ServedRootSet, buildFakeState, emptyStateLevel, evolveFakeState } from './fakestate.js'

import type { FakeState } from './fakestate.js'

describe('[FakeState]', () => {
  let s: FakeState
  before(async () => {
    s = await buildFakeState()
  })

  it('holds the default mix: plain accounts, small and large contracts, distinct codes', () => {
    assert.deepEqual(s.counts, { accounts: 122, slots: 20 * 8 + 2 * 3000, codeAccounts: 22, codes: 22 })
    assert.equal(s.contracts(1000).length, 2)
    const hashes = s.accountHashes().map(toHex)
    assert.deepEqual(hashes, [...hashes].sort())
    for (const a of s.contracts()) {
      const slots = a.slots.map((x) => toHex(x.hash))
      assert.deepEqual(slots, [...slots].sort())
    }
  })

  it('is deterministic from its seed', async () => {
    assert.equal(toHex((await buildFakeState()).root), toHex(s.root))
    assert.notEqual(toHex((await buildFakeState({ seed: 9 })).root), toHex(s.root))
  })

  it('has the root and storage roots that @ethereumjs/mpt computes for the same leaves', async () => {
    const small = await buildFakeState({ accounts: 6, contracts: 3, slots: 4, largeContracts: 1, largeSlots: 40 })
    const accounts = await createMPT()
    for (const a of small.accounts) {
      await accounts.put(a.hash, a.full)
      if (a.slots.length === 0) continue
      const storage = await createMPT()
      for (const slot of a.slots) await storage.put(slot.hash, slot.value)
      assert.equal(toHex(storage.root()), toHex(a.body.storageRoot))
    }
    assert.equal(toHex(accounts.root()), toHex(small.root))
  })

  it('is complete in its own DB by the walker, and an empty DB is not', async () => {
    const stats = await assertSynced(s.level, s)
    assert.equal(stats.slots, s.counts.slots)
    const empty = await checkSynced(emptyStateLevel(), s)
    assert.equal(empty.ok, false)
    assert.match(empty.problems[0], /missing node/)
    await assert.rejects(assertSynced(emptyStateLevel(), s), /synced state differs/)
  })

  it('names a missing code', async () => {
    const level = emptyStateLevel()
    const entries: { type: 'put'; key: string; value: Uint8Array }[] = []
    for await (const [key, value] of s.level.iterator(STATE_ENCODINGS))
      if (!key.startsWith('63') || key.length !== 66) entries.push({ type: 'put', key, value })
    await level.batch(entries, STATE_ENCODINGS)
    const check = await checkSynced(level, s)
    assert.equal(check.ok, false)
    assert.equal(check.stats.missingCodes, s.counts.codeAccounts)
    assert.match(check.problems[0], /missing code/)
  })

  it('evolves into a later state in the same DB, both complete and servable', async () => {
    const base = await buildFakeState({ largeContracts: 0 })
    const later = await evolveFakeState(base)
    assert.notEqual(toHex(later.root), toHex(base.root))
    assert.equal(later.level, base.level)
    assert.equal(later.counts.accounts, base.counts.accounts + 2)
    await assertSynced(later.level, later)
    await assertSynced(base.level, base)
    assert.equal(later.view.isServedRoot(base.root), false)
    later.served.add(base.root)
    assert.equal(later.view.isServedRoot(base.root), true)
  })

  it('ServedRootSet serves what it is told, changeable at run time', () => {
    const [a, b] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]
    const set = new ServedRootSet([a])
    assert.deepEqual([set.has(a), set.has(b)], [true, false])
    set.set([b])
    assert.deepEqual([set.has(a), set.has(b)], [false, true])
    set.delete(b)
    assert.equal(set.has(b), false)
  })
})
