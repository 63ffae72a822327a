/**
 * The inherited block pipeline during a snap sync: it polls every second until the handoff (the
 * service's 8 s stalled the blocks up to the pivot), and a round asks a peer for its head only while
 * no other header request of that peer is in flight (the client matches replies by message code).
 */
import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import sinon from 'sinon'

import { CATCH_UP_POLL_MS } from '../../../src/sync/synchronizer/synchronizer.js'
import { blocksOn, powCommon } from '../../helpers/powchain.js'
import { recordingLogger, snapService } from '../../helpers/snapservice.js'

import type { SnapSynchronizer } from '../../../src/sync/synchronizer/synchronizer.js'
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

  it(
    'syncs from a peer whose head is above ours though its handshake td is below ours ' +
      '(a follower sent block hashes only)',
    async () => {
      const { chain, sync } = await snapService(powCommon())
      await chain.open()
      await chain.putBlocks(blocksOn(chain.genesis, 3))
      const ourTd = chain.blocks.td
      const peerWith = (id: string, td: bigint, head: bigint) =>
        ({
          id,
          eth: {
            status: { td },
            updatedBestHeader: createBlockHeader({ number: head }, { common: chain.config.chainCommon }),
          },
        }) as unknown as Peer
      const pool = (sync as unknown as { pool: { add(p: Peer): void; remove(p: Peer): void } }).pool
      try {
        // Its td as of the handshake, when it was at block 2; its head as the pool's refresh last saw it
        const behind = peerWith('stale-td', ourTd - 1n, 5n)
        pool.add(behind)
        assert.equal(await sync.best(), behind, 'its head is above ours')

        pool.remove(behind)
        const level = peerWith('at-our-head', ourTd - 1n, 3n)
        pool.add(level)
        assert.equal(await sync.best(), undefined, 'nothing to fetch from a peer at our head')

        const heavier = peerWith('heavier', ourTd + 1n, 3n)
        pool.add(heavier)
        assert.equal(await sync.best(), heavier, 'the stock choice by td comes first')
      } finally {
        await chain.close()
      }
    },
  )

  it('an announced block kept ahead that does not import is a warning, naming why', async () => {
    const { logger, when } = recordingLogger()
    const { chain, sync } = await snapService(powCommon(), logger)
    await chain.open()
    // Block 3, announced ahead and kept, has a gas limit its parent does not allow; it is imported
    // (and fails) once blocks 1 and 2 are
    const good = blocksOn(chain.genesis, 2)
    const [bad] = blocksOn(good[1], 1, { gasLimit: chain.genesis.header.gasLimit * 2n })
    const peer = { id: 'peer-1' } as unknown as Peer
    try {
      for (const block of [bad, ...good]) await sync.handleNewBlock(block, peer)
      const failed = await when(/an announced block did not import: gas limit increased too much/)
      assert.equal(failed.level, 'warn', failed.message)
      assert.equal(chain.blocks.height, 2n, 'block 3 not imported')
    } finally {
      await chain.close()
    }
  })
})
