import { strict as assert } from 'node:assert'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import {
  DB_BACKENDS,
  DbBackendMismatchError,
  checkBackend,
  detectBackend,
  openBackendDB,
  parseDbBackend,
} from '../../src/db/backend.js'

import type { DbBackend } from '../../src/db/backend.js'

/** Names, sizes and modification times of the files in `dir`: what a refused open must not change */
function files(dir: string): string[] {
  return readdirSync(dir)
    .map((name) => {
      const s = statSync(join(dir, name))
      return `${name} ${s.size} ${s.mtimeMs}`
    })
    .sort()
}

describe('[db backend]', () => {
  let root: string
  /** A directory holding one key written by each backend */
  const made = {} as { [B in DbBackend]: string }

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'snap-backend-'))
    for (const backend of DB_BACKENDS) {
      made[backend] = join(root, backend)
      const db = openBackendDB(made[backend], backend)
      await db.put('key', backend)
      await db.close()
    }
  })

  after(() => {
    rmSync(root, { recursive: true, force: true })
  })

  it('detects the backend that made a directory from its files', () => {
    for (const backend of DB_BACKENDS) assert.equal(detectBackend(made[backend]), backend)
  })

  it('sees no database in a missing directory, an empty one, or one with unrelated files', () => {
    assert.equal(detectBackend(join(root, 'missing')), undefined)
    const empty = join(root, 'empty')
    mkdirSync(empty)
    assert.equal(detectBackend(empty), undefined)
    writeFileSync(join(empty, 'notes.txt'), 'x')
    assert.equal(detectBackend(empty), undefined)
  })

  it('tells RocksDB from LevelDB by IDENTITY or OPTIONS-* alone (LevelDB writes CURRENT too)', () => {
    const cases: { files: string[]; backend: DbBackend | undefined }[] = [
      { files: ['CURRENT', 'MANIFEST-000002', 'LOG', 'LOCK', '000003.log'], backend: 'level' },
      { files: ['CURRENT', 'IDENTITY', 'MANIFEST-000005', 'LOCK'], backend: 'rocksdb' },
      { files: ['CURRENT', 'OPTIONS-000007', 'MANIFEST-000005'], backend: 'rocksdb' },
      // A LevelDB directory that RocksDB has opened once is RocksDB's now
      { files: ['CURRENT', 'IDENTITY', 'LOG', 'OPTIONS-000010', '000006.sst'], backend: 'rocksdb' },
      { files: ['LOCK', 'LOG'], backend: undefined },
    ]
    for (const [i, c] of cases.entries()) {
      const dir = join(root, `fake-${i}`)
      mkdirSync(dir)
      for (const name of c.files) writeFileSync(join(dir, name), '')
      assert.equal(detectBackend(dir), c.backend, c.files.join(' '))
    }
  })

  for (const [madeBy, openedWith] of [
    ['level', 'rocksdb'],
    ['rocksdb', 'level'],
  ] as const) {
    it(
      `refuses a ${madeBy} directory with --db=${openedWith}, ` +
        `naming the dir, its backend and the flag; changes nothing in it`,
      async () => {
        const dir = made[madeBy]
        const before = files(dir)
        const expected =
          `${dir} is a ${madeBy === 'level' ? 'LevelDB' : 'RocksDB'} database (made with --db=${madeBy}) ` +
          `and was opened with --db=${openedWith}: ` +
          `use --db=${madeBy} for this data dir (or a new --dataDir). Nothing was changed in it.`
        assert.throws(
          () => openBackendDB(dir, openedWith),
          (err: Error) => {
            assert.ok(err instanceof DbBackendMismatchError)
            assert.deepEqual([err.dir, err.madeBy, err.openedWith], [dir, madeBy, openedWith])
            assert.equal(err.message, expected)
            return true
          },
        )
        assert.throws(() => checkBackend(dir, openedWith), DbBackendMismatchError)
        assert.deepEqual(files(dir), before)
        // Still whole for its own backend
        const db = openBackendDB(dir, madeBy)
        assert.equal(await db.get('key'), madeBy)
        await db.close()
      },
    )
  }

  it('opens a new or empty directory with either backend', async () => {
    for (const backend of DB_BACKENDS) {
      const dir = join(root, `new-${backend}`)
      mkdirSync(dir)
      const db = openBackendDB(dir, backend)
      await db.put('k', 'v')
      await db.close()
      assert.equal(detectBackend(dir), backend)
    }
  })

  it('parses --db values, refusing anything else with a message naming the flag', () => {
    for (const backend of DB_BACKENDS) assert.equal(parseDbBackend(backend), backend)
    for (const bad of ['rocks', 'leveldb', '', 'ROCKSDB', 1, undefined]) {
      assert.throws(
        () => parseDbBackend(bad),
        (err: Error) => err.message === `--db must be level or rocksdb, got ${String(bad)}`,
      )
    }
  })
})
