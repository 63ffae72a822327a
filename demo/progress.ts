/**
 * The demo's live view of a snap sync: a progress bar redrawn in place on a terminal, plain lines
 * (on a phase change, and every few seconds) when the output is a file or a pipe.
 */
import type { SnapSyncing } from '../integration/harness/index.js'

/** What the state being synced holds: the bar's 100% */
export interface StateTotals {
  accounts: number
  slots: number
  codes: number
}

const BAR_WIDTH = 28
/** Seconds between plain lines when nothing else changes */
const PLAIN_EVERY_MS = 5_000

const num = (n: bigint | number) => Number(n).toLocaleString('en-US')

/** Bytes as "1.2 MiB" */
export function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

export class ProgressView {
  private readonly tty: boolean
  private lastPlain = 0
  private lastPhase: string | undefined
  private drawn = false

  /** `totals(pivot)`: what the state of the pivot block holds */
  constructor(
    private readonly totals: (pivot: bigint) => StateTotals,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    this.tty = out.isTTY === true
  }

  /** Shows one `eth_syncing` answer */
  update(status: SnapSyncing | false): void {
    const phase = status === false ? 'synced' : (status.snapPhase ?? 'starting')
    const line = status === false ? 'synced' : this.describe(status)
    const now = Date.now()
    if (this.tty) {
      // One terminal line, or the next redraw starts in the middle of a wrapped one
      this.out.write(`\r${line.slice(0, Math.max(20, (this.out.columns ?? 160) - 1))}\x1b[K`)
      this.drawn = true
    } else if (phase !== this.lastPhase || now - this.lastPlain >= PLAIN_EVERY_MS) {
      this.out.write(`${line}\n`)
      this.lastPlain = now
    }
    this.lastPhase = phase
  }

  /** Ends the bar's line, so that what follows starts on a new one */
  finish(): void {
    if (this.drawn) this.out.write('\n')
    this.drawn = false
  }

  private describe(s: SnapSyncing): string {
    const t = this.totals(s.pivotBlock ?? 0n)
    // The state phase is most of the work: leaves downloaded of the leaves the state has; after it, 100%
    const leaves = Number(s.syncedAccounts + s.syncedStorage) / Math.max(1, t.accounts + t.slots)
    const done = s.snapPhase === 'pivot' || s.snapPhase === 'state' ? Math.min(0.99, leaves) : 1
    const filled = Math.round(done * BAR_WIDTH)
    const bar = this.tty ? `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ` : ''
    const pivot = s.pivotBlock === undefined || s.pivotBlock === 0n ? '' : ` pivot ${s.pivotBlock}`
    return (
      `${bar}${(done * 100).toFixed(0).padStart(3)}% ${(s.snapPhase ?? '').padEnd(7)}${pivot}` +
      `  accounts ${num(s.syncedAccounts)}/${num(t.accounts)}  slots ${num(s.syncedStorage)}/${num(t.slots)}` +
      `  codes ${num(s.syncedBytecodes)}/${num(t.codes)}` +
      `  healed ${num(s.healedTrienodes)}  ${mib(Number(s.syncedBytes))}` +
      `  block ${num(s.currentBlock)}/${num(s.highestBlock)}`
    )
  }
}
