/**
 * A client process whose snap server lies, for the fault suite: the client `src/cli.ts` starts, with
 * the snap plugin, but the plugin's snap handler answers through a {@link LyingServer} that tells one
 * lie to every request. Test-only: it is never built into dist/, so the published CLI has no lying mode.
 *
 *     node --import tsx integration/harness/lyingnode.ts <client flags> --lie=KIND
 *
 * `--lie` (one of `LIES` in test/helpers/lies.ts) is read and taken off the command line here, before
 * the client's CLI parses the rest (it refuses flags it does not know). The harness starts a node this
 * way when the node's `lie` option is set (`node.ts`).
 */
import { registerPlugin } from '@ethereumjs/client/dist/esm/src/plugin.js'

import { SnapPlugin } from '../../src/client/plugin.js'
import { createSnapServer } from '../../src/server/client.js'
import { LIES } from '../../test/helpers/lies.js'
import { LyingServer } from '../../test/helpers/lyingserver.js'

import type { StateView } from '../../src/server/stateview.js'
import type { Lie } from '../../test/helpers/lies.js'
import type { ProtocolHandler } from '@ethereumjs/client/dist/esm/src/plugin.js'
import type { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'

const LIE_FLAG = '--lie='

/** The snap plugin whose snap server lies, registered through the plugin seam the real server uses */
class LyingSnapPlugin extends SnapPlugin {
  constructor(private readonly lie: Lie) {
    super()
  }

  override init(args: { [key: string]: unknown }): void {
    super.init(args)
    if (!this.options.serve) throw new Error('--lie needs the snap server, and --snapServe=false turns it off')
  }

  override createProtocolHandlers(service: FullEthereumService): ProtocolHandler[] {
    service.config.logger?.warn(`snap server: TEST MODE, every reply lies (--lie=${this.lie})`)
    // `otherRoot` answers from the genesis state: always in the DB, and a state of its own once any block changed it
    const log = service.config.logger
    const held = (ms: number) => log?.warn(`snap server: holding the first reply ${ms / 1000} s (--lie=${this.lie})`)
    const answerer = (view: StateView) =>
      new LyingServer(this.lie, view, () => service.chain.genesis.header.stateRoot, held)
    return [createSnapServer(service, { metrics: this.metrics, answerer })]
  }
}

/** Takes `--lie=KIND` off `argv`; throws unless it is given once, with a known lie */
function takeLie(argv: string[]): Lie {
  const at = argv.findIndex((a) => a.startsWith(LIE_FLAG))
  const value = at < 0 ? undefined : argv[at].slice(LIE_FLAG.length)
  if (value === undefined || !(LIES as readonly string[]).includes(value)) {
    throw new Error(`${LIE_FLAG}KIND must be given, KIND one of ${LIES.join(', ')}; got ${value ?? 'none'}`)
  }
  argv.splice(at, 1)
  if (argv.some((a) => a === '--lie' || a.startsWith(LIE_FLAG))) throw new Error('--lie was given more than once')
  return value as Lie
}

let lie: Lie | undefined
try {
  lie = takeLie(process.argv)
} catch (err) {
  console.error((err as Error).message)
  process.exitCode = 1
}
if (lie !== undefined) {
  registerPlugin(new LyingSnapPlugin(lie))
  // The client's CLI parses process.argv and starts the client when imported (as in src/cli.ts)
  await import('@ethereumjs/client/dist/esm/bin/cli.js')
}
