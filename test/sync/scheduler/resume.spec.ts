import { strict as assert } from 'node:assert'

import { loadAccountTasks } from '../../../src/sync/work/accounttasks.js'
import { hashNumber } from '../../../src/sync/work/hashrange.js'
import { toHex0x } from '../../../src/trie/hex.js'

import { DB_BACKENDS } from '../../helpers/db.js'
import { tempStateDB } from '../../trie/helpers.js'

import { assertSynced } from '../checkstate.js'
import { buildFakeState, evolveFakeState } from '../fakestate.js'
import { FakeSnapPeer } from '../fakepeer.js'
import { SyncRun, healOnlyTasks, isAbort } from '../syncrun.js'

import type { FakeState, StateLevel } from '../fakestate.js'
import type { TempDB } from '../../helpers/db.js'
import type { AccountTask, SavedAccountTask } from '../../../src/sync/work/accounttasks.js'
import type { SavedStorageTrie } from '../../../src/sync/work/storagequeue.js'
import type { GetAccountRangeRequest, GetStorageRangesRequest, SnapRequest } from '../../../src/wire/messages.js'

const isAccountRange = (r: SnapRequest): r is GetAccountRangeRequest => r.kind === 'GetAccountRange'
const isSubrange = (r: SnapRequest): r is GetStorageRangesRequest =>
  r.kind === 'GetStorageRanges' && hashNumber(r.origin) > 0n

/** A fresh honest peer that answers after a few ms, so that a run can be cut between replies */
const slowPeer = (s: FakeState, id: string) => new FakeSnapPeer(s, { id, behaviour: 'slow', slowMs: 5 })

/** When a first run crashes, and what it leaves */
interface Crash {
  /** Asked at every persist: crash now? */
  readonly when: (run: SyncRun) => boolean
  /** Resume from the first record, not the last: the DB runs ahead of the record */
  readonly keepFirstRecord?: boolean
  readonly tasks?: () => AccountTask[]
}

/**
 * Runs a first sync into `temp` until `crash.when` says so at a persist, then aborts it: nothing after
 * that persist's flush is written, as in a crash. The DB is then closed and opened again from its files,
 * as by a restarted process. Returns the run, the reopened DB and the record to resume from.
 */
async function crashed(s: FakeState, temp: TempDB<string, Uint8Array>, crash: Crash): Promise<Crashed> {
  let record: SavedAccountTask[] | undefined
  let storage: SavedStorageTrie[] | undefined
  const run = new SyncRun(s, [slowPeer(s, 'first')], {
    db: temp.db,
    tasks: crash.tasks?.(),
    onPersist: (r) => {
      if (crash.keepFirstRecord !== true || record === undefined) [record, storage] = [r.saved, r.savedStorage]
      if (crash.when(r)) r.abort.abort()
    },
  })
  await assert.rejects(run.run(), isAbort, 'the first run ended before the crash')
  assert.ok(record !== undefined)
  return { run, db: await temp.reopen(), saved: record, storage: storage ?? [] }
}

/** What a crashed first run leaves: its DB reopened, and the record it saved last */
interface Crashed {
  run: SyncRun
  db: StateLevel
  saved: SavedAccountTask[]
  storage: SavedStorageTrie[]
}

/** A second sync on the first one's (reopened) DB and counters, from the saved record, to completion */
async function resume(s: FakeState, first: Crashed): Promise<{ run: SyncRun; peer: FakeSnapPeer }> {
  const peer = slowPeer(s, 'second')
  const run = new SyncRun(s, [peer], {
    db: first.db,
    tasks: loadAccountTasks(first.saved),
    storage: first.storage,
    counters: first.run.counters,
  })
  await run.complete()
  return { run, peer }
}

// The DB the first run leaves is reopened from disk for the second, on each backend
for (const backend of DB_BACKENDS)
  describe(`[StateSync] resume (${backend})`, function () {
    this.timeout(20_000)
    let s: FakeState
    let temp: TempDB<string, Uint8Array>
    before(async () => {
      s = await buildFakeState()
    })
    beforeEach(async () => {
      temp = await tempStateDB(backend)
    })
    afterEach(async () => {
      await temp.close()
    })

    it('after an abort mid-way, a new sync from the saved cursors asks only for what was not written', async () => {
      const first = await crashed(s, temp, { when: (r) => r.counters.accounts >= 40 })
      const cursors = first.saved.map((t) => ({
        first: BigInt(t.first),
        last: BigInt(t.last),
        next: BigInt(t.next),
        done: t.done,
      }))
      assert.ok(
        cursors.some((t) => t.next > t.first),
        'nothing was written before the crash',
      )
      assert.ok(
        cursors.some((t) => !t.done),
        'everything was written before the crash',
      )
      const { peer } = await resume(s, first)
      const asked = peer.received.filter(isAccountRange)
      assert.ok(asked.length > 0)
      for (const r of asked) {
        const origin = hashNumber(r.origin)
        const task = cursors.find((t) => t.first <= origin && origin <= t.last)
        assert.ok(task !== undefined && !task.done, `a request from ${origin.toString(16)} in a finished task`)
        assert.ok(
          origin >= task.next,
          `a request from ${origin.toString(16)} before the saved cursor ${task.next.toString(16)}`,
        )
      }
      assert.ok(peer.stats.accounts.items < s.counts.accounts, 'every account was fetched again')
    })

    it(
      'accounts written but their cursors never saved, then a crash mid-storage: ' +
        'the resumed sync still ends complete',
      async () => {
        const first = await crashed(s, temp, {
          // The record stays the first one (nothing written); the crash comes while a large trie's
          // sub-ranges are being fetched, after some accounts (and so their storage) were written
          when: (r) => (r.source.peers()[0] as FakeSnapPeer).received.some(isSubrange) && r.counters.accounts > 0,
          keepFirstRecord: true,
        })
        assert.ok(
          first.saved.every((t) => BigInt(t.next) === BigInt(t.first)),
          'the record claims written accounts',
        )
        assert.ok(first.run.counters.slots < s.counts.slots, 'storage was complete before the crash')
        await resume(s, first)
      },
    )

    it(
      'a crash while a large storage trie is fetched in sub-ranges: ' +
        'the resumed sync asks only for what its cursors had not reached',
      async () => {
        // The crash comes at a record that holds a large trie with some of its sub-ranges done or begun
        const progressed = (t: SavedStorageTrie) =>
          t.ranges.length > 0 && t.ranges.some((r) => BigInt(r.next) > BigInt(r.first))
        const first = await crashed(s, temp, { when: (r) => (r.savedStorage ?? []).some(progressed) })
        const trie = first.storage.find(progressed) as SavedStorageTrie
        const { peer } = await resume(s, first)
        const asked = peer.received.filter(
          (r): r is GetStorageRangesRequest =>
            r.kind === 'GetStorageRanges' && r.accounts.some((a) => toHex0x(a) === trie.account),
        )
        assert.ok(asked.length > 0, 'the trie was not asked for again')
        for (const r of asked) {
          const origin = hashNumber(r.origin)
          assert.ok(r.accounts.length === 1 && origin > 0n, 'the trie was asked for whole again')
          const range = trie.ranges.find((x) => BigInt(x.first) <= origin && origin <= BigInt(x.last))
          assert.ok(
            range !== undefined,
            `a request from ${origin.toString(16)}, in a sub-range finished before the crash`,
          )
          assert.ok(
            origin >= BigInt(range.next),
            `a request from ${origin.toString(16)}, before its sub-range's saved cursor ${range.next}`,
          )
        }
      },
    )

    it(
      "a crash once a large trie's sub-ranges are all fetched: " +
        'the resumed sync asks for none of its ranges and completes it from its root',
      async () => {
        const first = await crashed(s, temp, { when: (r) => (r.savedStorage ?? []).some((t) => t.ranges.length === 0) })
        const trie = first.storage.find((t) => t.ranges.length === 0) as SavedStorageTrie
        const { peer } = await resume(s, first)
        const asked = peer.received.filter(
          (r) => r.kind === 'GetStorageRanges' && r.accounts.some((a) => toHex0x(a) === trie.account),
        )
        assert.deepEqual(asked, [])
      },
    )

    it(
      'a crash while completing from the root: ' + 'the resumed sync asks for no range and skips the stored subtrees',
      async () => {
        const first = await crashed(s, temp, { when: (r) => r.counters.trieNodes >= 2000, tasks: healOnlyTasks })
        const total = await nodeCount(s)
        assert.ok(first.run.counters.trieNodes < total, 'healing was over before the crash')
        const { peer } = await resume(s, first)
        assert.equal(peer.stats.accounts.requests + peer.stats.storage.requests, 0)
        assert.ok(peer.stats.nodes.items <= total - 1000, `${peer.stats.nodes.items} of ${total} nodes fetched again`)
      },
    )

    it(
      'a moved pivot: the new root is synced on a DB holding part of the old state; ' +
        'what they share is not fetched again',
      async () => {
        const next = await evolveFakeState(s)
        next.served.add(s.root)
        const first = await crashed(s, temp, {
          when: (r) => r.counters.codes === s.counts.codes && r.counters.slots > 1000,
        })
        const peer = new FakeSnapPeer(next, { id: 'new-root' })
        const run = new SyncRun(next, [peer], { db: first.db })
        await run.complete()
        // The codes are unchanged and all stored by the first run
        assert.equal(peer.stats.codes.requests, 0)
      },
    )
  })

/** Nodes of the source state (account and storage tries), as the walker counts them */
async function nodeCount(s: FakeState): Promise<number> {
  return (await assertSynced(s.level, s)).nodes
}
