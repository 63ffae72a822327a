/**
 * The snap plugin: what the client sees of this package through the patch's plugin seam.
 * Glue only; the sync and serving logic lives in `sync/` and `server/`.
 */
import { Hardfork } from '@ethereumjs/common'
import { SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'

import { openBackendDB } from '../db/backend.js'
import { createSnapServer } from '../server/client.js'
import { SnapBeaconSynchronizer } from '../sync/synchronizer/beaconsynchronizer.js'
import { SnapSynchronizer } from '../sync/synchronizer/synchronizer.js'

import { SnapMetrics } from './metrics.js'
import { DEFAULT_SNAP_OPTIONS, parseSnapOptions, snapCliOptions } from './options.js'

import type { BackendLevel } from '../db/backend.js'
import type { SnapOptions } from './options.js'
import type {
  ClientPlugin,
  PluginSynchronizer,
  PluginSynchronizerOptions,
  ProtocolHandler,
} from '@ethereumjs/client/dist/esm/src/plugin.js'
import type { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'
import type { Registry } from 'prom-client'
import type { Options } from 'yargs'

/** Why `--snap` is refused: it selects the client's built-in snap sync, not this plugin's */
export const SNAP_FLAG_ERROR =
  "--snap is the client's built-in experimental snap sync (post-merge only, does not serve); use --sync=snap"

/**
 * The plugin registered with the client: the `snap` sync mode, the plugin's options, the snap/1
 * server as a protocol handler, the plugin's Prometheus metrics, and the `--db` storage backend.
 */
export class SnapPlugin implements ClientPlugin {
  readonly name = 'snap'
  readonly syncModes: string[] = [SyncMode.Snap]
  readonly cliOptions: { [name: string]: Options } = snapCliOptions
  /** Counted always, exposed under `--prometheus` */
  readonly metrics = new SnapMetrics()
  private _options: SnapOptions

  constructor(options: SnapOptions = DEFAULT_SNAP_OPTIONS) {
    this._options = options
  }

  get options(): SnapOptions {
    return this._options
  }

  /** Reads the plugin's flags; throws on a bad value, and on the client's own `--snap` */
  init(args: { [key: string]: unknown }): void {
    if (args.snap === true) {
      // Two unrelated snap syncs behind similar flags: refuse rather than let the user guess which one runs
      throw new Error(SNAP_FLAG_ERROR)
    }
    this._options = parseSnapOptions(args)
  }

  registerMetrics(registry: Registry): void {
    this.metrics.registerOn(registry)
  }

  /**
   * The snap synchronizer, with the options read by `init`: after the merge it follows the consensus
   * layer (the client's beacon sync), before it the peers (the client's full sync); the same test
   * the client makes for its own full sync mode
   */
  createSynchronizer(_syncmode: string, options: PluginSynchronizerOptions): PluginSynchronizer {
    if (options.config.chainCommon.gteHardfork(Hardfork.Paris))
      return new SnapBeaconSynchronizer(options, this._options, this.metrics)
    return new SnapSynchronizer(options, this._options, this.metrics)
  }

  /**
   * The client's chain, state and meta DBs with the `--db` backend, in any sync mode; throws (the client
   * exits 1) when the directory was made by the other backend, before anything is written to it
   */
  openDB(dir: string, _name: 'chain' | 'state' | 'meta'): BackendLevel<string | Uint8Array, string | Uint8Array> {
    return openBackendDB<string | Uint8Array, string | Uint8Array>(dir, this._options.db)
  }

  /** The snap/1 server, unless `--snapServe=false` */
  createProtocolHandlers(service: FullEthereumService): ProtocolHandler[] {
    return this._options.serve ? [createSnapServer(service, { metrics: this.metrics })] : []
  }
}
