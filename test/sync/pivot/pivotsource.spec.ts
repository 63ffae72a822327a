/** PeerPivotSource.reject: the peers that named a pivot the chain never reached are dropped, never all peers */
import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'

import { PivotFinder } from '../../../src/sync/pivot/pivot.js'
import { PeerPivotSource } from '../../../src/sync/pivot/pivotsource.js'

import type { HeaderPeer } from '../../../src/sync/pivot/pivot.js'
import type { PivotPeers } from '../../../src/sync/pivot/pivotsource.js'

const common = new Common({ chain: Mainnet, hardfork: Hardfork.London })
const header = createBlockHeader({ number: 38n, gasLimit: 30_000_000n }, { common })

/** Peers by id (their headers are not asked for here); drops recorded */
function peerSet(ids: string[]): PivotPeers & { dropped: string[] } {
  let connected: HeaderPeer[] = ids.map((id) => ({ id, announcedHead: header.hash(), headers: async () => [] }))
  const dropped: string[] = []
  return {
    dropped,
    headerPeers: () => connected,
    dropById: (id, reason, detail) => {
      dropped.push(`${id} ${reason} (${detail})`)
      connected = connected.filter((p) => p.id !== id)
    },
  }
}

describe('[PeerPivotSource] a pivot the chain never reached', () => {
  const finder = new PivotFinder({ minPeers: 1, distance: 2, validate: () => {} })
  const found = { header, head: header, supporters: ['liar', 'gone'], namedBy: '1 peers agree' }

  it('drops the connected peers that named it; the others stay', () => {
    const peers = peerSet(['honest', 'liar'])
    new PeerPivotSource(peers, finder, 1).reject(found, 'named pivot block 38, which the chain did not reach')
    assert.deepEqual(peers.dropped, ['liar bad_pivot (named pivot block 38, which the chain did not reach)'])
    assert.deepEqual(
      peers.headerPeers().map((p) => p.id),
      ['honest'],
    )
  })

  it('drops no one when every peer named it: the chain may be what stalled, and no peer would be left', () => {
    const peers = peerSet(['liar'])
    new PeerPivotSource(peers, finder, 1).reject(found, 'named pivot block 38, which the chain did not reach')
    assert.deepEqual(peers.dropped, [])
  })
})
