/**
 * `--prometheus`: the plugin's metrics are served on the client's own metrics endpoint.
 */
import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { ClientNode, freePort, generateDevnet, writeDevnet } from './harness/index.js'

import type { DevnetFiles } from './harness/index.js'

describe('[Prometheus metrics]', () => {
  let dir: string
  let files: DevnetFiles
  let node: ClientNode | undefined

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ejs-snap-metrics-'))
    files = writeDevnet(generateDevnet({ accounts: 10, contracts: 1, slotsPerContract: 1 }), dir)
  })

  after(async () => {
    await node?.destroy()
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves the client metrics and the snap plugin metrics on one endpoint', async () => {
    const port = await freePort()
    node = await ClientNode.start({
      name: 'metrics',
      genesisFile: files.genesisFile,
      sync: 'none',
      args: ['--prometheus', `--prometheusPort=${port}`],
    })
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    assert.match(text, /# TYPE legacy_transactions_in_transaction_pool gauge/, 'the client metrics')
    assert.match(text, /# TYPE snap_serve_requests_total counter/, 'the plugin metrics')
    assert.match(text, /# TYPE snap_served_items_total counter/)
  })
})
