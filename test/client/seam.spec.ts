/**
 * The patch's seams in the client: a plugin supplies the synchronizer of its sync mode and receives
 * the protocol messages that FullEthereumService does not answer itself; a state synchronizer can hold
 * execution and the synchronized flag, and add to `eth_syncing`; NewBlock keeps a peer's td current.
 */
import { strict as assert } from 'node:assert'

import { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import { Config, SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'
import { Eth } from '@ethereumjs/client/dist/esm/src/rpc/modules/eth.js'
import { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'
import { FullSynchronizer } from '@ethereumjs/client/dist/esm/src/sync/fullsync.js'
import { Synchronizer } from '@ethereumjs/client/dist/esm/src/sync/sync.js'
import { Event } from '@ethereumjs/client/dist/esm/src/types.js'
import { bigIntToUnpaddedBytes } from '@ethereumjs/util'
import sinon from 'sinon'

import type {
  ClientPlugin,
  PluginSynchronizer,
  PluginSynchronizerOptions,
  ProtocolHandler,
} from '@ethereumjs/client/dist/esm/src/plugin.js'
import type { EthereumClient } from '@ethereumjs/client/dist/esm/src/client.js'
import type { Logger } from '@ethereumjs/client/dist/esm/src/logging.js'
import type { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'

class FakeSynchronizer extends Synchronizer implements PluginSynchronizer {
  readonly handleNewBlock = sinon.fake.resolves(undefined)
  async runExecution(): Promise<void> {}
  async syncWithPeer(): Promise<boolean> {
    return false
  }
  async best() {
    return undefined
  }
}

function fakePlugin(handler: ProtocolHandler) {
  let received: PluginSynchronizerOptions | undefined
  const plugin: ClientPlugin = {
    name: 'fake',
    syncModes: [SyncMode.Snap],
    createSynchronizer(_mode, options) {
      received = options
      return new FakeSynchronizer(options)
    },
    createProtocolHandlers: () => [handler],
  }
  return { plugin, options: () => received }
}

async function createService(syncmode: SyncMode, plugins: ClientPlugin[]) {
  const config = new Config({ syncmode, plugins, accountCache: 1000, storageCache: 1000 })
  const chain = await Chain.create({ config })
  return new FullEthereumService({ config, chain })
}

describe('[FullEthereumService plugin seam]', () => {
  const peer = { id: 'peer-1' } as unknown as Peer

  it('takes the synchronizer of a plugin sync mode and hands it the client parts', async () => {
    const handler: ProtocolHandler = { protocol: 'snap', handle: sinon.fake.resolves(undefined) }
    const { plugin, options } = fakePlugin(handler)
    const service = await createService(SyncMode.Snap, [plugin])
    assert.ok(service.synchronizer instanceof FakeSynchronizer)
    assert.equal(options()?.service, service)
    assert.equal(options()?.execution, service.execution)
    assert.equal(options()?.txPool, service.txPool)
  })

  it('refuses a plugin sync mode that no plugin provides', async () => {
    await assert.rejects(createService(SyncMode.Snap, []), /No synchronizer available for sync mode snap/)
  })

  it('keeps the stock synchronizer for --sync=full, with plugins present', async () => {
    const handler: ProtocolHandler = { protocol: 'snap', handle: sinon.fake.resolves(undefined) }
    const service = await createService(SyncMode.Full, [fakePlugin(handler).plugin])
    assert.ok(service.synchronizer instanceof FullSynchronizer)
  })

  it('routes unanswered protocol messages to the plugin handler of that protocol only', async () => {
    const snap = { protocol: 'snap', handle: sinon.fake.resolves(undefined) }
    const service = await createService(SyncMode.None, [fakePlugin(snap).plugin])
    const message = { name: 'GetAccountRange', data: { reqId: 1n } }
    await service.handle(message, 'snap', peer)
    await service.handle(message, 'other', peer)
    assert.equal(snap.handle.callCount, 1)
    assert.deepEqual(snap.handle.firstCall.args, [message, peer])
  })

  it('passes block announcements to a plugin synchronizer', async () => {
    const handler: ProtocolHandler = { protocol: 'snap', handle: sinon.fake.resolves(undefined) }
    const service = await createService(SyncMode.Snap, [fakePlugin(handler).plugin])
    const block = { header: { number: 1n } }
    await service.handleEth({ name: 'NewBlock', data: [block, 1n] }, peer)
    const sync = service.synchronizer as FakeSynchronizer
    assert.equal(sync.handleNewBlock.callCount, 1)
    assert.equal(sync.handleNewBlock.firstCall.args[0], block)
  })
})

/** A plugin synchronizer that keeps execution and the synchronized flag to itself, as snap sync does */
class HoldingSynchronizer extends FakeSynchronizer {
  readonly holdsExecution = true
  readonly chainUpdates = sinon.fake()
  override onChainUpdated(): void {
    this.chainUpdates()
  }
}

function holdingPlugin(): ClientPlugin {
  return {
    name: 'holding',
    syncModes: [SyncMode.Snap],
    createSynchronizer: (_mode, options) => new HoldingSynchronizer(options),
  }
}

/** Starts a service with the peer pool, the synchronizer loop and execution stubbed out */
async function startStubbed(service: FullEthereumService) {
  const base = sinon.stub(Object.getPrototypeOf(FullEthereumService.prototype), 'start').resolves(true)
  const execStart = sinon.stub(service.execution, 'start').resolves(true)
  try {
    await service.start()
  } finally {
    base.restore()
  }
  return execStart
}

describe('[FullEthereumService seams for a state synchronizer]', () => {
  afterEach(() => sinon.restore())

  it('does not start execution when the synchronizer holds it, and does for full sync', async () => {
    const held = await startStubbed(await createService(SyncMode.Snap, [holdingPlugin()]))
    assert.equal(held.callCount, 0)
    const stock = await startStubbed(await createService(SyncMode.Full, []))
    assert.equal(stock.callCount, 1)
  })

  it('routes CHAIN_UPDATED to an overridable onChainUpdated (stock: updateSynchronizedState)', async () => {
    const holding = await createService(SyncMode.Snap, [holdingPlugin()])
    const update = sinon.spy(holding.config, 'updateSynchronizedState')
    holding.config.events.emit(Event.CHAIN_UPDATED)
    assert.equal((holding.synchronizer as HoldingSynchronizer).chainUpdates.callCount, 1)
    assert.equal(update.callCount, 0, 'the override replaces the stock behaviour')

    const stock = await createService(SyncMode.Full, [])
    const stockUpdate = sinon.spy(stock.config, 'updateSynchronizedState')
    stock.config.events.emit(Event.CHAIN_UPDATED)
    assert.deepEqual(stockUpdate.firstCall.args, [stock.chain.headers.latest, true])
  })

  it('names the sync mode in the start-up log', async () => {
    const info = sinon.fake()
    const logger = { info, debug: sinon.fake(), warn: sinon.fake(), error: sinon.fake() } as unknown as Logger
    for (const [syncmode, plugins] of [
      [SyncMode.Snap, [holdingPlugin()]],
      [SyncMode.Full, []],
    ] as const) {
      const config = new Config({ syncmode, plugins: [...plugins], logger, accountCache: 1000, storageCache: 1000 })
      new FullEthereumService({ config, chain: await Chain.create({ config }) })
    }
    const lines = info.getCalls().map((c) => c.args[0])
    assert.ok(lines.includes('Snap sync mode'), lines.join('\n'))
    assert.ok(lines.includes('Full sync mode'), lines.join('\n'))
  })

  it('raises a peer td to the td a NewBlock announces, never lowers it', async () => {
    const service = await createService(SyncMode.Full, [])
    const announcer = { id: 'peer-2', eth: { status: { td: 10n } } } as unknown as Peer
    const block = { header: { number: 1n, parentHash: new Uint8Array(32) }, hash: () => new Uint8Array(32) }
    sinon.stub(service.synchronizer as FullSynchronizer, 'handleNewBlock').resolves()
    await service.handleEth({ name: 'NewBlock', data: [block, bigIntToUnpaddedBytes(12n)] }, announcer)
    assert.equal(announcer.eth!.status.td, 12n)
    await service.handleEth({ name: 'NewBlock', data: [block, bigIntToUnpaddedBytes(11n)] }, announcer)
    assert.equal(announcer.eth!.status.td, 12n)
  })
})

describe('[eth_syncing with a plugin synchronizer]', () => {
  function eth(synchronizer: object, syncTargetHeight?: bigint) {
    const chain = { headers: { latest: { number: 5n } } }
    const client = {
      config: { synchronized: false, syncTargetHeight },
      service: { chain, synchronizer, protocols: [{ name: 'eth', versions: [68] }] },
    }
    return new Eth(client as unknown as EthereumClient, false)
  }

  it('merges the fields of syncingStatus(), which win, without looking for a best peer', async () => {
    const best = sinon.fake.resolves(undefined)
    const status = { currentBlock: '0x3', highestBlock: '0x64', syncedAccounts: '0x10' }
    const result = await eth({ startingBlock: 1n, best, syncingStatus: () => status }).syncing()
    assert.deepEqual(result, {
      startingBlock: '0x1',
      currentBlock: '0x3',
      highestBlock: '0x64',
      syncedAccounts: '0x10',
    })
    assert.equal(best.callCount, 0)
  })

  it('answers as the stock client without syncingStatus()', async () => {
    const result = await eth({ startingBlock: 1n, best: sinon.fake() }, 7n).syncing()
    assert.deepEqual(result, { startingBlock: '0x1', currentBlock: '0x5', highestBlock: '0x7' })
  })
})
