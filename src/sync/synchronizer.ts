/**
 * `--sync=snap`: the client's full synchronizer with a state download in front. Phase 1 (a
 * {@link StateDownload}) chooses a pivot and downloads its verified state while the inherited block
 * pipeline stores headers and bodies without executing them; phase 2 sets the VM head to the pivot
 * and lets the client's own execution run pivot+1 … tip and follow the chain, as a full node does.
 * Until then this class holds execution and the `synchronized` flag: the node has no state to
 * execute on or to be synced with.
 */
import { cliqueVerifySignature } from '@ethereumjs/block'
import { CliqueConsensus } from '@ethereumjs/blockchain'
import { FullSynchronizer } from '@ethereumjs/client/dist/esm/src/sync/fullsync.js'
import { Synchronizer } from '@ethereumjs/client/dist/esm/src/sync/sync.js'
import { equalsBytes } from '@ethereumjs/util'

import { LevelStateReader } from '../trie/reader.js'
import { initKeccak } from '../trie/keccak.js'

import { AnnouncedBlocks } from './announcedblocks.js'
import { ClientPeers } from './clientpeers.js'
import { PivotFinder } from './pivot.js'
import { ProgressStore } from './progress.js'
import { RateMeter, REPORT_INTERVAL_MS, duration, progressLine, summaryLine } from './reporter.js'
import { StateDownload, stateCompleteLine } from './statedownload.js'
import { DEFAULT_STATE_SYNC_OPTIONS } from './statesync.js'

import type { ProgressDB } from './progress.js'
import type { DropReason } from './snappeer.js'
import type { PivotInfo, SnapSyncStatus } from './status.js'
import type { StateStore } from '../trie/index.js'
import type { Block, BlockHeader } from '@ethereumjs/block'
import type { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import type { VMExecution } from '@ethereumjs/client/dist/esm/src/execution/vmexecution.js'
import type { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'
import type { PluginSynchronizer, PluginSynchronizerOptions } from '@ethereumjs/client/dist/esm/src/plugin.js'

/** The options of `--sync=snap` the synchronizer uses (`SnapOptions` fits) */
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

/** Why 1 s: a metric or `eth_syncing` a second old is fresh enough, and the snapshot is cheap */
const STATUS_INTERVAL_MS = 1_000

/** ms between retries of phase 1 after an unexpected error (a DB error, say) */
const RETRY_MS = 5_000

const hex = (n: bigint | number) => '0x' + BigInt(Math.floor(Number(n))).toString(16)

/** Checks pivot headers by the chain's consensus rules where they can be checked from headers alone */
export function headerValidator(chain: Chain): (headers: BlockHeader[]) => void {
  const consensus = chain.blockchain.consensus
  if (consensus instanceof CliqueConsensus) {
    return (headers) => {
      for (const h of headers) {
        if (!cliqueVerifySignature(h, consensus.cliqueActiveSigners(h.number))) {
          throw new Error(`header ${h.number} is not sealed by an authorised clique signer`)
        }
      }
    }
  }
  // Ethash seals are checked when the block pipeline stores the chain, before the handoff
  // accepts the pivot as canonical
  return () => {}
}

/**
 * The block pipeline's poll interval: the service's 8 s is right for 12 s slots, but a node behind a
 * 1 s clique chain would fall 8-24 blocks behind between polls and never reach the head, where block
 * announcements take over. Poll about once a block, within [1 s, the service's interval].
 */
export function followInterval(options: PluginSynchronizerOptions): number {
  const max = options.interval ?? 8_000
  const common = options.config.chainCommon
  const period = common.consensusAlgorithm() === 'clique' ? Number((common.consensusConfig() as { period?: number }).period ?? 0) : 0
  return period > 0 ? Math.max(1_000, Math.min(max, period * 1_000)) : max
}

/** See the module comment */
export class SnapSynchronizer extends FullSynchronizer implements PluginSynchronizer {
  private readonly download: StateDownload
  private readonly peers: ClientPeers
  private readonly executor: VMExecution
  private readonly abort = new AbortController()
  private readonly rates = new RateMeter()
  private phase1: Promise<void> | undefined
  private statusTimer: NodeJS.Timeout | undefined
  private lastReport = 0
  private startDone: { at: number; fraction: number } | undefined
  private readonly ahead = new AnnouncedBlocks()
  private importingAhead: Promise<void> | undefined

  constructor(
    options: PluginSynchronizerOptions,
    snap: SnapSyncOptions,
    private readonly recorder?: SyncRecorder,
  ) {
    super({ ...options, interval: followInterval(options) })
    this.executor = options.execution
    const { stateDB, metaDB } = options.execution
    if (stateDB === undefined || metaDB === undefined) throw new Error('--sync=snap needs the client state and meta databases')
    const logger = this.config.logger
    const log = {
      info: (m: string) => logger?.info(m),
      warn: (m: string) => logger?.warn(m),
      debug: (m: string) => logger?.debug(m),
    }
    this.peers = new ClientPeers(this.pool, this.config, (id, reason, detail) => {
      log.warn(`Snap sync: dropped peer ${id.slice(0, 8)} reason=${reason} (${detail})`)
      this.recorder?.recordPeerDropped(reason)
    })
    const reader = new LevelStateReader(stateDB, this.config.useStringValueTrieDB)
    const db: StateStore = {
      getMany: (keys) => reader.getMany(keys),
      batch: (ops, opts) => stateDB.batch(ops, opts),
    }
    const pivots = new PivotFinder({ minPeers: snap.minPeers, distance: snap.pivotDistance, validate: headerValidator(this.chain) })
    this.download = new StateDownload(db, new ProgressStore(metaDB as unknown as ProgressDB), this.peers, pivots, log, {
      accountTasks: snap.accountTasks,
      minPeers: snap.minPeers,
      stateSync: { ...DEFAULT_STATE_SYNC_OPTIONS, requestsPerSecond: snap.requestRate },
      waitMs: 2_000,
    })
  }

  override get type(): string {
    return 'snap'
  }

  /** Execution waits for the state: the client must not start it from the genesis state */
  get holdsExecution(): boolean {
    return !this.download.handedOff
  }

  override async open(): Promise<void> {
    if (this.opened) return
    await super.open()
    await initKeccak()
    const progress = await this.download.load()
    if (progress.handedOff) this.config.logger?.info('Snap sync: finished earlier; following the chain as a full node')
    else if (progress.pivot !== undefined) this.config.logger?.info(`Snap sync: resuming the state of pivot block ${BigInt(progress.pivot.number)}`)
  }

  override async start(): Promise<boolean | void> {
    if (!this.download.handedOff && this.phase1 === undefined) {
      this.config.logger?.info('Snap sync: starting (phase 1: state of a recent pivot block; phase 2: the client executes from it)')
      this.phase1 = this.runPhase1()
    }
    this.statusTimer ??= setInterval(() => this.tick(), STATUS_INTERVAL_MS)
    return super.start()
  }

  override async stop(): Promise<boolean> {
    this.abort.abort()
    clearInterval(this.statusTimer)
    await this.phase1
    this.peers.close()
    return super.stop()
  }

  /** Holds `config.synchronized` until the node executes from its own state */
  override onChainUpdated(): void {
    void this.importAhead()
    if (this.download.handedOff) super.onChainUpdated()
  }

  /**
   * A block announced past our head raises the sync target: the stock handler drops announcements
   * more than one block ahead without noting the height, and the target then grows only with the
   * peer's timestamp at 12 s per block, so a node behind a fast chain (a 1 s clique devnet) never
   * catches up. The block pipeline still validates every block it fetches up to that target.
   */
  override async handleNewBlock(block: Block, peer?: Peer): Promise<void> {
    const n = block.header.number
    if (peer !== undefined && n > this.chain.headers.height + 1n && n > (this.config.syncTargetHeight ?? 0n)) {
      this.config.syncTargetHeight = n
    }
    if (peer !== undefined) this.ahead.add(block, this.chain.blocks.height)
    await super.handleNewBlock(block, peer)
    await this.importAhead()
  }

  // Imports kept announcements that extend the head, one after another (see AnnouncedBlocks); a
  // caller during an import waits for that import
  private importAhead(): Promise<void> {
    if (this.ahead.size === 0) return Promise.resolve()
    this.importingAhead ??= this.importKept().finally(() => (this.importingAhead = undefined))
    return this.importingAhead
  }

  private async importKept(): Promise<void> {
    try {
      for (;;) {
        const head = this.chain.blocks.latest
        const next = head === null ? undefined : this.ahead.takeChildOf(head.hash())
        if (next === undefined) break
        // putBlocks validates the block (header, consensus, body) as for any fetched block
        await this.chain.putBlocks([next])
      }
      this.ahead.prune(this.chain.blocks.height)
    } catch (err) {
      this.config.logger?.debug(`Snap sync: an announced block did not import: ${(err as Error).message}`)
    }
  }

  /**
   * One round of the block pipeline. At the head there is nothing to fetch: announcements import each
   * new block. Otherwise the base round, without `FullSynchronizer`'s race against SYNC_SYNCHRONIZED:
   * that race clears the fetcher while a job is in flight, the peer stays busy until the job expires,
   * and the expiry bans the only peer (seen on a 1 s devnet: the node stopped following).
   */
  override async sync(): Promise<boolean> {
    if (this.download.handedOff && this.chain.headers.height >= (this.config.syncTargetHeight ?? 0n)) return false
    return Synchronizer.prototype.sync.call(this)
  }

  /** Execution follows new blocks only once it has a state to run on */
  override async runExecution(): Promise<void> {
    if (this.download.handedOff) return super.runExecution()
  }

  /** `eth_syncing` fields beside the standard ones (geth's names where geth has them) */
  syncingStatus(): { [field: string]: string } {
    const s = this.download.status()
    const c = s.counters
    return {
      // The executed head: the pivot once phase 2 runs, genesis before (the node has no other state)
      currentBlock: hex(this.executor.chainStatus?.height ?? 0n),
      // The highest head seen (peers' announcements and headers); without peers yet, 0
      highestBlock: hex(this.config.syncTargetHeight ?? 0n),
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

  /** The progress snapshot (for tests and tools) */
  status(): SnapSyncStatus {
    return this.download.status()
  }

  private async runPhase1(): Promise<void> {
    const signal = this.abort.signal
    while (!signal.aborted) {
      try {
        const pivot = await this.download.run(signal)
        if (await this.pivotIsCanonical(pivot, signal)) return await this.handoff(pivot)
        this.config.logger?.warn(`Snap sync: pivot block ${pivot.number} is not on the canonical chain; choosing a new pivot`)
        await this.download.forgetPivot()
      } catch (err) {
        if (signal.aborted) return
        this.config.logger?.error(`Snap sync: ${(err as Error).message}; retrying in ${duration(RETRY_MS)}`)
        await new Promise((r) => setTimeout(r, RETRY_MS))
      }
    }
  }

  // Waits until the block pipeline has stored the chain up to the pivot; true if the pivot is on it
  private async pivotIsCanonical(pivot: PivotInfo, signal: AbortSignal): Promise<boolean> {
    let logged = 0
    while (this.chain.blocks.height < pivot.number) {
      signal.throwIfAborted()
      if (Date.now() - logged > REPORT_INTERVAL_MS) {
        logged = Date.now()
        this.config.logger?.info(`Snap sync: state complete; waiting for blocks up to the pivot (${this.chain.blocks.height} of ${pivot.number})`)
      }
      await new Promise((r) => setTimeout(r, 500))
    }
    const header = await this.chain.blockchain.getCanonicalHeader(pivot.number)
    return equalsBytes(header.hash(), pivot.hash)
  }

  // Phase 2: the VM head becomes the pivot and the client's execution takes over
  private async handoff(pivot: PivotInfo): Promise<void> {
    this.config.logger?.info(stateCompleteLine(this.download.status()))
    await this.chain.blockchain.setIteratorHead('vm', pivot.hash)
    await this.download.handedOver()
    this.tick()
    this.config.logger?.info(summaryLine(this.download.status()))
    await this.executor.start()
    super.onChainUpdated()
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
        this.config.logger?.info(progressLine(status, this.rates.rates(now, status.counters), since))
      }
    }
  }
}
