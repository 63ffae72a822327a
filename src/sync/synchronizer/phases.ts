/**
 * The two phases of a snap sync, apart from how the block chain is fetched (the client's full
 * synchronizer before the merge, its beacon sync after it). Phase 1 (a {@link StateDownload})
 * downloads the verified state of a pivot while the block pipeline stores the chain without
 * executing it; once the chain holds the pivot, phase 2 sets the VM head to it and starts the
 * client's own execution. Also the reports: the progress line, `eth_syncing` fields, metrics.
 */
import { equalsBytes } from '@ethereumjs/util'

import { LevelStateReader } from '../../trie/reader.js'
import { initKeccak } from '../../trie/keccak.js'
import { EMPTY_ROOT } from '../../trie/stackbuilder.js'
import { nodeKey } from '../../trie/statedb.js'

import { ClientPeers } from './clientpeers.js'
import { ProgressStore, reconcileProgress } from '../download/progressrecord.js'
import { RateMeter, REPORT_INTERVAL_MS, duration, progressLine, summaryLine } from '../report/reporter.js'
import { StateDownload, stateCompleteLine } from '../download/statedownload.js'
import { DEFAULT_STATE_SYNC_OPTIONS } from '../scheduler/statesync.js'

import type { PivotSource } from '../pivot/pivotsource.js'
import type { ExecutedHead, ProgressDB } from '../download/progressrecord.js'
import type { DropReason } from '../peers/snappeer.js'
import type { PivotInfo, SnapSyncStatus } from '../report/status.js'
import type { StateStore } from '../../trie/index.js'
import type { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import type { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import type { VMExecution } from '@ethereumjs/client/dist/esm/src/execution/vmexecution.js'
import type { PeerPool } from '@ethereumjs/client/dist/esm/src/net/peerpool.js'

/** The options of `--sync=snap` the synchronizers use (`SnapOptions` fits) */
export interface SnapSyncOptions {
  readonly minPeers: number
  readonly pivotDistance: number
  readonly accountTasks: number
  /** Snap requests a second at most; 0: no cap */
  readonly requestRate: number
}

/** Where the synchronizer reports for Prometheus (`SnapMetrics` fits) */
export interface SyncRecorder {
  recordSyncStatus(status: SnapSyncStatus): void
  recordPeerDropped(reason: DropReason): void
}

/** The client parts the phases use (a synchronizer has them all) */
export interface PhaseParts {
  readonly config: Config
  readonly pool: PeerPool
  readonly chain: Chain
  readonly execution: VMExecution
}

/** Why 1 s: a metric or `eth_syncing` a second old is fresh enough, and the snapshot is cheap */
const STATUS_INTERVAL_MS = 1_000

/** ms before the first retry of phase 1 after an unexpected error (a DB error, a bug); doubled at each failure */
const RETRY_MS = 5_000
/** Why 5 minutes at most: an error that recurs must not flood the log, and a disk that was full is used soon after */
const MAX_RETRY_MS = 5 * 60_000

/**
 * How long the chain may stay below a complete pivot without a new block. Why 2 minutes: the block
 * pipeline looks for blocks every second (CATCH_UP_POLL_MS) and its requests time out in seconds; no
 * block for this long means no peer serves the chain up to the pivot: it was named above the real head
 * (before the merge one peer may name it: `--snapMinPeers` defaults to 1)
 */
const PIVOT_STALL_MS = 2 * 60_000

/** `Chain.historyStart` while no block has receipts here (the served range is clamped to the head) */
const NO_HISTORY = 2n ** 64n - 1n

/** What the chain says of a pivot whose state is complete */
type PivotVerdict =
  | { readonly kind: 'canonical' }
  /** another block is at its height */
  | { readonly kind: 'replaced' }
  /** the chain stopped below it */
  | { readonly kind: 'unreached'; readonly why: string }

const hex = (n: bigint | number) => `0x${BigInt(Math.floor(Number(n))).toString(16)}`

/** An error with its stack, for an error line: an unexpected error is found by where it was thrown */
const withStack = (err: unknown) => (err instanceof Error ? (err.stack ?? err.message) : String(err))

/** Resolves after `ms`, or as soon as `signal` aborts */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done)
  })
}

/** See the module comment */
export class SnapPhases {
  readonly peers: ClientPeers
  private readonly download: StateDownload
  private readonly store: ProgressStore
  private readonly reader: LevelStateReader
  private readonly abort = new AbortController()
  private readonly rates = new RateMeter()
  private phase1: Promise<void> | undefined
  private statusTimer: NodeJS.Timeout | undefined
  private lastReport = 0
  private startDone: { at: number; fraction: number } | undefined

  /**
   * @param pivots the pivot source over the snap peers
   * @param executeFromPivot runs once the VM head is the pivot: starts the client's execution
   */
  constructor(
    private readonly parts: PhaseParts,
    snap: SnapSyncOptions,
    pivots: (peers: ClientPeers) => PivotSource,
    private readonly executeFromPivot: () => Promise<void>,
    private readonly recorder?: SyncRecorder,
  ) {
    const { config, execution } = parts
    const { stateDB, metaDB } = execution
    if (stateDB === undefined || metaDB === undefined)
      throw new Error('--sync=snap needs the client state and meta databases')
    const logger = config.logger
    const log = {
      info: (m: string) => logger?.info(m),
      warn: (m: string) => logger?.warn(m),
      debug: (m: string) => logger?.debug(m),
    }
    this.peers = new ClientPeers(parts.pool, config, (id, reason, detail) => {
      log.warn(`Snap sync: dropped peer ${id.slice(0, 8)} reason=${reason} (${detail})`)
      this.recorder?.recordPeerDropped(reason)
    })
    const reader = new LevelStateReader(stateDB, config.useStringValueTrieDB)
    this.reader = reader
    const db: StateStore = {
      getMany: (keys) => reader.getMany(keys),
      batch: (ops, opts) => stateDB.batch(ops, opts),
    }
    this.store = new ProgressStore(metaDB as unknown as ProgressDB, log.warn)
    this.download = new StateDownload(db, this.store, this.peers, pivots(this.peers), log, {
      accountTasks: snap.accountTasks,
      stateSync: { ...DEFAULT_STATE_SYNC_OPTIONS, requestsPerSecond: snap.requestRate },
      waitMs: 2_000,
    })
  }

  /** True once the client executes from the downloaded state (persisted) */
  get handedOff(): boolean {
    return this.download.handedOff
  }

  /** Reads the progress record, checked against the client's executed head first; logs what a restart resumes */
  async open(): Promise<void> {
    await initKeccak()
    const logger = this.parts.config.logger
    // The record and the client's databases are written apart: a data dir damaged between runs can
    // leave them disagreeing (see reconcileProgress)
    const { progress: fixed, change } = reconcileProgress(await this.store.load(), await this.executedHead())
    if (change !== undefined && fixed !== undefined) {
      logger?.[change.level](change.message)
      await this.store.save(fixed)
    }
    const progress = await this.download.load()
    this.setHistoryStart(progress.handedOff && progress.pivot !== undefined ? BigInt(progress.pivot.number) : undefined)
    if (progress.handedOff) logger?.info('Snap sync: finished earlier; following the chain as a full node')
    else if (progress.pivot !== undefined)
      logger?.info(`Snap sync: resuming the state of pivot block ${BigInt(progress.pivot.number)}`)
  }

  // The block execution is at, and whether its state is in the state DB
  private async executedHead(): Promise<ExecutedHead> {
    const header = (await this.parts.chain.blockchain.getIteratorHead('vm')).header
    if (equalsBytes(header.stateRoot, EMPTY_ROOT)) return { number: header.number, stateStored: true }
    const [root] = await this.reader.getMany([nodeKey(header.stateRoot)])
    return { number: header.number, stateStored: root !== undefined }
  }

  /** Starts phase 1 (unless handed off) and the status timer; idempotent */
  start(): void {
    if (!this.download.handedOff && this.phase1 === undefined) {
      this.parts.config.logger?.info(
        'Snap sync: starting (phase 1: state of a recent pivot block; phase 2: the client executes from it)',
      )
      this.phase1 = this.runPhase1()
    }
    this.statusTimer ??= setInterval(() => this.tick(), STATUS_INTERVAL_MS)
  }

  async stop(): Promise<void> {
    this.abort.abort()
    clearInterval(this.statusTimer)
    await this.phase1
    this.peers.close()
  }

  /** The progress snapshot (for tests and tools) */
  status(): SnapSyncStatus {
    return this.download.status()
  }

  /** `eth_syncing` fields beside the standard ones (geth's names where geth has them) */
  syncingStatus(): { [field: string]: string } {
    const s = this.download.status()
    const c = s.counters
    return {
      // The executed head: the pivot once phase 2 runs, genesis before (the node has no other state)
      currentBlock: hex(this.parts.execution.chainStatus?.height ?? 0n),
      // The highest head seen (peers' announcements and headers, or the consensus layer's); 0 before
      highestBlock: hex(this.parts.config.syncTargetHeight ?? 0n),
      snapPhase: s.phase,
      pivotBlock: hex(s.pivot?.number ?? 0n),
      syncedAccounts: hex(c.accounts),
      syncedStorage: hex(c.slots),
      syncedBytecodes: hex(c.codes),
      healedTrienodes: hex(c.trieNodes),
      healingTrienodes: hex(s.healPending),
      syncedBytes: hex(c.bytes),
    }
  }

  private async runPhase1(): Promise<void> {
    const signal = this.abort.signal
    const logger = this.parts.config.logger
    let failures = 0
    // Once handed off, never again: the VM head and the execution are the client's from then on
    while (!signal.aborted && !this.download.handedOff) {
      try {
        const pivot = await this.download.run(signal)
        const verdict = await this.checkPivot(pivot, signal)
        if (verdict.kind === 'canonical') return await this.handoff(pivot)
        if (verdict.kind === 'replaced') {
          logger?.warn(`Snap sync: pivot block ${pivot.number} is not on the canonical chain; choosing a new pivot`)
          await this.download.forgetPivot()
        } else {
          logger?.warn(
            `Snap sync: the chain does not reach pivot block ${pivot.number} (${verdict.why}); ` +
              'choosing a new pivot',
          )
          await this.download.rejectPivot(`named pivot block ${pivot.number}, which the chain did not reach`)
        }
      } catch (err) {
        if (signal.aborted) return
        if (this.download.handedOff) {
          logger?.error(`Snap sync: failed after the handoff to block execution: ${withStack(err)}`)
          return
        }
        const delay = Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** failures++)
        logger?.error(`Snap sync: phase 1 failed; retrying in ${duration(delay)}: ${withStack(err)}`)
        await sleep(delay, signal)
      }
    }
  }

  // Waits until the block pipeline has stored the chain up to the pivot, or has stopped below it for
  // PIVOT_STALL_MS (unbounded, a pivot above the real head was waited for without end)
  private async checkPivot(pivot: PivotInfo, signal: AbortSignal): Promise<PivotVerdict> {
    const chain = this.parts.chain
    let [logged, height, grewAt] = [0, chain.blocks.height, Date.now()]
    while (chain.blocks.height < pivot.number) {
      signal.throwIfAborted()
      const now = Date.now()
      if (chain.blocks.height !== height) [height, grewAt] = [chain.blocks.height, now]
      if (now - grewAt >= PIVOT_STALL_MS)
        return { kind: 'unreached', why: `no new block for ${duration(now - grewAt)}, the chain is at block ${height}` }
      if (now - logged > REPORT_INTERVAL_MS) {
        logged = now
        this.parts.config.logger?.info(
          `Snap sync: state complete; waiting for blocks up to the pivot (${height} of ${pivot.number})`,
        )
      }
      await sleep(500, signal)
    }
    const header = await chain.blockchain.getCanonicalHeader(pivot.number)
    return { kind: equalsBytes(header.hash(), pivot.hash) ? 'canonical' : 'replaced' }
  }

  // Phase 2: the VM head becomes the pivot and the client's execution takes over
  private async handoff(pivot: PivotInfo): Promise<void> {
    const logger = this.parts.config.logger
    logger?.info(stateCompleteLine(this.download.status()))
    await this.parts.chain.blockchain.setIteratorHead('vm', pivot.hash)
    await this.download.handedOver()
    this.setHistoryStart(pivot.number)
    this.tick()
    logger?.info(summaryLine(this.download.status()))
    await this.parts.execution.start()
    await this.executeFromPivot()
  }

  /**
   * The eth/69 served range (Status, BlockRangeUpdate) starts above the pivot: the blocks below it have
   * bodies here but no receipts. Before the handoff there are none: the range is the head alone.
   */
  private setHistoryStart(pivotNumber: bigint | undefined): void {
    this.parts.chain.historyStart = pivotNumber === undefined ? NO_HISTORY : pivotNumber + 1n
  }

  private tick(): void {
    const status = this.download.status()
    this.recorder?.recordSyncStatus(status)
    const now = Date.now()
    if (status.phase !== 'done' && status.phase !== 'pivot') {
      this.startDone ??= { at: now, fraction: status.accountSpaceDone }
      if (now - this.lastReport >= REPORT_INTERVAL_MS) {
        this.lastReport = now
        const since = { fraction: status.accountSpaceDone - this.startDone.fraction, ms: now - this.startDone.at }
        this.parts.config.logger?.info(progressLine(status, this.rates.rates(now, status.counters), since))
      }
    }
  }
}
