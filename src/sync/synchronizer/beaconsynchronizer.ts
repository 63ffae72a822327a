/**
 * `--sync=snap` after the merge: the client's beacon synchronizer with a state download in front.
 * The consensus layer names the head over the engine API; the client's engine module records it in
 * the beacon skeleton, and the inherited beacon sync fetches the blocks below it backwards, links
 * them by parent hash and, once they reach the local chain, fills the canonical chain. Phase 1
 * takes its pivot from that skeleton ({@link ForkchoicePivotSource}) and downloads the pivot's
 * state meanwhile; phase 2 executes from the pivot to the head, after which the engine API answers
 * `VALID` and the node follows each `newPayload` / `forkchoiceUpdated` as the stock client does.
 * Until then execution and the `synchronized` flag are held, so the engine API answers `SYNCING`.
 */
import { BeaconSynchronizer } from '@ethereumjs/client/dist/esm/src/sync/beaconsync.js'

import { ForkchoicePivotSource } from '../pivot/forkchoicepivot.js'
import { SnapPhases } from './phases.js'

import type { SnapSyncOptions, SyncRecorder } from './phases.js'
import type { SnapSyncStatus } from '../report/status.js'
import type { Block } from '@ethereumjs/block'
import type { VMExecution } from '@ethereumjs/client/dist/esm/src/execution/vmexecution.js'
import type { PluginSynchronizer, PluginSynchronizerOptions } from '@ethereumjs/client/dist/esm/src/plugin.js'

/** See the module comment */
export class SnapBeaconSynchronizer extends BeaconSynchronizer implements PluginSynchronizer {
  private readonly phases: SnapPhases
  private readonly executor: VMExecution
  // A reorg restarts the block fetch through stop() and start(); the state download goes on
  private restarting = false

  constructor(options: PluginSynchronizerOptions, snap: SnapSyncOptions, recorder?: SyncRecorder) {
    const skeleton = options.service.skeleton
    if (skeleton === undefined)
      throw new Error('--sync=snap after the merge needs the meta database (the beacon skeleton lives there)')
    const { config, pool, chain, execution, interval } = options
    super({ config, pool, chain, execution, interval, skeleton })
    this.executor = execution
    this.phases = new SnapPhases(
      { config, pool, chain, execution },
      snap,
      () => new ForkchoicePivotSource(skeleton, snap.pivotDistance),
      () => this.executeFromPivot(),
      recorder,
    )
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
    // First: the beacon open resumes a stored skeleton by calling start()
    await this.phases.open()
    await super.open()
  }

  override async start(): Promise<void> {
    this.phases.start()
    return super.start()
  }

  override async stop(): Promise<boolean> {
    if (!this.restarting) await this.phases.stop()
    return super.stop()
  }

  override async reorged(block: Block): Promise<void> {
    this.restarting = true
    try {
      await super.reorged(block)
    } finally {
      this.restarting = false
    }
  }

  /** Holds `config.synchronized` until the node executes from its own state */
  override onChainUpdated(): void {
    if (this.phases.handedOff) super.onChainUpdated()
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

  // After the merge the client's execution start does not run blocks (the engine API drives it):
  // the stored blocks from the pivot to the head are run here, then the engine API takes over
  private async executeFromPivot(): Promise<void> {
    await this.executor.run(true)
    super.onChainUpdated()
  }
}
