/**
 * Where `FullSynchronizer.syncWithPeer` starts a new block fetcher (client patch). The stock client
 * stepped back `safeReorgDistance` (100) blocks below its head for every new fetcher, in case the last
 * one ended on a reorg; a node following a chain by polling (eth/69 peers announce no blocks) made a new
 * fetcher for each new head and re-fetched and re-imported 100 blocks each time (seen: every 4 s on every
 * node of the eth/69 integration test). It now steps back only after a failed fetch, or on the first one;
 * a fork below the head still steps back on import (`processStoreError`).
 */
import { strict as assert } from 'node:assert'

import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { FullSynchronizer } from '@ethereumjs/client/dist/esm/src/sync/fullsync.js'

interface FakeSync {
  fetcher: { first: bigint; count: bigint } | null
  fetchedCleanly?: boolean
}

async function startAfter(fetchedCleanly: boolean | undefined, height: bigint, peerHead: bigint): Promise<FakeSync> {
  const config = new Config({ common: new Common({ chain: Mainnet, hardfork: Hardfork.London }) })
  const self = { config, pool: {}, chain: { blocks: { height } }, interval: 1000, fetcher: null, fetchedCleanly }
  const peer = { latest: async () => ({ number: peerHead, hash: () => new Uint8Array(32) }) }
  assert.equal(await FullSynchronizer.prototype.syncWithPeer.call(self as never, peer as never), true)
  return self as unknown as FakeSync
}

describe('[FullSynchronizer] where a new block fetcher starts', () => {
  it('after a clean fetch: at the head, fetching only what is new', async () => {
    const s = await startAfter(true, 500n, 510n)
    assert.deepEqual([s.fetcher?.first, s.fetcher?.count], [500n, 11n])
  })

  it('after a failed fetch, and on the first: 99 blocks below the head (the stock step back)', async () => {
    for (const last of [false, undefined]) {
      const s = await startAfter(last, 500n, 510n)
      assert.deepEqual([s.fetcher?.first, s.fetcher?.count], [401n, 110n], `last fetch ${last}`)
    }
    const young = await startAfter(false, 50n, 60n)
    assert.equal(young.fetcher?.first, 1n, 'not below block 1')
  })
})
