/** A snap-mode service of the client on memory databases, as the client builds it, for synchronizer tests */
import { strict as assert } from 'node:assert'

import { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import { Config, SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'
import { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'
import { MemoryLevel } from 'memory-level'

import type { VMExecution } from '@ethereumjs/client/dist/esm/src/execution/vmexecution.js'
import type { Logger } from '@ethereumjs/client/dist/esm/src/logging.js'
import type { PeerPool } from '@ethereumjs/client/dist/esm/src/net/peerpool.js'
import type { Common } from '@ethereumjs/common'

import { SnapPlugin } from '../../src/client/plugin.js'
import { SnapSynchronizer } from '../../src/sync/synchronizer/synchronizer.js'

/** `common`: the chain (mainnet by default); `logger`: the client's logger (none by default) */
export async function snapService(
  common?: Common,
  logger?: Logger,
): Promise<{ config: Config; chain: Chain; sync: SnapSynchronizer; execution: VMExecution; pool: PeerPool }> {
  const config = new Config({
    common,
    logger,
    syncmode: SyncMode.Snap,
    plugins: [new SnapPlugin()],
    accountCache: 1000,
    storageCache: 1000,
  })
  const chain = await Chain.create({ config })
  const [stateDB, metaDB] = [
    new MemoryLevel<string | Uint8Array, string | Uint8Array>(),
    new MemoryLevel<string | Uint8Array, string | Uint8Array>(),
  ]
  const service = new FullEthereumService({ config, chain, stateDB, metaDB })
  assert.ok(service.synchronizer instanceof SnapSynchronizer)
  return { config, chain, sync: service.synchronizer, execution: service.execution, pool: service.pool }
}

/** A line the client's logger was given */
export interface LoggedLine {
  readonly level: 'error' | 'warn' | 'info' | 'debug'
  readonly message: string
}

/**
 * A logger that records what it is given (the winston methods the client and the sync call);
 * `when(pattern)` resolves with the first line, at any level, that matches
 */
export function recordingLogger(): { logger: Logger; lines: LoggedLine[]; when(pattern: RegExp): Promise<LoggedLine> } {
  const lines: LoggedLine[] = []
  const waits: { pattern: RegExp; resolve(line: LoggedLine): void }[] = []
  const at = (level: LoggedLine['level']) => (message: unknown) => {
    const line = { level, message: String(message) }
    lines.push(line)
    for (const w of waits.filter((x) => x.pattern.test(line.message))) {
      waits.splice(waits.indexOf(w), 1)
      w.resolve(line)
    }
    return logger
  }
  const logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger
  const when = (pattern: RegExp) => {
    const found = lines.find((l) => pattern.test(l.message))
    return found !== undefined
      ? Promise.resolve(found)
      : new Promise<LoggedLine>((resolve) => waits.push({ pattern, resolve }))
  }
  return { logger, lines, when }
}
