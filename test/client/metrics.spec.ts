import { strict as assert } from 'node:assert'

import { Registry } from 'prom-client'

import { SnapMetrics } from '../../src/client/metrics.js'
import { PHASE_NUMBER, emptyCounters } from '../../src/sync/report/status.js'

import type { SnapSyncCounters, SnapSyncStatus } from '../../src/sync/report/status.js'

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

describe('[SnapMetrics sync]', () => {
  const pivot = { number: 1234n, hash: new Uint8Array(32), stateRoot: new Uint8Array(32) }

  function status(counters: Partial<SnapSyncCounters>, rest: Partial<SnapSyncStatus> = {}): SnapSyncStatus {
    return {
      phase: 'state',
      pivot,
      counters: { ...emptyCounters(), ...counters },
      accountSpaceDone: 0.25,
      healPending: 7,
      peers: 3,
      elapsedMs: 1000,
      ...rest,
    }
  }

  async function recorded(record: (metrics: SnapMetrics) => void): Promise<string> {
    const metrics = new SnapMetrics()
    const registry = new Registry()
    metrics.registerOn(registry)
    record(metrics)
    return registry.metrics()
  }

  it('exports counters, gauges and the phase of a status snapshot', async () => {
    const counters = { accounts: 100, slots: 2000, codes: 5, trieNodes: 40, bytes: 123456, wastedBytes: 789 }
    const text = await recorded((m) => m.recordSyncStatus(status(counters, { phase: 'heal' })))
    const expected = [
      'snap_sync_accounts_total 100',
      'snap_sync_storage_slots_total 2000',
      'snap_sync_bytecodes_total 5',
      'snap_sync_trie_nodes_total 40',
      'snap_sync_bytes_total 123456',
      'snap_sync_wasted_bytes_total 789',
      'snap_sync_pivot_block 1234',
      `snap_sync_phase ${PHASE_NUMBER.heal}`,
      'snap_sync_account_space_done_ratio 0.25',
      'snap_sync_heal_pending 7',
      'snap_sync_peers 3',
    ]
    const lines = text.split('\n')
    for (const line of expected) assert.ok(lines.includes(line), `${line}\n${text}`)
    assert.match(text, /# TYPE snap_sync_accounts_total counter/)
    assert.match(text, /# TYPE snap_sync_phase gauge/)
    assert.match(text, /# HELP snap_sync_phase Snap sync phase: 0 pivot, 1 state, 2 heal, 3 handoff, 4 done\n/)
  })

  it('adds only the growth between snapshots; counts restored after a restart count once', async () => {
    const text = await recorded((m) => {
      m.recordSyncStatus(status({ accounts: 500, bytes: 10_000 })) // restored from disk
      m.recordSyncStatus(status({ accounts: 600, bytes: 12_000 }))
      m.recordSyncStatus(status({ accounts: 600, bytes: 12_000 }))
    })
    const lines = text.split('\n')
    assert.ok(lines.includes('snap_sync_accounts_total 600'), text)
    assert.ok(lines.includes('snap_sync_bytes_total 12000'), text)
  })

  it('never counts down: a field that went down (a new sync) is the new base', async () => {
    const text = await recorded((m) => {
      m.recordSyncStatus(status({ accounts: 600 }))
      m.recordSyncStatus(status({ accounts: 10 }))
      m.recordSyncStatus(status({ accounts: 25 }))
    })
    assert.ok(text.split('\n').includes('snap_sync_accounts_total 615'), text)
  })

  it('shows pivot 0 before a pivot is chosen', async () => {
    const text = await recorded((m) => m.recordSyncStatus(status({}, { phase: 'pivot', pivot: undefined })))
    const lines = text.split('\n')
    assert.ok(lines.includes('snap_sync_pivot_block 0'), text)
    assert.ok(lines.includes(`snap_sync_phase ${PHASE_NUMBER.pivot}`), text)
  })

  it('counts dropped peers by reason', async () => {
    const text = await recorded((m) => {
      m.recordPeerDropped('invalid_proof')
      m.recordPeerDropped('invalid_proof')
      m.recordPeerDropped('timeout')
    })
    const lines = text.split('\n')
    assert.ok(lines.includes('snap_sync_peers_dropped_total{reason="invalid_proof"} 2'), text)
    assert.ok(lines.includes('snap_sync_peers_dropped_total{reason="timeout"} 1'), text)
  })
})
