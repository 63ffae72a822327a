/**
 * The snap sync's log lines: a progress line every few seconds (phase, counts, rates, share of the
 * account space, ETA) and the end-of-sync summary. Formatting only; the synchronizer decides when.
 */
import type { TrackedPeer } from '../peers/peertracker.js'
import type { SnapSyncCounters, SnapSyncStatus } from './status.js'

/** Why 8 s: frequent enough to watch a sync, rare enough not to flood a log (geth logs every 8 s) */
export const REPORT_INTERVAL_MS = 8_000

/** 1234567 → "1.23M" */
export function count(n: number): string {
  if (n < 1000) return String(Math.round(n))
  const units = ['k', 'M', 'G', 'T']
  let v = n
  let u = -1
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000
    u++
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${units[u]}`
}

/** Bytes as "12.3 MiB" */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`
}

/** ms as "1h02m", "3m05s", "42s" */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/** Rates between two looks at the counters */
export class RateMeter {
  private last: { at: number; counters: SnapSyncCounters } | undefined

  /** Per-second rates of every counter since the previous call */
  rates(now: number, counters: SnapSyncCounters): SnapSyncCounters {
    const prev = this.last
    this.last = { at: now, counters: { ...counters } }
    const out = { ...counters }
    for (const k of Object.keys(out) as (keyof SnapSyncCounters)[]) {
      out[k] = prev === undefined || now <= prev.at ? 0 : ((counters[k] - prev.counters[k]) * 1000) / (now - prev.at)
    }
    return out
  }
}

/** The periodic progress line */
export function progressLine(
  s: SnapSyncStatus,
  rates: SnapSyncCounters,
  sinceStartDone: { fraction: number; ms: number },
): string {
  const c = s.counters
  const pivot = s.pivot === undefined ? 'none' : String(s.pivot.number)
  const parts = [
    `Snap sync: phase=${s.phase} pivot=${pivot} peers=${s.peers}`,
    `accounts=${count(c.accounts)} (${count(rates.accounts)}/s)`,
    `slots=${count(c.slots)} (${count(rates.slots)}/s)`,
    `codes=${count(c.codes)}`,
    `nodes=${count(c.trieNodes)}`,
    `bytes=${bytes(c.bytes)} (${bytes(rates.bytes)}/s)`,
  ]
  if (s.phase === 'state') {
    parts.push(`done=${(s.accountSpaceDone * 100).toFixed(1)}%`)
    // ETA from this process's own rate over the account space (what a restart already had is excluded)
    const { fraction, ms } = sinceStartDone
    if (fraction > 0.001 && s.accountSpaceDone < 1)
      parts.push(`eta=${duration((ms / fraction) * (1 - s.accountSpaceDone))}`)
  }
  if (s.phase === 'heal') parts.push(`healed=${count(c.healedNodes)} pending=${count(s.healPending)}`)
  if (c.pivotMoves > 0) parts.push(`moves=${c.pivotMoves}`)
  return parts.join(' ')
}

/** The end-of-sync summary line */
export function summaryLine(s: SnapSyncStatus): string {
  const c = s.counters
  const secs = Math.max(s.elapsedMs / 1000, 0.001)
  return (
    `Snap sync: done in ${duration(s.elapsedMs)} pivot=${s.pivot?.number ?? 'none'} ` +
    `accounts=${c.accounts} slots=${c.slots} codes=${c.codes} nodes=${c.trieNodes} ` +
    `healed=${c.healedNodes} moves=${c.pivotMoves} ` +
    `downloaded=${bytes(c.bytes)} wasted=${bytes(c.wastedBytes)} hedged=${c.hedgedRequests} ` +
    `avg=${count(c.accounts / secs)} accounts/s, ${count(c.slots / secs)} slots/s, ${bytes(c.bytes / secs)}/s`
  )
}

/**
 * What one peer delivered during a state sync (the end-of-phase summary): where the work went is
 * the first thing to look at when a sync is slower than its fastest peer
 */
export function peerLine(t: TrackedPeer): string {
  const s = t.served
  return (
    `Snap sync: peer ${t.peer.id.slice(0, 8)} served accounts=${count(s.accounts)} slots=${count(s.storage)} ` +
    `codes=${count(s.codes)} ` +
    `nodes=${count(s.nodes)} bytes=${bytes(t.servedBytes)} rtt=${Math.round(t.rttMs)}ms timeouts=${t.timeouts}`
  )
}
