/**
 * The plugin's Prometheus metrics. Counting is always on (it is cheap); the metrics are exposed
 * when the client runs with `--prometheus`, on the client's own endpoint.
 */
import { Counter } from 'prom-client'

import type { Registry } from 'prom-client'

/** How a snap request ended, from the server's side */
export type ServeOutcome = 'answered' | 'empty' | 'rejected'

/** What a snap response carries */
export type ServedItem = 'accounts' | 'slots' | 'codes' | 'nodes' | 'proofNodes'

/** The plugin's counters; the snap server records into them (it fits `ServeRecorder`) */
export class SnapMetrics {
  readonly serveRequests = new Counter({
    name: 'snap_serve_requests_total',
    help: 'snap/1 requests received from peers, by message and outcome',
    labelNames: ['message', 'outcome'] as const,
    registers: [],
  })

  readonly servedItems = new Counter({
    name: 'snap_served_items_total',
    help: 'Items sent in snap/1 responses, by kind',
    labelNames: ['kind'] as const,
    registers: [],
  })

  readonly servedBytes = new Counter({
    name: 'snap_served_bytes_total',
    help: 'Payload bytes sent in snap/1 responses',
    registers: [],
  })

  /** Adds every metric to a registry (the client's, under `--prometheus`) */
  registerOn(registry: Registry): void {
    registry.registerMetric(this.serveRequests)
    registry.registerMetric(this.servedItems)
    registry.registerMetric(this.servedBytes)
  }

  /** Records one request and what its response carried */
  recordServed(message: string, outcome: ServeOutcome, items: Partial<Record<ServedItem, number>>, bytes: number): void {
    this.serveRequests.inc({ message, outcome })
    for (const [kind, count] of Object.entries(items)) {
      if (count !== undefined && count > 0) this.servedItems.inc({ kind }, count)
    }
    if (bytes > 0) this.servedBytes.inc(bytes)
  }
}
