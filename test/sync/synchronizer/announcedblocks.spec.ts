/**
 * Announced blocks ahead of the head: kept (bounded) and imported as soon as their parent is the head,
 * so that a node a few blocks behind a fast chain reaches the head and stays there.
 */
import { strict as assert } from 'node:assert'

import { createBlock } from '@ethereumjs/block'
import { Event } from '@ethereumjs/client/dist/esm/src/types.js'

import { AnnouncedBlocks, MAX_BLOCKS_AHEAD } from '../../../src/sync/synchronizer/announcedblocks.js'
import { snapService } from '../../helpers/snapservice.js'

import type { Block } from '@ethereumjs/block'
import type { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'

/** `count` blocks on `parent`, each valid for the chain (difficulty, timestamp, gas limit) */
function blocksOn(parent: Block, count: number, extraData = new Uint8Array()): Block[] {
  const blocks: Block[] = []
  let p = parent
  for (let i = 0; i < count; i++) {
    const header = {
      number: p.header.number + 1n,
      parentHash: p.hash(),
      timestamp: p.header.timestamp + 13n,
      gasLimit: p.header.gasLimit,
      extraData,
    }
    p = createBlock({ header }, { common: parent.common, calcDifficultyFromHeader: p.header, setHardfork: true })
    blocks.push(p)
  }
  return blocks
}

describe('[AnnouncedBlocks]', () => {
  const genesis = createBlock({ header: { gasLimit: 5000n } })
  const chain = blocksOn(genesis, 40)
  const at = (n: number) => chain[n - 1]

  it('keeps blocks more than one and at most 32 ahead of the head, and hands out the child of a hash', () => {
    const ahead = new AnnouncedBlocks()
    assert.equal(ahead.add(at(1), 0n), false, 'the next block is imported directly, not kept')
    assert.equal(ahead.add(at(2), 0n), true)
    assert.equal(ahead.add(at(Number(MAX_BLOCKS_AHEAD)), 0n), true)
    assert.equal(ahead.add(at(Number(MAX_BLOCKS_AHEAD) + 1), 0n), false, 'too far ahead')
    assert.equal(ahead.takeChildOf(at(1).hash()), at(2))
    assert.equal(ahead.takeChildOf(at(1).hash()), undefined, 'taken once')
    assert.equal(ahead.size, 1)
  })

  it('forgets blocks the head has passed', () => {
    const ahead = new AnnouncedBlocks()
    for (let n = 3; n <= 10; n++) ahead.add(at(n), 1n)
    ahead.prune(6n)
    assert.equal(ahead.size, 4)
    assert.equal(ahead.takeChildOf(at(5).hash()), undefined)
    assert.equal(ahead.takeChildOf(at(6).hash()), at(7))
  })

  it('stays bounded when a peer announces many siblings', () => {
    const ahead = new AnnouncedBlocks()
    let kept = 0
    for (let i = 0; i < 1_000; i++) {
      const sibling = blocksOn(at(1), 2, new Uint8Array([i & 0xff, i >> 8]))[1]
      if (ahead.add(sibling, 0n)) kept++
    }
    assert.ok(ahead.size <= Number(MAX_BLOCKS_AHEAD) * 4, `${ahead.size} blocks kept`)
    assert.equal(kept, ahead.size)
  })
})

describe('[SnapSynchronizer] block announcements ahead of the head', () => {
  const peer = { id: 'peer-1' } as unknown as Peer

  it('imports announced blocks once the gap before them is filled, up to the announced head', async () => {
    const { config, chain, sync } = await snapService()
    await chain.open()
    const blocks = blocksOn(chain.genesis, 6)
    await chain.putBlocks(blocks.slice(0, 1))

    // Blocks 3..6 arrive while the node is at block 1: the stock handler drops each of them
    for (const block of blocks.slice(2)) await sync.handleNewBlock(block, peer)
    assert.equal(chain.blocks.height, 1n)
    assert.equal(config.syncTargetHeight, 6n, 'the announced head is the sync target')

    // Block 2 (from the block pipeline or an announcement) closes the gap: 3..6 follow at once
    await sync.handleNewBlock(blocks[1], peer)
    assert.equal(chain.blocks.height, 6n)
    assert.deepEqual(chain.blocks.latest?.hash(), blocks[5].hash())
    await chain.close()
  })

  it('imports kept blocks when the block pipeline fills the gap (CHAIN_UPDATED)', async () => {
    const { config, chain, sync } = await snapService()
    await chain.open()
    const blocks = blocksOn(chain.genesis, 5)
    for (const block of blocks.slice(3)) await sync.handleNewBlock(block, peer)
    assert.equal(chain.blocks.height, 0n)
    // CHAIN_UPDATED starts the import, which runs on the event loop: the chain's own CHAIN_UPDATED
    // events tell each height it reaches (a broken import leaves the test waiting at 3, to mocha's timeout)
    const atFive = new Promise<void>((resolve) => {
      const updated = () => {
        if (chain.blocks.height < 5n) return
        config.events.off(Event.CHAIN_UPDATED, updated)
        resolve()
      }
      config.events.on(Event.CHAIN_UPDATED, updated)
    })
    await chain.putBlocks(blocks.slice(0, 3))
    await atFive
    assert.deepEqual(chain.blocks.latest?.hash(), blocks[4].hash())
    await chain.close()
  })
})
