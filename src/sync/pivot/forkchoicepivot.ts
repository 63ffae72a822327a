/**
 * Post-merge pivot discovery: the consensus layer names the head (engine API `newPayload` /
 * `forkchoiceUpdated`, which the client's engine module records in its beacon skeleton), and the
 * skeleton's reverse block fetch links the headers below it by parent hash. The pivot is the block
 * `distance` below that head, as soon as the skeleton reaches it: a block within the last 128, whose
 * state peers still serve. Peers' own head claims are never used: after the merge only the
 * consensus layer knows the canonical head.
 */
import { equalsBytes } from '@ethereumjs/util'

import { checkLinked } from './pivot.js'

import type { Pivot } from './pivot.js'
import type { PivotLookup, PivotSource } from './pivotsource.js'
import type { PivotInfo } from '../report/status.js'
import type { Block, BlockHeader } from '@ethereumjs/block'

/** What the source reads of the client's `Skeleton` */
export interface ForkchoiceSkeleton {
  /** The canonical subchain the consensus layer named: its head and how far down it is fetched */
  bounds(): { head: bigint; tail: bigint } | undefined
  /** True once the subchain reaches down to the local chain */
  isLinked(): boolean
  /** The canonical block at `number` (skeleton or chain), if stored */
  getBlock(number: bigint, onlyCanonical?: boolean): Promise<Block | undefined>
}

/** Shown until the consensus layer has named a head */
export const NO_CONSENSUS_LAYER =
  'no consensus layer has named a head yet ' +
  '(a beacon node must drive this node over the engine API: --rpcEngine, --jwtSecret)'

/** See the module comment */
export class ForkchoicePivotSource implements PivotSource {
  constructor(
    private readonly skeleton: ForkchoiceSkeleton,
    private readonly distance: number,
  ) {}

  async lookup(): Promise<PivotLookup> {
    const bounds = this.skeleton.bounds()
    // Before any engine call the skeleton has no subchain, or only the local chain's (head 0)
    if (bounds === undefined || bounds.head === 0n) return { waiting: NO_CONSENSUS_LAYER }
    const number = bounds.head > BigInt(this.distance) ? bounds.head - BigInt(this.distance) : 1n
    // Below the tail of an unlinked subchain the skeleton may still hold blocks of an older one
    const headers =
      number >= bounds.tail || this.skeleton.isLinked() ? await this.headers(number, bounds.head) : undefined
    if (headers === undefined) {
      return {
        waiting:
          `fetching headers back from the consensus layer's head ${bounds.head} (at ${bounds.tail}) ` +
          `to the pivot ${number}`,
      }
    }
    try {
      // The skeleton links what it stores; checked again, since the state root is trusted from it
      checkLinked(headers)
    } catch (err) {
      return { waiting: `the stored headers ${number}..${bounds.head} do not link yet (${(err as Error).message})` }
    }
    return {
      pivot: {
        header: headers[0],
        head: headers[headers.length - 1],
        supporters: [],
        namedBy: "the consensus layer's forkchoice",
      },
    }
  }

  async holds(pivot: PivotInfo, _found: Pivot): Promise<boolean | undefined> {
    const block = await this.skeleton.getBlock(pivot.number, true)
    return block === undefined ? undefined : equalsBytes(block.hash(), pivot.hash)
  }

  // The canonical headers from..to, or undefined while one is not stored yet
  private async headers(from: bigint, to: bigint): Promise<BlockHeader[] | undefined> {
    const out: BlockHeader[] = []
    for (let n = from; n <= to; n++) {
      const block = await this.skeleton.getBlock(n, true)
      if (block === undefined) return undefined
      out.push(block.header)
    }
    return out
  }
}
