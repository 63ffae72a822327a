/**
 * Phase 1 of a snap sync, start to end: choose a pivot (or resume the persisted one), download and
 * complete its state, and keep the progress record in step.
 *
 * The pivot moves, keeping everything downloaded (StateSync.moveTo), when a timer of its own finds
 * it more than `staleDistance` blocks behind the peers' head or off their chain (a reorg), and when
 * every peer answers empty for its root. Moves are guarded against the livelock other clients fell
 * into: only to a newer verified pivot, and, after empty replies, at most once per
 * `minMoveIntervalMs`, so that a move never keeps invalidating the work in flight.
 */
import { bytesToHex, hexToBytes } from '@ethereumjs/util'

import { loadAccountTasks, newAccountTasks, saveAccountTasks, unwrittenBytes } from '../work/accounttasks.js'
import { bytes, count, peerLine } from '../report/reporter.js'
import { RootUnavailableError, StateSync } from '../scheduler/statesync.js'
import { newProgress } from './progressrecord.js'

import type { AccountTask } from '../work/accounttasks.js'
import type { Pivot } from '../pivot/pivot.js'
import type { PivotSource } from '../pivot/pivotsource.js'
import type { ProgressStore, SnapProgress } from './progressrecord.js'
import type { SnapPeerSource } from '../peers/snappeer.js'
import type { StateSyncOptions } from '../scheduler/statesync.js'
import type { PivotInfo, SnapSyncPhase, SnapSyncStatus } from '../report/status.js'
import type { StateStore } from '../../trie/index.js'

/** The log sink (the client's logger fits) */
export interface SyncLog {
  info(message: string): void
  warn(message: string): void
  debug(message: string): void
}

/** Frozen options of phase 1 */
export interface StateDownloadOptions {
  readonly accountTasks: number
  readonly stateSync?: StateSyncOptions
  /** ms between looks for peers or a pivot while waiting */
  readonly waitMs: number
  /** Blocks behind the peers' head at which the pivot moves. Default {@link STALE_DISTANCE} */
  readonly staleDistance?: number
  /** ms between staleness checks. Default {@link STALE_CHECK_MS} */
  readonly staleCheckMs?: number
  /** Least ms between moves caused by empty replies. Default {@link MIN_MOVE_INTERVAL_MS} */
  readonly minMoveIntervalMs?: number
}

/**
 * Why 120: snap/1 servers keep the states of their last 128 blocks (geth's snapshot layers); a pivot
 * past that is no longer served, so it moves a few blocks before
 */
export const STALE_DISTANCE = 120
/** Why 10 s: a head look costs a header request per peer; a 12 s chain moves one block in that time */
export const STALE_CHECK_MS = 10_000
/** Why 30 s: a move puts back the requests in flight; empty replies alone must not cause a stream of them */
export const MIN_MOVE_INTERVAL_MS = 30_000

/** See the module comment */
export class StateDownload {
  private progress: SnapProgress = newProgress()
  private sync: StateSync | undefined
  private tasks: AccountTask[] = []
  private phaseNow: SnapSyncPhase = 'pivot'
  private readonly startedAt = Date.now()
  private lastWaitLog = 0
  private lastMove = 0
  private checking = false
  /** The lookup that named the pivot, with who named it (in memory: not known after a restart) */
  private named: Pivot | undefined

  constructor(
    private readonly db: StateStore,
    private readonly store: ProgressStore,
    private readonly peers: SnapPeerSource,
    private readonly pivots: PivotSource,
    private readonly log: SyncLog,
    private readonly opts: StateDownloadOptions,
  ) {}

  /** Reads the progress record; true when there is one to resume from */
  async load(): Promise<SnapProgress> {
    const saved = await this.store.load()
    if (saved !== undefined) {
      this.progress = saved
      // Batches verified but not written when the process died are fetched again
      if ((saved.unwrittenBytes ?? 0) > 0) {
        this.progress.counters.wastedBytes += saved.unwrittenBytes ?? 0
        this.progress.unwrittenBytes = 0
        // Saved at once, so that a second crash does not count them twice
        await this.store.save(this.progress)
      }
      if (saved.pivot !== undefined && !saved.stateComplete) {
        this.tasks = saved.tasks.length > 0 ? loadAccountTasks(saved.tasks) : newAccountTasks(this.opts.accountTasks)
      }
    }
    this.phaseNow = this.progress.handedOff ? 'done' : this.progress.stateComplete ? 'handoff' : 'pivot'
    return this.progress
  }

  /** The pivot, once one is chosen */
  get pivot(): PivotInfo | undefined {
    const p = this.progress.pivot
    return p === undefined
      ? undefined
      : {
          number: BigInt(p.number),
          hash: hexToBytes(p.hash as `0x${string}`),
          stateRoot: hexToBytes(p.stateRoot as `0x${string}`),
        }
  }

  get handedOff(): boolean {
    return this.progress.handedOff
  }

  /** Downloads the pivot's state until it is complete; returns the pivot (the last one, after moves) */
  async run(signal: AbortSignal): Promise<PivotInfo> {
    if (this.progress.stateComplete) return this.pivot as PivotInfo
    // After a failed run (a DB error), from the last record, as a restarted process would: the
    // batches the failed run held wait for storage that its queues took with them
    if (this.progress.tasks.length > 0) {
      this.progress.counters.wastedBytes += unwrittenBytes(this.tasks)
      this.tasks = loadAccountTasks(this.progress.tasks)
    }
    if (this.progress.pivot === undefined) await this.choosePivot(signal)
    this.phaseNow = 'state'
    const sync = new StateSync(
      this.db,
      this.peers,
      (this.pivot as PivotInfo).stateRoot,
      this.tasks,
      this.progress.counters,
      {
        persist: () => this.save(),
        waiting: (why) => this.waiting(why),
        peerKept: (id, detail) => this.log.warn(`Snap sync: slow peer ${id.slice(0, 8)} (${detail})`),
      },
      this.opts.stateSync,
    )
    // Large storage tries half fetched before a restart continue from their cursors
    sync.ctx.storage.restore(this.progress.storage ?? [])
    this.sync = sync
    const timer = setInterval(() => void this.checkStale(signal), this.opts.staleCheckMs ?? STALE_CHECK_MS)
    try {
      for (;;) {
        try {
          await sync.run(signal)
          for (const t of sync.tracker.list()) this.log.info(peerLine(t))
          break
        } catch (err) {
          if (!(err instanceof RootUnavailableError)) throw err
          this.log.warn(
            `Snap sync: pivot ${this.pivot?.number} is not served any more (${err.message}); moving to a newer one`,
          )
          await this.moveWhenNewer(signal)
        }
      }
      this.progress.stateComplete = true
      this.phaseNow = 'handoff'
      await this.save()
    } finally {
      clearInterval(timer)
      this.sync = undefined
    }
    return this.pivot as PivotInfo
  }

  /**
   * The pivot is not on the canonical chain (found at the handoff): a new pivot is chosen and its
   * state completed from what is stored, as after a move
   */
  async forgetPivot(): Promise<void> {
    this.progress.pivot = undefined
    this.progress.stateComplete = false
    this.named = undefined
    await this.save()
  }

  /**
   * The chain never reached the pivot (`why`): the pivot source is told who named it, so that they
   * are not asked again, and a new pivot is chosen as after {@link forgetPivot}
   */
  async rejectPivot(why: string): Promise<void> {
    if (this.named !== undefined) this.pivots.reject?.(this.named, why)
    await this.forgetPivot()
  }

  /** Records that the client now executes from the pivot */
  async handedOver(): Promise<void> {
    this.progress.handedOff = true
    this.phaseNow = 'done'
    await this.save()
  }

  /** A snapshot for logs, RPC and metrics */
  status(): SnapSyncStatus {
    const sync = this.sync
    const phase = sync?.healing === true ? 'heal' : this.phaseNow
    const done = this.progress.stateComplete ? 1 : sync !== undefined ? sync.accountSpaceDone : 0
    return {
      phase,
      pivot: this.pivot,
      counters: this.progress.counters,
      accountSpaceDone: done,
      healPending: sync?.healPending ?? 0,
      peers: this.peers.peers().length,
      elapsedMs: Date.now() - this.startedAt,
    }
  }

  private async choosePivot(signal: AbortSignal): Promise<void> {
    this.phaseNow = 'pivot'
    for (;;) {
      signal.throwIfAborted()
      const found = await this.pivots.lookup()
      if ('pivot' in found) {
        const h = found.pivot.header
        this.progress.pivot = {
          number: `0x${h.number.toString(16)}`,
          hash: bytesToHex(h.hash()),
          stateRoot: bytesToHex(h.stateRoot),
        }
        this.named = found.pivot
        // A new pivot after a reorg keeps the tasks: what they stored is skipped by the completion
        if (this.tasks.length === 0) this.tasks = newAccountTasks(this.opts.accountTasks)
        this.progress.stateComplete = false
        await this.save()
        this.log.info(
          `Snap sync: pivot block=${h.number} hash=${bytesToHex(h.hash())} root=${bytesToHex(h.stateRoot)} ` +
            `head=${found.pivot.head.number} (${found.pivot.namedBy})`,
        )
        return
      }
      this.waiting(found.waiting)
      await new Promise((r) => setTimeout(r, this.opts.waitMs))
    }
  }

  // The staleness timer: moves the pivot when the peers' head is far past it, or off its chain
  private async checkStale(signal: AbortSignal): Promise<void> {
    const pivot = this.pivot
    if (this.checking || signal.aborted || this.sync === undefined || pivot === undefined) return
    this.checking = true
    try {
      const found = await this.pivots.lookup()
      if (!('pivot' in found) || found.pivot.header.number <= pivot.number) return
      const behind = found.pivot.head.number - pivot.number
      if (behind > BigInt(this.opts.staleDistance ?? STALE_DISTANCE)) {
        return await this.move(found.pivot, `${behind} blocks behind the head`)
      }
      // Another block at the pivot's height on the chain that named the new pivot: a reorg below it
      if ((await this.pivots.holds(pivot, found.pivot)) === false)
        await this.move(found.pivot, 'it left the canonical chain')
    } catch (err) {
      this.log.warn(`Snap sync: staleness check failed: ${(err as Error).message}`)
    } finally {
      this.checking = false
    }
  }

  // After empty replies for the pivot's root: waits until a newer pivot exists and the guard allows
  private async moveWhenNewer(signal: AbortSignal): Promise<void> {
    const minInterval = this.opts.minMoveIntervalMs ?? MIN_MOVE_INTERVAL_MS
    const unserved = (this.pivot as PivotInfo).number
    for (;;) {
      signal.throwIfAborted()
      const pivot = this.pivot as PivotInfo
      // The staleness timer moved it meanwhile
      if (pivot.number !== unserved) return
      const wait = this.lastMove + minInterval - Date.now()
      if (wait <= 0) {
        const found = await this.pivots.lookup()
        if ('pivot' in found && found.pivot.header.number > pivot.number)
          return this.move(found.pivot, 'no peer serves its state')
        this.waiting(`no peer serves the state of pivot ${pivot.number}, and no newer pivot yet`)
      } else {
        this.waiting(
          `no peer serves the state of pivot ${pivot.number}; ` +
            `the last move was ${Math.round((Date.now() - this.lastMove) / 1000)} s ago`,
        )
      }
      await new Promise((r) =>
        setTimeout(r, Math.max(0, Math.min(this.opts.waitMs, wait > 0 ? wait : this.opts.waitMs))),
      )
    }
  }

  private async move(found: Pivot, why: string): Promise<void> {
    const { header } = found
    const from = this.pivot as PivotInfo
    // The timer and a wait after empty replies may find the same newer pivot: move once
    if (header.number <= from.number) return
    // A sync that has just ended complete keeps its pivot: the record must name the root it completed
    if (this.progress.stateComplete || this.sync?.moveTo(header.stateRoot) === false) return
    this.progress.pivot = {
      number: `0x${header.number.toString(16)}`,
      hash: bytesToHex(header.hash()),
      stateRoot: bytesToHex(header.stateRoot),
    }
    this.named = found
    this.progress.counters.pivotMoves++
    this.lastMove = Date.now()
    // Saved with the next progress record, which the sync writes after flushing the nodes it covers
    this.log.info(
      `Snap sync: pivot moved from block ${from.number} to block=${header.number} hash=${bytesToHex(header.hash())} ` +
        `root=${bytesToHex(header.stateRoot)} (${why})`,
    )
  }

  private waiting(why: string): void {
    const now = Date.now()
    if (now - this.lastWaitLog < 8_000) return
    this.lastWaitLog = now
    this.log.info(`Snap sync: waiting: ${why}`)
  }

  private async save(): Promise<void> {
    this.progress.tasks = saveAccountTasks(this.tasks)
    // Kept while no sync runs (before one starts, after it ended incomplete); dropped once complete
    if (this.progress.stateComplete) this.progress.storage = []
    else if (this.sync !== undefined) this.progress.storage = this.sync.ctx.storage.save()
    this.progress.unwrittenBytes = unwrittenBytes(this.tasks)
    await this.store.save(this.progress)
  }
}

/** One line on what phase 1 did, for the log at handoff */
export function stateCompleteLine(s: SnapSyncStatus): string {
  const c = s.counters
  return (
    `Snap sync: state complete pivot=${s.pivot?.number} accounts=${count(c.accounts)} slots=${count(c.slots)} ` +
    `codes=${count(c.codes)} nodes=${count(c.trieNodes)} downloaded=${bytes(c.bytes)}; ` +
    `handing over to block execution`
  )
}
