/**
 * The client's `BoundProtocol` matches a reply to the request waiting for its message code, whatever the
 * request id. The pivot finder (src/sync/synchronizer/headerrequests.ts) sends GetBlockHeaders on the raw sender with
 * ids from 2^62: such a reply must not resolve the client's own request (its block fetcher's or
 * `Peer.latest()`'s), which would then build blocks from the wrong headers; the patch leaves it to the
 * raw listener. The client's own ids (a counter from 0) are matched as before.
 */
import { strict as assert } from 'node:assert'
import { EventEmitter } from 'node:events'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { BoundProtocol } from '@ethereumjs/client/dist/esm/src/net/protocol/boundprotocol.js'
import { EthProtocol } from '@ethereumjs/client/dist/esm/src/net/protocol/ethprotocol.js'
import { bigIntToUnpaddedBytes } from '@ethereumjs/util'

import type { BlockHeader } from '@ethereumjs/block'

const BLOCK_HEADERS = 0x04

class FakeSender extends EventEmitter {
  sent: { code: number; data: unknown }[] = []
  sendMessage(code: number, data: unknown): void {
    this.sent.push({ code, data })
  }
  reply(reqId: bigint, headers: BlockHeader[]): void {
    this.emit('message', { code: BLOCK_HEADERS, payload: [bigIntToUnpaddedBytes(reqId), headers.map((h) => h.raw())] })
  }
}

describe('[BoundProtocol] replies to requests sent on the raw sender', () => {
  it(
    'a reply with a request id from 2^62 does not resolve the request waiting for that code; ' + 'its own reply does',
    async () => {
      const common = new Common({ chain: Mainnet, hardfork: Hardfork.Paris })
      const config = new Config({ common, accountCache: 10000, storageCache: 1000 })
      const protocol = new EthProtocol({ config, chain: { config } as never, timeout: 2_000 })
      const sender = new FakeSender()
      const bound = new BoundProtocol({ config, protocol, peer: { pooled: true } as never, sender: sender as never })
      // Decoded with the hardfork of their number: mainnet's first blocks are pre-London
      const header = (n: bigint) =>
        createBlockHeader(
          { number: n, gasLimit: 5_000n },
          { common: new Common({ chain: Mainnet, hardfork: Hardfork.Chainstart }) },
        )
      const emitted: unknown[] = []
      config.events.on('protocol:message' as never, (m: unknown) => emitted.push(m))

      const pending = (
        bound as unknown as { request(name: string, args: object): Promise<[bigint, BlockHeader[]]> }
      ).request('GetBlockHeaders', {
        reqId: 7n,
        block: 100n,
        max: 1,
        skip: 0,
        reverse: false,
      })
      await new Promise((r) => setImmediate(r))
      sender.reply((1n << 62n) + 5n, [header(555n)])
      sender.reply(7n, [header(100n)])
      const [reqId, headers] = await pending
      assert.equal(reqId, 7n)
      assert.deepEqual(
        headers.map((h) => h.number),
        [100n],
      )
      // The foreign reply went on as a message (the raw listener has it too), not to the waiting request
      assert.equal(emitted.length, 1)
    },
  )
})
