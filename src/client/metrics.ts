/**
 * The plugin's Prometheus metrics. Counting is always on (it is cheap); the metrics are exposed
 * when the client runs with `--prometheus`, on the client's own endpoint.
 */
import { Counter, Gauge } from 'prom-client'

import { PHASE_NUMBER, emptyCounters } from '../sync/report/status.js'

import type { DropReason } from '../sync/peers/snappeer.js'
import type { SnapSyncCounters, SnapSyncStatus } from '../sync/report/status.js'
import type { Metric, Registry } from 'prom-client'

/** How a snap request ended, from the server's side */
export type ServeOutcome = 'answered' | 'empty' | 'rejected'

/** What a snap response carries */
export type ServedItem = 'accounts' | 'slots' | 'codes' | 'nodes' | 'proofNodes'

// The synchronizer's persisted counters, one Prometheus counter each: name and help by status field
const SYNC_COUNTERS: { readonly [field in keyof SnapSyncCounters]: readonly [name: string, help: string] } = {
  accounts: ['snap_sync_accounts_total', 'Account leaves verified and stored by snap sync'],
  slots: ['snap_sync_storage_slots_total', 'Storage slots verified and stored by snap sync'],
  codes: ['snap_sync_bytecodes_total', 'Bytecodes verified and stored by snap sync'],
  trieNodes: ['snap_sync_trie_nodes_total', 'Trie nodes fetched by snap sync (completion and healing)'],
  bytes: ['snap_sync_bytes_total', 'Payload bytes of the snap replies accepted'],
  wastedBytes: ['snap_sync_wasted_bytes_total', 'Payload bytes of snap replies thrown away (invalid, late or lost)'],
  healedNodes: [
    'snap_sync_trie_nodes_healed_total',
    'Trie nodes fetched while healing from the pivot root after the ranges',
  ],
  pivotMoves: ['snap_sync_pivot_moves_total', 'Times snap sync moved its pivot to a newer block'],
  hedgedRequests: [
    'snap_sync_hedged_requests_total',
    'Requests that asked an idle peer for work a much slower peer held (the tail of a phase)',
  ],
}

function counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [] })
}

function gauge(name: string, help: string): Gauge {
  return new Gauge({ name, help, registers: [] })
}

/**
 * The plugin's metrics: what the snap server answered (it fits `ServeRecorder`) and how the snap
 * synchronizer progresses (fed from its `SnapSyncStatus`).
 */
export class SnapMetrics {
  readonly serveRequests = counter(
    'snap_serve_requests_total',
    'snap/1 requests received from peers, by message and outcome',
    ['message', 'outcome'] as const,
  )
  readonly servedItems = counter('snap_served_items_total', 'Items sent in snap/1 responses, by kind', [
    'kind',
  ] as const)
  readonly servedBytes = counter('snap_served_bytes_total', 'Payload bytes sent in snap/1 responses')

  /** One counter per field of the synchronizer's counters */
  readonly syncCounters = Object.fromEntries(
    Object.entries(SYNC_COUNTERS).map(([field, [name, help]]) => [field, counter(name, help)]),
  ) as { readonly [field in keyof SnapSyncCounters]: Counter }
  readonly pivotBlock = gauge(
    'snap_sync_pivot_block',
    'Number of the pivot block whose state snap sync downloads (0: none yet)',
  )
  readonly phase = gauge(
    'snap_sync_phase',
    `Snap sync phase: ${Object.entries(PHASE_NUMBER)
      .map(([p, n]) => `${n} ${p}`)
      .join(', ')}`,
  )
  readonly accountSpaceDone = gauge(
    'snap_sync_account_space_done_ratio',
    'Fraction of the account hash space downloaded, 0 to 1',
  )
  readonly healPending = gauge(
    'snap_sync_heal_pending',
    'Trie nodes waiting to be fetched by the completion/heal phase',
  )
  readonly peers = gauge('snap_sync_peers', 'Peers serving snap/1 to the synchronizer now')
  readonly peersDropped = counter('snap_sync_peers_dropped_total', 'Peers dropped by snap sync, by reason', [
    'reason',
  ] as const)

  /** The counter values last recorded, so that only their growth is added */
  private lastCounters: SnapSyncCounters = emptyCounters()

  /** Adds every metric to a registry (the client's, under `--prometheus`) */
  registerOn(registry: Registry): void {
    const all: Metric[] = [
      this.serveRequests,
      this.servedItems,
      this.servedBytes,
      ...Object.values(this.syncCounters),
      this.pivotBlock,
      this.phase,
      this.accountSpaceDone,
      this.healPending,
      this.peers,
      this.peersDropped,
    ]
    for (const metric of all) registry.registerMetric(metric)
  }

  /** Records one request and what its response carried */
  recordServed(
    message: string,
    outcome: ServeOutcome,
    items: Partial<Record<ServedItem, number>>,
    bytes: number,
  ): void {
    this.serveRequests.inc({ message, outcome })
    for (const [kind, count] of Object.entries(items)) {
      if (count !== undefined && count > 0) this.servedItems.inc({ kind }, count)
    }
    if (bytes > 0) this.servedBytes.inc(bytes)
  }

  /**
   * Records a status snapshot of the synchronizer. Each counter grows by what its status field grew
   * since the last snapshot, so counts restored from disk after a restart count up once and then
   * on; a field that went down (a new sync) is the new base.
   */
  recordSyncStatus(status: SnapSyncStatus): void {
    for (const field of Object.keys(SYNC_COUNTERS) as (keyof SnapSyncCounters)[]) {
      const value = status.counters[field]
      const grown = value - this.lastCounters[field]
      if (grown > 0) this.syncCounters[field].inc(grown)
      this.lastCounters[field] = value
    }
    this.pivotBlock.set(status.pivot === undefined ? 0 : Number(status.pivot.number))
    this.phase.set(PHASE_NUMBER[status.phase])
    this.accountSpaceDone.set(status.accountSpaceDone)
    this.healPending.set(status.healPending)
    this.peers.set(status.peers)
  }

  /** Records a peer the synchronizer dropped */
  recordPeerDropped(reason: DropReason): void {
    this.peersDropped.inc({ reason })
  }
}
