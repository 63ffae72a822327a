/**
 * Phase 1 of a snap sync, start to end: choose a pivot (or resume the persisted one), download and
 * complete its state, and keep the progress record in step. A pivot whose state no peer serves any
 * more is replaced; what was already stored stays and is skipped by the next round.
 */
import { bytesToHex, hexToBytes } from '@ethereumjs/util'

import { loadAccountTasks, newAccountTasks, saveAccountTasks, unwrittenBytes } from './accounttasks.js'
import { BadHeadersError } from './pivot.js'
import { bytes, count } from './reporter.js'
import { RootUnavailableError, StateSync } from './statesync.js'
import { newProgress } from './progress.js'

import type { AccountTask } from './accounttasks.js'
import type { HeaderPeer, PivotFinder } from './pivot.js'
import type { ProgressStore, SnapProgress } from './progress.js'
import type { DropReason, SnapPeerSource } from './snappeer.js'
import type { StateSyncOptions } from './statesync.js'
import type { PivotInfo, SnapSyncPhase, SnapSyncStatus } from './status.js'
import type { StateStore } from '../trie/index.js'

/** Where phase 1 finds peers: snap peers to download from, eth peers to learn heads from */
export interface DownloadPeers extends SnapPeerSource {
  headerPeers(): HeaderPeer[]
  dropById(peerId: string, reason: DropReason, detail: string): void
}

/** The log sink (the client's logger fits) */
export interface SyncLog {
  info(message: string): void
  warn(message: string): void
  debug(message: string): void
}

/** Frozen options of phase 1 */
export interface StateDownloadOptions {
  readonly accountTasks: number
  readonly minPeers: number
  readonly stateSync?: StateSyncOptions
  /** ms between looks for peers or a pivot while waiting */
  readonly waitMs: number
}

/** See the module comment */
export class StateDownload {
  private progress: SnapProgress = newProgress()
  private sync: StateSync | undefined
  private tasks: AccountTask[] = []
  private phaseNow: SnapSyncPhase = 'pivot'
  private readonly startedAt = Date.now()
  private lastWaitLog = 0

  constructor(
    private readonly db: StateStore,
    private readonly store: ProgressStore,
    private readonly peers: DownloadPeers,
    private readonly pivots: PivotFinder,
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
    return p === undefined ? undefined : { number: BigInt(p.number), hash: hexToBytes(p.hash as `0x${string}`), stateRoot: hexToBytes(p.stateRoot as `0x${string}`) }
  }

  get handedOff(): boolean {
    return this.progress.handedOff
  }

  /** Downloads the pivot's state until it is complete; returns the pivot */
  async run(signal: AbortSignal): Promise<PivotInfo> {
    while (!this.progress.stateComplete) {
      signal.throwIfAborted()
      if (this.progress.pivot === undefined) await this.choosePivot(signal)
      const pivot = this.pivot as PivotInfo
      this.phaseNow = 'state'
      this.sync = new StateSync(this.db, this.peers, pivot.stateRoot, this.tasks, this.progress.counters, {
        persist: () => this.save(),
        waiting: (why) => this.waiting(why),
      }, this.opts.stateSync)
      try {
        await this.sync.run(signal)
        this.progress.stateComplete = true
        this.phaseNow = 'handoff'
        await this.save()
      } catch (err) {
        if (!(err instanceof RootUnavailableError)) throw err
        this.log.warn(`Snap sync: pivot ${pivot.number} is stale (${err.message}); choosing a new one`)
        await this.forgetPivot()
      } finally {
        this.sync = undefined
      }
    }
    return this.pivot as PivotInfo
  }

  /** The pivot is not on the canonical chain: download the state of a new one */
  async forgetPivot(): Promise<void> {
    this.progress.pivot = undefined
    this.progress.stateComplete = false
    this.tasks = []
    await this.save()
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
      const peers = this.peers.headerPeers()
      if (peers.length >= this.opts.minPeers) {
        const found = await this.pivots.find(peers, (err: BadHeadersError) => this.peers.dropById(err.peerId, 'invalid_proof', err.message))
        if (found !== undefined) {
          const h = found.header
          this.progress.pivot = { number: '0x' + h.number.toString(16), hash: bytesToHex(h.hash()), stateRoot: bytesToHex(h.stateRoot) }
          this.tasks = newAccountTasks(this.opts.accountTasks)
          this.progress.stateComplete = false
          await this.save()
          this.log.info(
            `Snap sync: pivot block=${h.number} hash=${bytesToHex(h.hash())} root=${bytesToHex(h.stateRoot)} head=${found.head.number} peers=${found.supporters.length}`,
          )
          return
        }
        this.waiting(`${peers.length} peers, fewer than ${this.opts.minPeers} agree on a head`)
      } else {
        this.waiting(`${peers.length} of ${this.opts.minPeers} peers needed to choose a pivot`)
      }
      await new Promise((r) => setTimeout(r, this.opts.waitMs))
    }
  }

  private waiting(why: string): void {
    const now = Date.now()
    if (now - this.lastWaitLog < 8_000) return
    this.lastWaitLog = now
    this.log.info(`Snap sync: waiting: ${why}`)
  }

  private async save(): Promise<void> {
    this.progress.tasks = saveAccountTasks(this.tasks)
    this.progress.unwrittenBytes = unwrittenBytes(this.tasks)
    await this.store.save(this.progress)
  }
}

/** One line on what phase 1 did, for the log at handoff */
export function stateCompleteLine(s: SnapSyncStatus): string {
  const c = s.counters
  return `Snap sync: state complete pivot=${s.pivot?.number} accounts=${count(c.accounts)} slots=${count(c.slots)} codes=${count(c.codes)} nodes=${count(c.trieNodes)} downloaded=${bytes(c.bytes)}; handing over to block execution`
}
