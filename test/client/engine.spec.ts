/**
 * The engine API of a `--sync=snap` node on a post-merge chain (go-ethereum's ethtest chain), in
 * process: the client's own Engine module over a service with the snap plugin. While the node has
 * no state it answers SYNCING, never an error or INVALID; the consensus layer's calls reach the beacon
 * skeleton the snap synchronizer takes its pivot from; the client does not replace the plugin's
 * synchronizer by its own beacon sync; execution and the synchronized flag stay held.
 */
import { strict as assert } from 'node:assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import { Config, SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'
import { Engine } from '@ethereumjs/client/dist/esm/src/rpc/modules/engine/engine.js'
import { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'
import { createCommonFromGethGenesis, parseGethGenesisState } from '@ethereumjs/common'
import { MemoryLevel } from 'memory-level'

import { SnapPlugin } from '../../src/client/plugin.js'
import { ForkchoicePivotSource } from '../../src/sync/pivot/forkchoicepivot.js'
import { SnapBeaconSynchronizer } from '../../src/sync/synchronizer/beaconsynchronizer.js'
import { ETHTEST_DIR } from '../trie/ethtest.js'

import type { EthereumClient } from '@ethereumjs/client/dist/esm/src/client.js'
import type { GethGenesis } from '@ethereumjs/common'

interface EngineCall {
  method: string
  params: unknown[]
}
type PayloadStatus = { status: string; latestValidHash: string | null; validationError: string | null }

const read = <T>(file: string) => JSON.parse(readFileSync(join(ETHTEST_DIR, file), 'utf8')) as T

describe('[engine API] a --sync=snap node before it has a state (ethtest chain, in process)', function () {
  this.timeout(60_000)
  const genesis = read<GethGenesis>('genesis.json')
  const payloads = read<EngineCall[]>('newpayload.json')
  const fcu = read<EngineCall>('headfcu.json')
  let service: FullEthereumService
  let engine: Engine
  // The engine methods are wrapped by the client's validators: called by their RPC names
  const call = async <T>(c: EngineCall) =>
    (engine as unknown as { [m: string]: (p: unknown[]) => Promise<T> })[c.method.slice('engine_'.length)](c.params)

  before(async () => {
    const common = createCommonFromGethGenesis(genesis, { chain: 'ethtest' })
    const config = new Config({
      common,
      syncmode: SyncMode.Snap,
      plugins: [new SnapPlugin()],
      accountCache: 1000,
      storageCache: 1000,
    })
    const chain = await Chain.create({ config, genesisState: parseGethGenesisState(genesis) })
    const db = () =>
      new MemoryLevel<string | Uint8Array, string | Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' })
    // A short sync interval: stopping the beacon sync waits one
    service = new FullEthereumService({ config, chain, stateDB: db(), metaDB: db(), interval: 200 } as never)
    await service.open()
    engine = new Engine({ service } as unknown as EthereumClient, false)
  })

  after(async () => {
    ;(engine as unknown as { connectionManager: { stop(): void } }).connectionManager.stop()
    // As the service's own stop does: the beacon sync's loops end once the synchronizer is closed
    await service.synchronizer?.stop()
    await service.synchronizer?.close()
    await service.close()
  })

  it('post-merge, the plugin gives the beacon variant of its synchronizer, which holds execution', () => {
    assert.ok(service.synchronizer instanceof SnapBeaconSynchronizer)
    assert.equal(service.synchronizer.type, 'snap')
    assert.equal(service.synchronizer.holdsExecution, true)
  })

  it(
    'newPayload of the head block, its parent unknown: ' + 'SYNCING (not ACCEPTED: its ancestors are not known)',
    async () => {
      assert.deepEqual(await call<PayloadStatus>(payloads[600]), {
        status: 'SYNCING',
        latestValidHash: null,
        validationError: null,
      })
    },
  )

  it(
    'forkchoiceUpdated to block 600: SYNCING; ' + 'the synchronizer stays the snap one; the skeleton holds the head',
    async () => {
      const answer = await call<{ payloadStatus: PayloadStatus; payloadId: string | null }>(fcu)
      assert.deepEqual(answer.payloadStatus, { status: 'SYNCING', latestValidHash: null, validationError: null })
      assert.ok(
        service.synchronizer instanceof SnapBeaconSynchronizer,
        'the client did not switch to its own beacon sync',
      )
      assert.equal(service.skeleton?.bounds()?.head, 600n)
      // Again, as each slot: still SYNCING, the same synchronizer
      assert.equal((await call<PayloadStatus>(payloads[600])).status, 'SYNCING')
      assert.equal((await call<{ payloadStatus: PayloadStatus }>(fcu)).payloadStatus.status, 'SYNCING')
      assert.ok(service.synchronizer instanceof SnapBeaconSynchronizer)
    },
  )

  it(
    'the pivot comes from that head once the blocks below it are fetched back; ' + 'nothing executed, not synchronized',
    async () => {
      const source = new ForkchoicePivotSource(service.skeleton!, 64)
      const found = await source.lookup()
      assert.ok(
        'waiting' in found && /consensus layer's head 600 \(at 600\) to the pivot 536/.test(found.waiting),
        JSON.stringify(found),
      )
      assert.equal(service.execution.chainStatus?.height ?? 0n, 0n)
      assert.equal(service.config.synchronized, false)
      assert.equal(service.config.syncTargetHeight, 600n)
    },
  )
})
