/**
 * `Peer.latest()` (the client's peer head refresh, which its beacon sync picks peers by): after a hit
 * it asks for a block number guessed from the wall clock; a peer that lacks that block must keep the
 * head it is known to have. The stock client forgot it, so on a chain with old timestamps (go-ethereum's
 * ethtest chain) every other refresh made the peer headless and the beacon sync found no peer.
 */
import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'

import type { BlockHeader } from '@ethereumjs/block'

class TestPeer extends Peer {
  async connect(): Promise<void> {}
}

describe('[Peer.latest] a guessed head the peer does not have', () => {
  it('keeps the best header known, and still finds a newer one', async () => {
    const common = new Common({ chain: Mainnet, hardfork: Hardfork.Paris })
    // Timestamp 6000 s: the guess from the wall clock is ~150M blocks ahead
    const head = (n: bigint): BlockHeader =>
      createBlockHeader({ number: n, timestamp: 10n * n, gasLimit: 30_000_000n }, { common })
    let chainHead = 600n
    const asked: (bigint | string)[] = []
    const peer = new TestPeer({ config: new Config({ common }), id: 'p', address: '127.0.0.1:1', transport: 'rlpx' })
    const status = { bestHash: head(600n).hash() }
    ;(peer as unknown as { eth: object }).eth = {
      status,
      updatedBestHeader: undefined,
      async getBlockHeaders({ block }: { block: bigint | Uint8Array }) {
        asked.push(typeof block === 'bigint' ? block : 'hash')
        if (typeof block !== 'bigint') return [0n, [head(600n)]]
        return [0n, block <= chainHead ? [head(block)] : []]
      },
    }
    assert.equal((await peer.latest())?.number, 600n)
    // The second look guesses far ahead: the peer has no such block
    assert.equal((await peer.latest())?.number, 600n)
    assert.equal(asked[0], 'hash')
    assert.ok(typeof asked[1] === 'bigint' && asked[1] > 1_000_000n, `${asked[1]}`)
    // Still known after any number of misses
    assert.equal((await peer.latest())?.number, 600n)
    chainHead = 10n ** 12n
    assert.ok(((await peer.latest())?.number ?? 0n) > 600n, 'a guess the peer has is taken')
  })
})
