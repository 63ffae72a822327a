import { strict as assert } from 'node:assert'
import { EventEmitter } from 'node:events'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { bigIntToUnpaddedBytes, bytesToBigInt } from '@ethereumjs/util'

import { EthHeaderRequester } from '../../../src/sync/synchronizer/headerrequests.js'

import type { RawEthSender } from '../../../src/sync/synchronizer/headerrequests.js'
import type { BlockHeader } from '@ethereumjs/block'

// Mainnet's first blocks: the requester decodes as the client does, with the hardfork set by number
const common = new Common({ chain: Mainnet, hardfork: Hardfork.Chainstart })
const headers: BlockHeader[] = []
for (let n = 0; n < 20; n++) {
  const parentHash = n === 0 ? new Uint8Array(32) : headers[n - 1].hash()
  headers.push(
    createBlockHeader({ number: BigInt(n), parentHash, gasLimit: 30_000_000n, timestamp: BigInt(n * 12) }, { common }),
  )
}

/** A peer's eth sender whose requests wait until the test answers them, in any order */
class HeldSender extends EventEmitter implements RawEthSender {
  readonly asked: { reqId: Uint8Array; block: bigint; max: number }[] = []

  sendMessage(code: number, payload: unknown): void {
    assert.equal(code, 0x03)
    const [reqId, [block, max]] = payload as [Uint8Array, Uint8Array[]]
    this.asked.push({ reqId, block: bytesToBigInt(block), max: Number(bytesToBigInt(max)) })
  }

  answer(i: number): void {
    const { reqId, block, max } = this.asked[i]
    this.emit('message', {
      code: 0x04,
      payload: [reqId, headers.slice(Number(block), Number(block) + max).map((h) => h.raw())],
    })
  }
}

describe('[EthHeaderRequester]', () => {
  // Seen with real processes: an EthereumJS peer answers a request past its head at once and others
  // after a chain read, and the client's per-message-code resolver gave each request the other's reply
  it('replies that overtake each other still reach their own request', async () => {
    const sender = new HeldSender()
    const requester = new EthHeaderRequester(sender, common, 1_000)
    const first = requester.headers(3n, 4)
    const second = requester.headers(10n, 2)
    sender.answer(1)
    sender.answer(0)
    assert.deepEqual(
      (await first).map((h) => h.number),
      [3n, 4n, 5n, 6n],
    )
    assert.deepEqual(
      (await second).map((h) => h.number),
      [10n, 11n],
    )
  })

  it("replies to requests it did not send (the client's own) are left alone; no reply: a timeout", async () => {
    const sender = new HeldSender()
    const requester = new EthHeaderRequester(sender, common, 100)
    const mine = requester.headers(headers[5].hash(), 1)
    sender.emit('message', { code: 0x04, payload: [bigIntToUnpaddedBytes(7n), [headers[0].raw()]] })
    await assert.rejects(mine, /no BlockHeaders/)
  })

  it('a closed requester (its peer left) fails what is in flight at once, and what is asked later', async () => {
    const sender = new HeldSender()
    const requester = new EthHeaderRequester(sender, common, 60_000)
    const pending = requester.headers(3n, 2)
    requester.close('peer disconnected')
    await assert.rejects(pending, /peer disconnected/)
    await assert.rejects(requester.headers(3n, 2), /peer disconnected/)
    // A late reply to the failed request changes nothing
    sender.answer(0)
  })
})
