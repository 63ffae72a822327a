import { strict as assert } from 'node:assert'

import { Config, SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'
import { pluginForSyncMode } from '@ethereumjs/client/dist/esm/src/plugin.js'

import { snapCliOptions } from '../../src/client/options.js'
import { SNAP_FLAG_ERROR, SnapPlugin } from '../../src/client/plugin.js'

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
    assert.throws(() => plugin.init({ snap: true }), (err: Error) => err.message === SNAP_FLAG_ERROR)
    assert.match(SNAP_FLAG_ERROR, /^--snap is the client's built-in experimental snap sync .*; use --sync=snap$/)
    plugin.init({ snap: false })
    plugin.init({})
  })

  it('reaches the client config through the plugins option', () => {
    const plugin = new SnapPlugin()
    const config = new Config({ syncmode: SyncMode.None, plugins: [plugin] })
    assert.deepEqual(config.plugins, [plugin])
  })
})
