import { strict as assert } from 'node:assert'

import { SnapPlugin } from '../../src/client/plugin.js'

import type { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'

const service = {
  config: { logger: undefined, useStringValueTrieDB: false },
  chain: {},
  execution: {},
} as unknown as FullEthereumService

describe('[SnapPlugin serving]', () => {
  it('creates the snap server handler by default', () => {
    const handlers = new SnapPlugin().createProtocolHandlers(service)
    assert.deepEqual(
      handlers.map((h) => h.protocol),
      ['snap'],
    )
  })

  it('creates no handler with --snapServe=false', () => {
    const plugin = new SnapPlugin()
    plugin.init({ snapServe: false })
    assert.deepEqual(plugin.createProtocolHandlers(service), [])
  })

  it('answers with empty replies when the client has no state DB, without throwing', async () => {
    const [handler] = new SnapPlugin().createProtocolHandlers({
      ...service,
      chain: { headers: { latest: null } },
    } as unknown as FullEthereumService)
    const sent: unknown[] = []
    const peer = { id: 'p', snap: { send: (_: string, args: unknown) => sent.push(args) } }
    const h32 = new Uint8Array(32)
    await handler.handle(
      { name: 'GetAccountRange', data: { reqId: 1n, root: h32, origin: h32, limit: h32, bytes: 10n } },
      peer as never,
    )
    await handler.handle(
      { name: 'GetByteCodes', data: { reqId: 2n, hashes: [new Uint8Array(32).fill(1)], bytes: 10n } },
      peer as never,
    )
    assert.deepEqual(sent, [
      { reqId: 1n, accounts: [], proof: [] },
      { reqId: 2n, codes: [] },
    ])
  })
})
