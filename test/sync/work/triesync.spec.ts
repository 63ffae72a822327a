import { strict as assert } from 'node:assert'

import { RLP } from '@ethereumjs/rlp'

import { emptyCounters } from '../../../src/sync/report/status.js'
import { CodeQueue } from '../../../src/sync/work/codequeue.js'
import { StorageQueue } from '../../../src/sync/work/storagequeue.js'
import { TrieNodes } from '../../../src/sync/work/trienodes.js'
import { TrieSync } from '../../../src/sync/work/triesync.js'
import { initKeccak, keccak256 } from '../../../src/trie/keccak.js'
import { StateWriter } from '../../../src/trie/statedb.js'

import { FakeSnapPeer } from '../fakepeer.js'
import { buildFakeState, emptyStateLevel, evolveFakeState } from '../fakestate.js'

import type { SyncContext } from '../../../src/sync/work/kind.js'

/** A sync context over an empty local DB, syncing `root` */
function context(root: Uint8Array): SyncContext {
  const db = emptyStateLevel()
  const writer = new StateWriter(db)
  const codes = new CodeQueue()
  return {
    root,
    generation: 0,
    db,
    writer,
    counters: emptyCounters(),
    storage: new StorageQueue(),
    codes,
    trie: new TrieSync(db, writer, codes),
    requestBytes: 512 * 1024,
    maxPendingBatches: 32,
  }
}

/** What StateSync.applyMove does to the context when the pivot moves */
function move(ctx: SyncContext, root: Uint8Array): void {
  ctx.root = root
  ctx.generation++
  ctx.trie = new TrieSync(ctx.db, ctx.writer, ctx.codes, ctx.trie.abandon())
}

describe('[TrieSync] pivot moves', () => {
  before(initKeccak)

  it("a late reply to the old root's request leaves the new root's request for the same node in place", async () => {
    const base = await buildFakeState({ accounts: 3, contracts: 0, largeContracts: 0, seed: 3 })
    const next = await evolveFakeState(base, { balances: 1, slots: 0, newAccounts: 0, seed: 4 })
    next.served.add(base.root)
    const peer = new FakeSnapPeer(next)
    const ctx = context(base.root)
    const nodes = new TrieNodes(ctx)
    // As the scheduler does: fetch, then apply; the work is opaque
    const serve = async (work: ReturnType<TrieNodes['pick']>) => {
      assert.ok(work !== undefined, 'work to send')
      await nodes.apply(work, await nodes.fetch(peer, work, 5_000, ctx.requestBytes))
    }
    await ctx.trie.addRoot(base.root, undefined, () => {})
    await serve(nodes.pick(16))
    // The old root's children are in flight when the pivot moves; the new root shares the unchanged ones
    const old = nodes.pick(16)
    assert.ok(old !== undefined)
    move(ctx, next.root)
    let done = false
    await ctx.trie.addRoot(next.root, undefined, () => {
      done = true
    })
    await serve(nodes.pick(16))
    // The reply to the old request comes now: asked under an older root, its work is put back unjudged
    nodes.requeue(old)
    // One node is answered, then the next request times out and its work goes back
    await serve(nodes.pick(1))
    const timedOut = nodes.pick(16)
    if (timedOut !== undefined) nodes.requeue(timedOut)
    for (let work = nodes.pick(16); work !== undefined; work = nodes.pick(16)) await serve(work)
    assert.deepEqual({ done, pending: ctx.trie.pending }, { done: true, pending: 0 })
  })

  it('an abandoned sync completes nothing: a code stored after the move does not complete its root', async () => {
    // One contract: the root is its leaf, waiting for the storage trie (one slot: one node) and the code
    const state = await buildFakeState({ accounts: 0, contracts: 1, slots: 1, largeContracts: 0 })
    const ctx = context(state.root)
    const calls = { done: 0, abandoned: 0 }
    await ctx.trie.addRoot(
      state.root,
      undefined,
      () => calls.done++,
      () => calls.abandoned++,
    )
    for (let reqs = ctx.trie.take(16); reqs.length > 0; reqs = ctx.trie.take(16)) {
      const found = await state.level.getMany(reqs.map((r) => r.key))
      for (const [i, r] of reqs.entries()) await ctx.trie.deliver(r, found[i] as Uint8Array)
    }
    const [code] = ctx.codes.take(1)
    assert.ok(code !== undefined, 'the code is wanted')
    move(ctx, keccak256(Uint8Array.of(1)))
    // The code is root-independent: fetched under the new root, it must not complete the old one
    ctx.codes.stored(code)
    assert.deepEqual(calls, { done: 0, abandoned: 1 })
  })

  it('the nodes carried across many moves stay within their byte budget, the newest kept', async () => {
    const budget = 8 * 1024
    const db = emptyStateLevel()
    const writer = new StateWriter(db)
    const codes = new CodeQueue()
    let known = new Map<string, Uint8Array>()
    let last = ''
    for (let m = 0; m < 100; m++) {
      // Each root is a branch fetched and waiting for 16 children when the pivot moves again: a node of
      // a root no later sync reaches, as after a state change under it
      const children = Array.from({ length: 16 }, (_, i) => keccak256(Uint8Array.of(m >> 8, m & 255, i)))
      const rlp = RLP.encode([...children, new Uint8Array(0)])
      const sync = new TrieSync(db, writer, codes, known, budget)
      await sync.addRoot(keccak256(rlp), undefined, () => {})
      const [req] = sync.take(1)
      await sync.deliver(req, rlp)
      last = req.key
      known = sync.abandon()
    }
    const bytes = [...known].reduce((n, [key, rlp]) => n + key.length + rlp.length, 0)
    assert.ok(bytes <= budget, `${known.size} nodes, ${bytes} bytes carried after 100 moves; budget ${budget}`)
    assert.ok(known.has(last), 'the last node fetched is kept')
  })
})
