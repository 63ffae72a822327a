import { strict as assert } from 'node:assert'

import { TrieNodeHealer } from '../../src/sync/healer.js'
import { emptyCounters } from '../../src/sync/status.js'

import { assertSynced } from './checkstate.js'
import { FakePeerSource, FakeSnapPeer } from './fakepeer.js'
import { buildFakeState, emptyStateLevel, evolveFakeState } from './fakestate.js'
import { TEST_SYNC_OPTIONS } from './syncrun.js'

describe('[TrieNodeHealer]', () => {
  it('heals a whole state from nothing by trie nodes, and reports what it healed', async () => {
    const source = await buildFakeState({ accounts: 40, contracts: 5, slots: 4, largeContracts: 1, largeSlots: 300 })
    const db = emptyStateLevel()
    const peer = new FakeSnapPeer(source)
    const counters = emptyCounters()
    const healer = new TrieNodeHealer(db, new FakePeerSource([peer]), counters, { persist: async () => {} }, TEST_SYNC_OPTIONS)
    await healer.run(source.root, AbortSignal.timeout(15_000))
    await assertSynced(db, source)
    assert.equal(peer.stats.accounts.requests + peer.stats.storage.requests, 0, 'no range requested')
    assert.ok(healer.progress().healed > 0)
    assert.equal(healer.progress().pending, 0)
  })

  it('a state that changed heals at the cost of what changed, not of the whole state', async () => {
    const base = await buildFakeState({ accounts: 200, contracts: 10, slots: 8, largeContracts: 1, largeSlots: 500 })
    const db = emptyStateLevel()
    const first = new TrieNodeHealer(db, new FakePeerSource([new FakeSnapPeer(base)]), emptyCounters(), { persist: async () => {} }, TEST_SYNC_OPTIONS)
    await first.run(base.root, AbortSignal.timeout(15_000))
    const later = await evolveFakeState(base, { balances: 3, slots: 0, newAccounts: 1 })
    const counters = emptyCounters()
    const peer = new FakeSnapPeer(later)
    const second = new TrieNodeHealer(db, new FakePeerSource([peer]), counters, { persist: async () => {} }, TEST_SYNC_OPTIONS)
    await second.run(later.root, AbortSignal.timeout(15_000))
    await assertSynced(db, later)
    const whole = first.progress().healed
    assert.ok(counters.trieNodes < whole / 4, `healed ${counters.trieNodes} nodes of a ${whole}-node state`)
  })
})
