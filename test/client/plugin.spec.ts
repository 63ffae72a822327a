import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Config, SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'
import { pluginForSyncMode } from '@ethereumjs/client/dist/esm/src/plugin.js'

import { snapCliOptions } from '../../src/client/options.js'
import { SNAP_FLAG_ERROR, SnapPlugin } from '../../src/client/plugin.js'
import { DbBackendMismatchError, detectBackend } from '../../src/db/backend.js'
import { RocksLevel } from '../../src/db/rockslevel.js'

describe('[SnapPlugin]', () => {
  it('provides the snap sync mode through the client seam', () => {
    const plugin = new SnapPlugin()
    assert.equal(SyncMode.Snap, 'snap')
    assert.equal(pluginForSyncMode([plugin], 'snap'), plugin)
    assert.equal(pluginForSyncMode([plugin], 'full'), undefined)
  })

  it('reads --snapServe from the parsed CLI arguments', () => {
    const plugin = new SnapPlugin()
    assert.equal(plugin.options.serve, true)
    plugin.init({ snapServe: false })
    assert.equal(plugin.options.serve, false)
    assert.equal(snapCliOptions.snapServe.default, true)
  })

  it("refuses the client's own --snap flag, naming --sync=snap", () => {
    const plugin = new SnapPlugin()
    assert.throws(
      () => plugin.init({ snap: true }),
      (err: Error) => err.message === SNAP_FLAG_ERROR,
    )
    assert.match(SNAP_FLAG_ERROR, /^--snap is the client's built-in experimental snap sync .*; use --sync=snap$/)
    plugin.init({ snap: false })
    plugin.init({})
  })

  it('reaches the client config through the plugins option', () => {
    const plugin = new SnapPlugin()
    const config = new Config({ syncmode: SyncMode.None, plugins: [plugin] })
    assert.deepEqual(config.plugins, [plugin])
  })

  it('opens the client DBs with the --db backend in any sync mode, and refuses a dir made by the other', async () => {
    const root = mkdtempSync(join(tmpdir(), 'snap-plugin-db-'))
    try {
      const rocks = new SnapPlugin()
      rocks.init({ sync: 'full', db: 'rocksdb' })
      const db = rocks.openDB(join(root, 'state'), 'state')
      assert.ok(db instanceof RocksLevel)
      // Default encodings, as the client's `new Level(dir)`
      await db.put('k', 'v')
      assert.equal(await db.get('k'), 'v')
      await db.close()
      assert.equal(detectBackend(join(root, 'state')), 'rocksdb')

      const level = new SnapPlugin()
      level.init({})
      assert.throws(() => level.openDB(join(root, 'state'), 'state'), DbBackendMismatchError)
      const chain = level.openDB(join(root, 'chain'), 'chain')
      assert.ok(!(chain instanceof RocksLevel))
      await chain.put('k', 'v')
      await chain.close()
      assert.equal(detectBackend(join(root, 'chain')), 'level')
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
