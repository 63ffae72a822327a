/**
 * The patch's seam in the client: a plugin supplies the synchronizer of its sync mode and receives
 * the protocol messages that FullEthereumService does not answer itself.
 */
import { strict as assert } from 'node:assert'

import { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import { Config, SyncMode } from '@ethereumjs/client/dist/esm/src/config.js'
import { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'
import { FullSynchronizer } from '@ethereumjs/client/dist/esm/src/sync/fullsync.js'
import { Synchronizer } from '@ethereumjs/client/dist/esm/src/sync/sync.js'
import sinon from 'sinon'

import type {
  ClientPlugin,
  PluginSynchronizer,
  PluginSynchronizerOptions,
  ProtocolHandler,
} from '@ethereumjs/client/dist/esm/src/plugin.js'
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
