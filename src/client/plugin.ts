/**
 * The snap plugin: what the client sees of this package through the patch's plugin seam.
 * Glue only; the sync and serving logic lives in `sync/` and `server/`.
 */
import { SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'

import { createSnapServer } from '../server/client.js'

import { SnapMetrics } from './metrics.js'
import { DEFAULT_SNAP_OPTIONS, parseSnapOptions, snapCliOptions } from './options.js'

import type { SnapOptions } from './options.js'
import type {
  ClientPlugin,
  PluginSynchronizer,
  ProtocolHandler,
} from '@ethereumjs/client/dist/esm/src/plugin.js'
import type { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'
import type { Registry } from 'prom-client'
import type { Options } from 'yargs'

/**
 * The plugin registered with the client: the `snap` sync mode, the `--snapServe` option, the
 * snap/1 server as a protocol handler, and the plugin's Prometheus metrics.
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

  init(args: { [key: string]: unknown }): void {
    this._options = parseSnapOptions(args)
  }

  registerMetrics(registry: Registry): void {
    this.metrics.registerOn(registry)
  }

  createSynchronizer(syncmode: string): PluginSynchronizer {
    // Refuse loudly: the client must never fall back to another sync mode behind the user's back
    throw new Error(`--sync=${syncmode}: the snap synchronizer is not implemented yet`)
  }

  /** The snap/1 server, unless `--snapServe=false` */
  createProtocolHandlers(service: FullEthereumService): ProtocolHandler[] {
    return this._options.serve ? [createSnapServer(service, { metrics: this.metrics })] : []
  }
}
