import { strict as assert } from 'node:assert'

import { MemoryLevel } from 'memory-level'

import {
  AccountTask,
  loadAccountTasks,
  newAccountTasks,
  saveAccountTasks,
} from '../../../src/sync/work/accounttasks.js'
import { MAX_HASH } from '../../../src/sync/work/hashrange.js'
import {
  NewerProgressError,
  PROGRESS_KEY,
  PROGRESS_VERSION,
  ProgressStore,
  newProgress,
  parseProgress,
  reconcileProgress,
} from '../../../src/sync/download/progressrecord.js'

import { DB_BACKENDS, tempDB } from '../../helpers/db.js'

import type { SavedAccountTask } from '../../../src/sync/work/accounttasks.js'
import type { SnapProgress } from '../../../src/sync/download/progressrecord.js'

const hex = (n: bigint) => `0x${n.toString(16)}`
const HALF = MAX_HASH >> 1n

/** A record as this code writes it, mid-sync */
function sample(): SnapProgress {
  const tasks = newAccountTasks(4)
  tasks[0].written = tasks[0].first + 12345n
  return {
    ...newProgress(),
    pivot: { number: '0x1f4', hash: `0x${'ab'.repeat(32)}`, stateRoot: `0x${'cd'.repeat(32)}` },
    tasks: saveAccountTasks(tasks),
    storage: [
      {
        account: `0x${'11'.repeat(32)}`,
        root: `0x${'22'.repeat(32)}`,
        ranges: [{ first: hex(HALF), last: hex(MAX_HASH), next: hex(HALF + 7n) }],
      },
    ],
    counters: {
      accounts: 10,
      slots: 20,
      codes: 3,
      trieNodes: 4,
      bytes: 5000,
      wastedBytes: 7,
      healedNodes: 2,
      pivotMoves: 1,
      hedgedRequests: 1,
    },
    unwrittenBytes: 1234,
  }
}

const utf8Level = () => new MemoryLevel<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' })

describe('[ProgressStore]', () => {
  it('round-trips a record through a MemoryLevel with utf8 encodings', async () => {
    const db = utf8Level()
    const store = new ProgressStore(db)
    assert.equal(await store.load(), undefined)
    const saved = sample()
    await store.save(saved)
    assert.equal(typeof (await db.get(PROGRESS_KEY)), 'string')
    assert.deepEqual(await store.load(), saved)
  })

  for (const backend of DB_BACKENDS) {
    it(
      `survives closing and reopening a meta DB ` +
        `opened as the client opens it ` +
        `(${backend}, default encodings)`,
      async () => {
        const temp = await tempDB(backend)
        try {
          assert.equal(await new ProgressStore(temp.db).load(), undefined)
          const saved = sample()
          await new ProgressStore(temp.db).save(saved)
          assert.deepEqual(await new ProgressStore(await temp.reopen()).load(), saved)
        } finally {
          await temp.close()
        }
      },
    )
  }

  it('a fresh record (no pivot yet) loads back as written', async () => {
    const store = new ProgressStore(utf8Level())
    await store.save(newProgress())
    const loaded = await store.load()
    assert.deepEqual(loaded, { ...newProgress(), unwrittenBytes: 0 })
    assert.equal(loaded?.version, PROGRESS_VERSION)
  })
})

describe('[ProgressStore] a bad record between runs', () => {
  /** A store over a DB holding `stored` under the key, and the warnings it gave */
  async function storeWith(stored: string) {
    const db = utf8Level()
    await db.put(PROGRESS_KEY, stored)
    const warnings: string[] = []
    return { db, store: new ProgressStore(db, (m) => warnings.push(m)), warnings }
  }
  const good = JSON.stringify(sample())

  const discarded: { name: string; stored: string; reason: RegExp }[] = [
    { name: 'cut short (a torn write)', stored: good.slice(0, good.length >> 1), reason: /JSON/ },
    { name: 'empty', stored: '', reason: /JSON/ },
    { name: 'binary garbage', stored: '\u0000\u00ff\u0013garbage', reason: /JSON/ },
    { name: 'JSON null', stored: 'null', reason: /not a JSON object/ },
    { name: 'a JSON array', stored: '[1,2]', reason: /not a JSON object/ },
    {
      name: 'an older, unknown version',
      stored: JSON.stringify({ ...sample(), version: 0 }),
      reason: /version 0, expected 1/,
    },
    {
      name: 'a version that is a string',
      stored: JSON.stringify({ ...sample(), version: '2' }),
      reason: /version 2, expected 1/,
    },
    { name: 'a bad pivot', stored: JSON.stringify({ ...sample(), pivot: { number: 'x' } }), reason: /bad pivot/ },
    { name: 'a null pivot', stored: JSON.stringify({ ...sample(), pivot: null }), reason: /bad pivot/ },
    {
      name: 'an account task whose cursor is past its end',
      stored: JSON.stringify({ ...sample(), tasks: [{ first: '0x0', last: '0x10', next: '0x20', done: false }] }),
      reason: /bad account task/,
    },
  ]
  for (const c of discarded) {
    it(`discards a record ${c.name}, saying why and that the download starts over`, async () => {
      const { store, warnings } = await storeWith(c.stored)
      assert.equal(await store.load(), undefined)
      assert.equal(warnings.length, 1)
      assert.match(warnings[0], /^Snap sync: the progress record \(meta DB key snapsync:progress\) is unreadable \(/)
      assert.match(warnings[0], c.reason)
      assert.match(warnings[0], /discarding it and starting the state download over/)
    })
  }

  it('a discarded record is replaced by a fresh one at once: the next load reads it without a warning', async () => {
    const { store, warnings } = await storeWith('{"version":1,')
    assert.equal(await store.load(), undefined)
    assert.deepEqual(await store.load(), { ...newProgress(), unwrittenBytes: 0 })
    assert.equal(warnings.length, 1)
  })

  it("refuses a newer version's record, leaving it as it is", async () => {
    const newer = JSON.stringify({ version: PROGRESS_VERSION + 1, pivot: 'anything', handedOff: true })
    const { db, store, warnings } = await storeWith(newer)
    await assert.rejects(
      store.load(),
      (err: Error) =>
        err instanceof NewerProgressError &&
        new RegExp(
          /progress record \(meta DB key snapsync:progress\) is of version 2, /.source +
            /written by a newer ethereumjs-snap than this one \(version 1\): /.source +
            /run that version, or start with a new --dataDir$/.source,
        ).test(err.message),
    )
    assert.deepEqual(warnings, [])
    assert.equal(await db.get(PROGRESS_KEY), newer)
  })

  it('passes a DB error on (the DB is not the record)', async () => {
    const store = new ProgressStore({
      get: () => Promise.reject(new Error('IO error: disk')),
      put: () => Promise.resolve(),
    })
    await assert.rejects(store.load(), /IO error: disk/)
  })
})

const storageTrie = (r: Record<string, unknown>) => (r.storage as Record<string, unknown>[])[0]
const storageRange = (r: Record<string, unknown>) => (storageTrie(r).ranges as Record<string, unknown>[])[0]

describe('[parseProgress]', () => {
  const json = (change: (r: Record<string, unknown>) => void) => {
    const r = JSON.parse(JSON.stringify(sample())) as Record<string, unknown>
    change(r)
    return JSON.stringify(r)
  }

  const rejects: { name: string; json: string; error: RegExp }[] = [
    { name: 'another version', json: json((r) => (r.version = 2)), error: /version 2/ },
    { name: 'no version', json: json((r) => delete r.version), error: /version undefined/ },
    {
      name: 'a pivot hash that is not hex',
      json: json((r) => ((r.pivot as Record<string, unknown>).hash = '0xzz')),
      error: /bad pivot/,
    },
    {
      name: 'a pivot number without 0x',
      json: json((r) => ((r.pivot as Record<string, unknown>).number = '500')),
      error: /bad pivot/,
    },
    {
      name: 'a pivot without a state root',
      json: json((r) => delete (r.pivot as Record<string, unknown>).stateRoot),
      error: /bad pivot/,
    },
    {
      name: 'a negative counter',
      json: json((r) => ((r.counters as Record<string, number>).slots = -1)),
      error: /bad counter slots/,
    },
    {
      name: 'a counter that is a string',
      json: json((r) => ((r.counters as Record<string, unknown>).bytes = '5')),
      error: /bad counter bytes/,
    },
    { name: 'no task list', json: json((r) => delete r.tasks), error: /no task list/ },
    {
      name: 'a storage list that is not a list',
      json: json((r) => (r.storage = {})),
      error: /storage tries: not a list/,
    },
    { name: 'a storage trie without a root', json: json((r) => delete storageTrie(r).root), error: /bad storage trie/ },
    {
      name: 'a storage account that is not a hash',
      json: json((r) => (storageTrie(r).account = '0x11')),
      error: /bad storage trie/,
    },
    {
      name: 'a storage cursor past its sub-range',
      json: json((r) => (storageRange(r).next = hex(MAX_HASH + 1n))),
      error: /bad storage trie/,
    },
    {
      name: 'a storage sub-range that ends before it begins',
      json: json((r) => (storageRange(r).last = hex(HALF - 1n))),
      error: /bad storage trie/,
    },
    {
      name: 'a storage cursor that is not hex',
      json: json((r) => (storageRange(r).next = 'zz')),
      error: /bad storage trie/,
    },
    {
      name: 'more storage tries than a sync holds',
      json: json((r) => (r.storage = new Array(65_537).fill(storageTrie(r)))),
      error: /storage tries: 65537, more than 65536/,
    },
  ]
  for (const c of rejects) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => parseProgress(c.json), c.error)
    })
  }

  it('loads a record of an older writer without unwrittenBytes, storage tries (and newer counters)', () => {
    const old = json((r) => {
      delete r.unwrittenBytes
      delete r.storage
      delete (r.counters as Record<string, unknown>).wastedBytes
    })
    const p = parseProgress(old)
    assert.equal(p.unwrittenBytes, 0)
    assert.deepEqual(p.storage, [])
    assert.equal(p.counters.wastedBytes, 0)
    assert.equal(p.counters.slots, 20)
    assert.equal(loadAccountTasks(p.tasks).length, 4)
  })

  it('treats a missing pivot as none chosen yet', () => {
    const p = parseProgress(json((r) => delete r.pivot))
    assert.equal(p.pivot, undefined)
  })
})

describe('[loadAccountTasks]', () => {
  const task = (first: bigint, last: bigint, next: bigint, done = false): SavedAccountTask => ({
    first: hex(first),
    last: hex(last),
    next: hex(next),
    done,
  })

  it('round-trips the written cursors, not the fetched ones', () => {
    const tasks = newAccountTasks(3)
    tasks[0].next = tasks[0].first + 500n
    tasks[0].written = tasks[0].first + 100n
    tasks[1].covered = true
    tasks[1].written = tasks[1].last + 1n
    const loaded = loadAccountTasks(saveAccountTasks(tasks))
    assert.deepEqual(
      loaded.map((t) => [t.first, t.last, t.next, t.written, t.done]),
      [
        [tasks[0].first, tasks[0].last, tasks[0].first + 100n, tasks[0].first + 100n, false],
        [tasks[1].first, tasks[1].last, tasks[1].last + 1n, tasks[1].last + 1n, true],
        [tasks[2].first, tasks[2].last, tasks[2].first, tasks[2].first, false],
      ],
    )
  })

  it('a cursor past the end means done even if `done` was not set', () => {
    const [t] = loadAccountTasks([task(0n, 99n, 100n)])
    assert.equal(t.done, true)
    assert.equal(t.fractionWritten(), 1)
  })

  const malformed: { name: string; saved: SavedAccountTask[] }[] = [
    { name: 'first after last', saved: [task(100n, 99n, 100n)] },
    { name: 'cursor before first', saved: [task(100n, 200n, 99n)] },
    { name: 'cursor two past the end', saved: [task(100n, 200n, 202n)] },
    { name: 'last beyond the hash space', saved: [task(0n, MAX_HASH + 1n, 0n)] },
    { name: 'a key that is not a number', saved: [{ first: '0xzz', last: hex(MAX_HASH), next: '0x0', done: false }] },
    {
      name: 'a missing cursor',
      saved: [{ first: '0x0', last: hex(MAX_HASH), done: false } as unknown as SavedAccountTask],
    },
  ]
  for (const c of malformed) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => loadAccountTasks(c.saved))
    })
  }

  it('accepts two tasks that split the space', () => {
    const tasks = loadAccountTasks([task(0n, HALF, 0n), task(HALF + 1n, MAX_HASH, HALF + 1n)])
    assert.ok(tasks.every((t) => t instanceof AccountTask && !t.done))
  })
})

describe('[reconcileProgress]', () => {
  const handedOff = (): SnapProgress => ({ ...sample(), stateComplete: true, handedOff: true, unwrittenBytes: 0 })
  const midway = (): SnapProgress => ({ ...sample(), unwrittenBytes: 0 })

  it('keeps a handed-off record whose head state is stored', () => {
    const stored = handedOff()
    assert.deepEqual(reconcileProgress(stored, { number: 40n, stateStored: true }), { progress: stored })
  })

  it('starts over, with a warning, when the state of the executed head is gone', () => {
    const { progress, change } = reconcileProgress(handedOff(), { number: 40n, stateStored: false })
    assert.deepEqual(progress, newProgress())
    assert.equal(change?.level, 'warn')
    assert.match(
      change?.message ?? '',
      new RegExp(
        /^Snap sync: the state of the executed head, block 40, is missing from the state DB /.source +
          /.*; downloading the state of a new pivot again/.source,
      ),
    )
  })

  it('hands off, saying so, when there is no record and the client executes from a stored state', () => {
    for (const stored of [undefined, newProgress()]) {
      const { progress, change } = reconcileProgress(stored, { number: 40n, stateStored: true })
      assert.equal(progress?.handedOff, true)
      assert.equal(progress?.pivot, undefined)
      assert.deepEqual(change, {
        level: 'info',
        message: 'Snap sync: the client already executes from block 40 and holds its state; no state download needed',
      })
    }
  })

  const unchanged: {
    name: string
    stored: SnapProgress | undefined
    head: { number: bigint; stateStored: boolean }
  }[] = [
    { name: 'a fresh node (no record, at genesis)', stored: undefined, head: { number: 0n, stateStored: false } },
    {
      name: 'a fresh node whose genesis state is stored',
      stored: newProgress(),
      head: { number: 0n, stateStored: true },
    },
    { name: 'a sync midway (execution held at genesis)', stored: midway(), head: { number: 0n, stateStored: false } },
    {
      name: 'a sync killed between the VM head move and the handed-off record',
      stored: { ...midway(), stateComplete: true },
      head: { number: 500n, stateStored: true },
    },
    {
      name: 'no record above genesis without the state (nothing to keep: a sync)',
      stored: undefined,
      head: { number: 40n, stateStored: false },
    },
  ]
  for (const c of unchanged) {
    it(`leaves ${c.name} as it is`, () => {
      assert.deepEqual(reconcileProgress(c.stored, c.head), { progress: c.stored })
    })
  }
})
