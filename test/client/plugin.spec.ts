import { strict as assert } from 'node:assert'

import { Config, SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'
import { pluginForSyncMode } from '@ethereumjs/client/dist/esm/src/plugin.js'

import { parseSnapOptions, snapCliOptions } from '../../src/client/options.js'
import { SnapPlugin } from '../../src/client/plugin.js'

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

  it('rejects a malformed --snapServe value', () => {
    assert.throws(() => parseSnapOptions({ snapServe: 'maybe' }), /--snapServe must be true or false/)
  })

  it('reaches the client config through the plugins option', () => {
    const plugin = new SnapPlugin()
    const config = new Config({ syncmode: SyncMode.None, plugins: [plugin] })
    assert.deepEqual(config.plugins, [plugin])
  })
})
