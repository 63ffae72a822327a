/**
 * Post-merge pivot choice from the consensus layer's head, over a stand-in for the client's beacon
 * skeleton: no pivot before a head is named or before the blocks below it are fetched back, the
 * block `distance` below the head after, checked to link, and never a peer's own claim.
 */
import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'

import { ForkchoicePivotSource, NO_CONSENSUS_LAYER } from '../../../src/sync/pivot/forkchoicepivot.js'

import { FakeSkeleton } from '../fakeskeleton.js'

import type { Pivot } from '../../../src/sync/pivot/pivot.js'
import type { PivotLookup } from '../../../src/sync/pivot/pivotsource.js'
import type { BlockHeader } from '@ethereumjs/block'

const common = new Common({ chain: Mainnet, hardfork: Hardfork.Paris })

/** Linked headers 0..head; `tag` marks a branch in extraData */
function chain(head: number, tag = 0, base: BlockHeader[] = [], from = 0): BlockHeader[] {
  const out = base.slice(0, from)
  for (let n = out.length; n <= head; n++) {
    const parentHash = n === 0 ? new Uint8Array(32) : out[n - 1].hash()
    const stateRoot = new Uint8Array(32).fill((n + tag) % 256)
    out.push(
      createBlockHeader(
        {
          number: BigInt(n),
          parentHash,
          stateRoot,
          gasLimit: 30_000_000n,
          timestamp: BigInt(n * 12),
          baseFeePerGas: 7n,
          extraData: Uint8Array.of(tag),
        },
        { common },
      ),
    )
  }
  return out
}

const pivotOf = (found: PivotLookup): Pivot => {
  assert.ok('pivot' in found, JSON.stringify(found))
  return found.pivot
}

describe('[ForkchoicePivotSource] the pivot from the consensus layer head', () => {
  it('waits, saying so, while no consensus layer has named a head', async () => {
    const source = new ForkchoicePivotSource(new FakeSkeleton([]), 64)
    assert.deepEqual(await source.lookup(), { waiting: NO_CONSENSUS_LAYER })
    // A newPayload alone makes the client put its own chain head (genesis) in the skeleton
    assert.deepEqual(await new ForkchoicePivotSource(new FakeSkeleton(chain(0)), 64).lookup(), {
      waiting: NO_CONSENSUS_LAYER,
    })
  })

  it(
    'waits until the blocks are fetched back to the pivot, ' + 'then takes the block `distance` below the head',
    async () => {
      const blocks = chain(200)
      const skeleton = new FakeSkeleton(blocks)
      skeleton.tail = 200n
      const source = new ForkchoicePivotSource(skeleton, 64)
      const waiting = await source.lookup()
      assert.ok(
        'waiting' in waiting &&
          /headers back from the consensus layer's head 200 \(at 200\) to the pivot 136/.test(waiting.waiting),
        JSON.stringify(waiting),
      )
      skeleton.tail = 137n
      assert.ok('waiting' in (await source.lookup()))
      skeleton.tail = 136n
      const pivot = pivotOf(await source.lookup())
      assert.equal(pivot.header.number, 136n)
      assert.deepEqual(pivot.header.hash(), blocks[136].hash())
      assert.deepEqual(pivot.head.hash(), blocks[200].hash())
      assert.equal(pivot.namedBy, "the consensus layer's forkchoice")
      assert.deepEqual(pivot.supporters, [])
    },
  )

  it('a head closer to genesis than the distance: block 1', async () => {
    assert.equal(pivotOf(await new ForkchoicePivotSource(new FakeSkeleton(chain(10)), 64).lookup()).header.number, 1n)
  })

  it('blocks that do not link (an older subchain left below the tail) are not a pivot', async () => {
    const main = chain(100)
    const other = chain(100, 7)
    const skeleton = new FakeSkeleton([...other.slice(0, 50), ...main.slice(50)])
    const found = await new ForkchoicePivotSource(skeleton, 64).lookup()
    assert.ok('waiting' in found && /do not link/.test(found.waiting), JSON.stringify(found))
    // Below the tail of an unlinked subchain the stored blocks are not even read
    skeleton.tail = 50n
    const below = await new ForkchoicePivotSource(skeleton, 64).lookup()
    assert.ok('waiting' in below && /headers back/.test(below.waiting), JSON.stringify(below))
  })

  it("holds: the pivot's block is still at its height, another block (a reorg), or not known", async () => {
    const blocks = chain(100)
    const skeleton = new FakeSkeleton(blocks)
    const source = new ForkchoicePivotSource(skeleton, 64)
    const found = pivotOf(await source.lookup())
    const pivot = { number: 36n, hash: blocks[36].hash(), stateRoot: blocks[36].stateRoot }
    assert.equal(await source.holds(pivot, found), true)
    skeleton.blocks = chain(101, 3, blocks, 30)
    assert.equal(await source.holds(pivot, found), false)
    skeleton.tail = 40n
    assert.equal(await source.holds(pivot, found), undefined)
  })
})
