/**
 * The inherited block pipeline during a snap sync: it polls every second until the handoff (the
 * service's 8 s stalled the blocks up to the pivot), and a round asks a peer for its head only while
 * no other header request of that peer is in flight (the client matches replies by message code).
 */
import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import sinon from 'sinon'

import { CATCH_UP_POLL_MS } from '../../src/sync/synchronizer.js'
import { snapService } from '../helpers/snapservice.js'

import type { SnapSynchronizer } from '../../src/sync/synchronizer.js'
import type { BlockHeader } from '@ethereumjs/block'
import type { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'

/** The service's block pipeline interval (FullEthereumService's default), the poll once handed over */
const SERVICE_INTERVAL_MS = 8_000

const intervalOf = (sync: SnapSynchronizer): number => (sync as unknown as { interval: number }).interval
const phasesOf = (sync: SnapSynchronizer): object => (sync as unknown as { phases: object }).phases

describe('[SnapSynchronizer] the block pipeline', () => {
  afterEach(() => sinon.restore())

  it('polls every second until the handoff', async () => {
    const { chain, sync } = await snapService()
    await sync.open()
    assert.equal(intervalOf(sync), CATCH_UP_POLL_MS)
    await chain.close()
  })

  it("polls at the service's interval on a node that handed over before (a restart)", async () => {
    const { chain, sync } = await snapService()
    sinon.stub(phasesOf(sync) as { handedOff: boolean }, 'handedOff').get(() => true)
    await sync.open()
    assert.equal(intervalOf(sync), SERVICE_INTERVAL_MS)
    await chain.close()
  })

  it('asks an idle peer for its head and holds the peer meanwhile; a busy peer ends the round unasked', async () => {
    const { chain, sync } = await snapService()
    await sync.open()
    const head = createBlockHeader({ number: 10n, gasLimit: 5000n }, { common: chain.config.chainCommon })
    const idleWhenAsked: boolean[] = []
    const peer = {
      id: 'peer-1',
      idle: true,
      async latest(): Promise<BlockHeader> {
        idleWhenAsked.push(peer.idle)
        return head
      },
    }
    try {
      assert.equal(await sync.syncWithPeer(peer as unknown as Peer), true)
      assert.deepEqual(idleWhenAsked, [false], 'held while its head was asked')
      assert.equal(peer.idle, true, 'free again afterwards')

      // Its head refresh (the pool's) or a fetcher job is in flight
      peer.idle = false
      assert.equal(await sync.syncWithPeer(peer as unknown as Peer), false)
      assert.equal(idleWhenAsked.length, 1, 'not asked while busy')
      assert.equal(peer.idle, false, 'left to the request that holds it')
    } finally {
      sync.clearFetcher()
      await chain.close()
    }
  })
})
