import { strict as assert } from 'node:assert'

import { Registry } from 'prom-client'

import { SnapMetrics } from '../../src/client/metrics.js'

describe('[SnapMetrics]', () => {
  it('counts served requests, items and bytes on the registry it is added to', async () => {
    const metrics = new SnapMetrics()
    const registry = new Registry()
    metrics.registerOn(registry)
    metrics.recordServed('GetAccountRange', 'answered', { accounts: 10, proofNodes: 4 }, 1200)
    metrics.recordServed('GetAccountRange', 'empty', {}, 0)
    metrics.recordServed('GetByteCodes', 'answered', { codes: 2 }, 300)
    const text = await registry.metrics()
    assert.match(text, /snap_serve_requests_total\{message="GetAccountRange",outcome="answered"\} 1/)
    assert.match(text, /snap_serve_requests_total\{message="GetAccountRange",outcome="empty"\} 1/)
    assert.match(text, /snap_served_items_total\{kind="accounts"\} 10/)
    assert.match(text, /snap_served_items_total\{kind="proofNodes"\} 4/)
    assert.match(text, /snap_served_items_total\{kind="codes"\} 2/)
    assert.match(text, /snap_served_bytes_total 1500/)
  })

  it('keeps separate counts per instance (no global registry)', async () => {
    const first = new SnapMetrics()
    const second = new SnapMetrics()
    first.recordServed('GetTrieNodes', 'answered', { nodes: 3 }, 10)
    const registry = new Registry()
    second.registerOn(registry)
    assert.doesNotMatch(await registry.metrics(), /kind="nodes"/)
  })
})
