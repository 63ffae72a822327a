/**
 * Blocks announced a little ahead of the local head, kept until their parent is imported. The stock
 * `NewBlock` handler imports only a child of the head and drops the rest; a node a few blocks behind
 * a fast chain (a 1 s clique devnet) then needs a block-pipeline round to catch up, during which the
 * chain moves on again, and it never reaches the head. Keeping the next blocks, as go-ethereum's block
 * fetcher queues announcements up to 32 blocks ahead, lets the node import them the moment the round
 * ends and stay at the head from then on.
 */
import { bytesToHex } from '@ethereumjs/util'

import type { Block } from '@ethereumjs/block'

/** How far ahead of the head an announced block is kept (go-ethereum's `maxQueueDist`) */
export const MAX_BLOCKS_AHEAD = 32n

/** See the module comment; bounded: at most a few blocks per height, {@link MAX_BLOCKS_AHEAD} heights */
export class AnnouncedBlocks {
  /** Blocks by their parent's hash: the import looks for the child of the head */
  private readonly byParent = new Map<string, Block>()
  /** Why a cap per height too: a peer announcing many siblings must not grow the map */
  private static readonly MAX_BLOCKS = Number(MAX_BLOCKS_AHEAD) * 4

  get size(): number {
    return this.byParent.size
  }

  /** Keeps `block` if it is ahead of `head` by more than one and at most {@link MAX_BLOCKS_AHEAD} */
  add(block: Block, head: bigint): boolean {
    const n = block.header.number
    if (n <= head + 1n || n > head + MAX_BLOCKS_AHEAD) return false
    this.prune(head)
    if (this.byParent.size >= AnnouncedBlocks.MAX_BLOCKS) return false
    this.byParent.set(bytesToHex(block.header.parentHash), block)
    return true
  }

  /** Takes the kept child of the block `hash`, if any */
  takeChildOf(hash: Uint8Array): Block | undefined {
    const key = bytesToHex(hash)
    const block = this.byParent.get(key)
    if (block !== undefined) this.byParent.delete(key)
    return block
  }

  /** Forgets blocks at or below `head`: the chain has them, or has another block at their height */
  prune(head: bigint): void {
    for (const [key, block] of this.byParent) {
      if (block.header.number <= head) this.byParent.delete(key)
    }
  }
}
