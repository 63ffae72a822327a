/** A snap-mode service of the client on memory databases, as the client builds it, for synchronizer tests */
import { strict as assert } from 'node:assert'

import { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import { Config, SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'
import { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'
import { MemoryLevel } from 'memory-level'

import type { Common } from '@ethereumjs/common'

import { SnapPlugin } from '../../src/client/plugin.js'
import { SnapSynchronizer } from '../../src/sync/synchronizer/synchronizer.js'

/** `common`: the chain (mainnet by default) */
export async function snapService(common?: Common): Promise<{ config: Config; chain: Chain; sync: SnapSynchronizer }> {
  const config = new Config({
    common,
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
  return { config, chain, sync: service.synchronizer }
}
