import { strict as assert } from 'node:assert'

import { MemoryLevel } from 'memory-level'

import { AccountTask, loadAccountTasks, newAccountTasks, saveAccountTasks } from '../../src/sync/accounttasks.js'
import { MAX_HASH } from '../../src/sync/hashrange.js'
import { PROGRESS_KEY, PROGRESS_VERSION, ProgressStore, newProgress, parseProgress } from '../../src/sync/progress.js'

import type { SavedAccountTask } from '../../src/sync/accounttasks.js'
import type { SnapProgress } from '../../src/sync/progress.js'

const hex = (n: bigint) => '0x' + n.toString(16)
const HALF = MAX_HASH >> 1n

/** A record as this code writes it, mid-sync */
function sample(): SnapProgress {
  const tasks = newAccountTasks(4)
  tasks[0].written = tasks[0].first + 12345n
  return {
    ...newProgress(),
    pivot: { number: '0x1f4', hash: '0x' + 'ab'.repeat(32), stateRoot: '0x' + 'cd'.repeat(32) },
    tasks: saveAccountTasks(tasks),
    counters: { accounts: 10, slots: 20, codes: 3, trieNodes: 4, bytes: 5000, wastedBytes: 7, healedNodes: 2, pivotMoves: 1 },
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

  it('a fresh record (no pivot yet) loads back as written', async () => {
    const store = new ProgressStore(utf8Level())
    await store.save(newProgress())
    const loaded = await store.load()
    assert.deepEqual(loaded, { ...newProgress(), unwrittenBytes: 0 })
    assert.equal(loaded?.version, PROGRESS_VERSION)
  })
})

describe('[parseProgress]', () => {
  const json = (change: (r: Record<string, unknown>) => void) => {
    const r = JSON.parse(JSON.stringify(sample())) as Record<string, unknown>
    change(r)
    return JSON.stringify(r)
  }

  const rejects: { name: string; json: string; error: RegExp }[] = [
    { name: 'another version', json: json((r) => (r.version = 2)), error: /version 2/ },
    { name: 'no version', json: json((r) => delete r.version), error: /version undefined/ },
    { name: 'a pivot hash that is not hex', json: json((r) => ((r.pivot as Record<string, unknown>).hash = '0xzz')), error: /bad pivot/ },
    { name: 'a pivot number without 0x', json: json((r) => ((r.pivot as Record<string, unknown>).number = '500')), error: /bad pivot/ },
    { name: 'a pivot without a state root', json: json((r) => delete (r.pivot as Record<string, unknown>).stateRoot), error: /bad pivot/ },
    { name: 'a negative counter', json: json((r) => ((r.counters as Record<string, number>).slots = -1)), error: /bad counter slots/ },
    { name: 'a counter that is a string', json: json((r) => ((r.counters as Record<string, unknown>).bytes = '5')), error: /bad counter bytes/ },
    { name: 'no task list', json: json((r) => delete r.tasks), error: /no task list/ },
  ]
  for (const c of rejects) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => parseProgress(c.json), c.error)
    })
  }

  it('loads a record of an older writer without unwrittenBytes (and without newer counters)', () => {
    const old = json((r) => {
      delete r.unwrittenBytes
      delete (r.counters as Record<string, unknown>).wastedBytes
    })
    const p = parseProgress(old)
    assert.equal(p.unwrittenBytes, 0)
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
  const task = (first: bigint, last: bigint, next: bigint, done = false): SavedAccountTask => ({ first: hex(first), last: hex(last), next: hex(next), done })

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
    { name: 'a missing cursor', saved: [{ first: '0x0', last: hex(MAX_HASH), done: false } as unknown as SavedAccountTask] },
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
