#!/usr/bin/env node
/**
 * `ethereumjs-snap`: the EthereumJS client CLI with the snap plugin registered.
 * Every client flag works as in `ethereumjs`; `--sync=snap` selects snap sync.
 */
import { registerPlugin } from '@ethereumjs/client/dist/esm/src/plugin.js'

import { SnapPlugin } from './client/plugin.js'

if (process.argv[2] === 'verify-state') {
  // Our own subcommand: handled before the client's CLI sees (and rejects) the arguments
  const { verifyStateCommand } = await import('./client/verifystate.js')
  process.exitCode = await verifyStateCommand(process.argv.slice(3))
} else {
  registerPlugin(new SnapPlugin())
  // The client's CLI parses process.argv and starts the client when imported
  await import('@ethereumjs/client/dist/esm/bin/cli.js')
}
