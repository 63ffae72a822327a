/**
 * A stand-in for the client's beacon skeleton as `ForkchoicePivotSource` reads it: the consensus
 * layer's head and the blocks fetched back from it, which a test replaces at will.
 */
import { createBlock } from '@ethereumjs/block'

import type { ForkchoiceSkeleton } from '../../src/sync/pivot/forkchoicepivot.js'
import type { Block, BlockHeader } from '@ethereumjs/block'

export class FakeSkeleton implements ForkchoiceSkeleton {
  /** The lowest block fetched back from the head so far */
  tail: bigint | undefined
  linked = false

  /** @param blocks headers 0..head, as the consensus layer's chain; the tail starts at 0 */
  constructor(public blocks: BlockHeader[]) {}

  bounds(): { head: bigint; tail: bigint } | undefined {
    if (this.blocks.length === 0) return undefined
    const head = this.blocks[this.blocks.length - 1].number
    return { head, tail: this.tail ?? 0n }
  }

  isLinked(): boolean {
    return this.linked
  }

  async getBlock(number: bigint): Promise<Block | undefined> {
    if (number < (this.tail ?? 0n)) return undefined
    const header = this.blocks[Number(number)]
    return header === undefined ? undefined : createBlock({ header }, { common: header.common })
  }
}
