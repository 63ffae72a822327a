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
import { Event } from '@ethereumjs/client/dist/esm/src/types.js'

import { AnnouncedBlocks } from './announcedblocks.js'
import { SnapPhases } from './phases.js'
import { PivotFinder } from '../pivot/pivot.js'
import { PeerPivotSource } from '../pivot/pivotsource.js'
import { retarget } from './synctarget.js'

import type { SnapSyncOptions, SyncRecorder } from './phases.js'
import type { SnapSyncStatus } from '../report/status.js'
import type { Block, BlockHeader } from '@ethereumjs/block'
import type { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import type { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'
import type { PluginSynchronizer, PluginSynchronizerOptions } from '@ethereumjs/client/dist/esm/src/plugin.js'

export type { SnapSyncOptions, SyncRecorder } from './phases.js'

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
 * The block pipeline's poll interval once handed over: the service's 8 s is right for 12 s slots, but
 * a node behind a 1 s clique chain would fall 8-24 blocks behind between polls and never reach the
 * head, where block announcements take over. Poll about once a block, within [1 s, the service's interval].
 */
export function followInterval(options: PluginSynchronizerOptions): number {
  const max = options.interval ?? 8_000
  const common = options.config.chainCommon
  const period =
    common.consensusAlgorithm() === 'clique' ? Number((common.consensusConfig() as { period?: number }).period ?? 0) : 0
  return period > 0 ? Math.max(1_000, Math.min(max, period * 1_000)) : max
}

/**
 * The block pipeline's poll until the handoff: its rounds, and its fetcher's look for a job it can
 * start when none could (its one peer busy with the pool's head refresh). At the service's 8 s each
 * such moment stalled the blocks up to the pivot while the state downloaded, and the handoff waits
 * for those blocks (the benchmark chain: 8-16 s of a ~60 s snap sync). A look costs nothing.
 */
export const CATCH_UP_POLL_MS = 1_000

/** See the module comment */
export class SnapSynchronizer extends FullSynchronizer implements PluginSynchronizer {
  private readonly phases: SnapPhases
  /** The poll once handed over (followInterval) */
  private readonly followMs: number
  private readonly ahead = new AnnouncedBlocks()
  private importingAhead: Promise<void> | undefined

  constructor(options: PluginSynchronizerOptions, snap: SnapSyncOptions, recorder?: SyncRecorder) {
    super({ ...options, interval: CATCH_UP_POLL_MS })
    this.followMs = followInterval(options)
    const log = (m: string) => this.config.logger?.debug(m)
    const finder = new PivotFinder({
      minPeers: snap.minPeers,
      distance: snap.pivotDistance,
      validate: headerValidator(this.chain),
      log,
    })
    this.phases = new SnapPhases(
      { config: this.config, pool: this.pool, chain: this.chain, execution: options.execution },
      snap,
      (peers) => new PeerPivotSource(peers, finder, snap.minPeers),
      // Marks the node synchronized and runs the stored blocks from the pivot up now: the client's
      // execution start runs only batches of 100+ blocks, and otherwise runs on CHAIN_UPDATED, so a
      // head that imported nothing new after the handoff left the node at the pivot
      async () => {
        this.interval = this.pollInterval()
        super.onChainUpdated()
        await this.runExecution()
      },
      recorder,
    )
    this.config.events.on(Event.POOL_PEER_BANNED, this.onPeerBanned)
  }

  private readonly onPeerBanned = () => this.dropUnbackedTarget()

  // A target only a banned peer claimed (see synctarget.ts): fall back to what the peers left have
  // shown, and end the fetcher whose jobs run up to the old target
  private dropUnbackedTarget(): void {
    const lower = retarget(this.config.syncTargetHeight, this.pool.peers, this.chain.headers.height)
    if (lower === undefined) return
    this.config.logger?.info(
      `Sync target ${this.config.syncTargetHeight} was named by a banned peer only; now ${lower}`,
    )
    this.config.syncTargetHeight = lower
    this.clearFetcher()
  }

  override get type(): string {
    return 'snap'
  }

  /** Execution waits for the state: the client must not start it from the genesis state */
  get holdsExecution(): boolean {
    return !this.phases.handedOff
  }

  override async open(): Promise<void> {
    if (this.opened) return
    await super.open()
    await this.phases.open()
    this.interval = this.pollInterval()
  }

  // Rounds of the block pipeline, and the polls of the fetchers it creates: see CATCH_UP_POLL_MS
  private pollInterval(): number {
    return this.phases.handedOff ? this.followMs : CATCH_UP_POLL_MS
  }

  // biome-ignore lint/suspicious/noConfusingVoidType: the client's Synchronizer.start() is typed so
  override async start(): Promise<boolean | void> {
    this.phases.start()
    return super.start()
  }

  override async stop(): Promise<boolean> {
    this.config.events.off(Event.POOL_PEER_BANNED, this.onPeerBanned)
    await this.phases.stop()
    return super.stop()
  }

  /** Holds `config.synchronized` until the node executes from its own state */
  override onChainUpdated(): void {
    void this.importAhead()
    if (this.phases.handedOff) super.onChainUpdated()
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
      this.config.logger?.warn(`Snap sync: an announced block did not import: ${(err as Error).message}`)
    }
  }

  /**
   * One round of the block pipeline. At the head there is nothing to fetch: announcements import each
   * new block. Otherwise the base round, without `FullSynchronizer`'s race against SYNC_SYNCHRONIZED:
   * that race clears the fetcher while a job is in flight, the peer stays busy until the job expires,
   * and the expiry bans the only peer (seen on a 1 s devnet: the node stopped following).
   */
  override async sync(): Promise<boolean> {
    if (this.phases.handedOff && this.chain.headers.height >= (this.config.syncTargetHeight ?? 0n)) return false
    return Synchronizer.prototype.sync.call(this)
  }

  /**
   * The peer to sync from: the stock choice, else (a chain chosen by total difficulty) a peer whose
   * head, as the pool refreshes it every 5 s, is above ours. The stock rule compares a peer's
   * handshake td with ours, and a peer's td is raised only by its full NewBlock messages, which a node
   * relays to the square root of its peers (hashes to the others). A node that got hashes only
   * outgrew its peer's handshake td a few blocks later, never chose the peer again and stopped
   * following (seen: C behind snap-synced B in the moving-chain test). The blocks are validated as any.
   */
  override async best(): Promise<Peer | undefined> {
    const stock = await super.best()
    if (stock !== undefined) return stock
    const peers = this.pool.peers.filter((p) => this.syncable(p))
    if (peers.length < this.config.minPeers && !this.forceSync) return undefined
    const height = this.chain.headers.height
    return peers.find((p) => (p.eth?.updatedBestHeader?.number ?? 0n) > height)
  }

  /**
   * A round's look at the peer's head (`Peer.latest()`) only while no other request of the peer for
   * headers is in flight, and the peer held meanwhile as the pool's own head refresh holds it. The
   * client matches a reply to its request by message code alone: a second GetBlockHeaders sent while one
   * waits loses its reply and times out, and a round and the pool's refresh often came together (a 6 s
   * stall of the block pipeline at the start of a snap sync). A busy peer ends the round; the next
   * comes after the poll interval.
   */
  override async syncWithPeer(peer?: Peer): Promise<boolean> {
    if (peer === undefined || !peer.idle) return false
    peer.idle = false
    try {
      return await super.syncWithPeer(peer)
    } finally {
      peer.idle = true
    }
  }

  /** Execution follows new blocks only once it has a state to run on */
  override async runExecution(): Promise<void> {
    if (this.phases.handedOff) return super.runExecution()
  }

  /** `eth_syncing` fields beside the standard ones */
  syncingStatus(): { [field: string]: string } {
    return this.phases.syncingStatus()
  }

  /** The progress snapshot (for tests and tools) */
  status(): SnapSyncStatus {
    return this.phases.status()
  }
}
