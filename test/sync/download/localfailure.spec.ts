/**
 * The local state DB fails while a state downloads (a full disk, a damaged file): the peer whose
 * reply was being applied is not blamed, the run stops with the DB's error, and the next run (the
 * one the synchronizer starts after its retry delay) goes on from the last progress record to a
 * complete state, the puts of the failed write included.
 */
import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { MemoryLevel } from 'memory-level'

import { ProgressStore } from '../../../src/sync/download/progressrecord.js'
import { StateDownload } from '../../../src/sync/download/statedownload.js'
import { LocalStateError } from '../../../src/trie/statedb.js'

import { assertSynced } from '../checkstate.js'
import { FakePeerSource, FakeSnapPeer } from '../fakepeer.js'
import { buildFakeState, emptyStateLevel } from '../fakestate.js'
import { TEST_SYNC_OPTIONS, WATCHDOG_MS } from '../syncrun.js'

import type { PivotSource } from '../../../src/sync/pivot/pivotsource.js'
import type { ProgressDB } from '../../../src/sync/download/progressrecord.js'

/** The DB call that fails: about half-way through a run of this state (~22 writes, ~24 reads in all) */
const FAIL_AT = 10
const common = new Common({ chain: Mainnet, hardfork: Hardfork.London })

describe('[StateDownload] the local state DB fails', function () {
  this.timeout(2 * WATCHDOG_MS)

  for (const failing of ['batch', 'getMany'] as const) {
    it(
      `a failed ${failing === 'batch' ? 'write' : 'read'}: no peer is blamed, ` +
        `the run stops with it, the next run ends complete`,
      async () => {
        const s = await buildFakeState({
          accounts: 300,
          contracts: 20,
          slots: 8,
          largeContracts: 2,
          largeSlots: 1500,
          seed: 11,
        })
        const db = emptyStateLevel()
        // The DB fails once, after the sync has stored a part of the state
        let calls = 0
        const real = db[failing].bind(db) as (...args: unknown[]) => Promise<unknown>
        ;(db as unknown as Record<string, unknown>)[failing] = (...args: unknown[]) =>
          ++calls === FAIL_AT ? Promise.reject(new Error('disk full')) : real(...args)
        const peer = new FakeSnapPeer(s, { behaviour: 'slow', slowMs: 2 })
        const source = new FakePeerSource([peer])
        const header = createBlockHeader({ number: 10n, stateRoot: s.root, gasLimit: 30_000_000n }, { common })
        const pivots: PivotSource = {
          lookup: async () => ({ pivot: { header, head: header, supporters: ['p'], namedBy: 'a test' } }),
          holds: async () => true,
        }
        const meta = new MemoryLevel<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' })
        const log = { info: () => {}, warn: () => {}, debug: () => {} }
        const d = new StateDownload(db, new ProgressStore(meta as unknown as ProgressDB), source, pivots, log, {
          accountTasks: 4,
          waitMs: 10,
          stateSync: TEST_SYNC_OPTIONS,
        })
        await d.load()
        await assert.rejects(
          d.run(AbortSignal.timeout(WATCHDOG_MS)),
          (err: Error) => err instanceof LocalStateError && /disk full/.test(err.message),
        )
        assert.ok(calls >= FAIL_AT)
        assert.deepEqual(source.dropped, [])
        // As the synchronizer does after its retry delay: the same download runs again
        const pivot = await d.run(AbortSignal.timeout(WATCHDOG_MS))
        assert.deepEqual(pivot.stateRoot, s.root)
        await assertSynced(db, s)
        assert.deepEqual(source.dropped, [])
      },
    )
  }
})
