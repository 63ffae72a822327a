/**
 * The state roots we serve: those of the last {@link SERVED_STATE_BLOCKS} blocks of the canonical
 * chain. Re-read whenever the canonical head changes (new block or reorg), so a root that left
 * the canonical chain stops being served at the next request.
 */
import { bytesToUnprefixedHex, equalsBytes } from '@ethereumjs/util'

import { SERVED_STATE_BLOCKS } from '../wire/constants.js'

import type { ServedRoots } from './stateview.js'

/** Minimal header shape used here */
export interface HeaderLike {
  readonly number: bigint
  readonly stateRoot: Uint8Array
  hash(): Uint8Array
}

/** What this needs of the client's chain (`Chain.headers.latest`, `Blockchain.getCanonicalHeader`) */
export interface CanonicalChain {
  /** Current canonical head header, if any */
  head(): HeaderLike | null | undefined
  /** Canonical header at a height */
  headerAt(number: bigint): Promise<HeaderLike>
}

export class RecentRoots implements ServedRoots {
  private roots = new Set<string>()
  private headHash: Uint8Array | undefined
  private refreshing: Promise<void> | undefined

  constructor(
    private readonly chain: CanonicalChain,
    private readonly depth = SERVED_STATE_BLOCKS,
  ) {}

  has(root: Uint8Array): boolean {
    return this.roots.has(bytesToUnprefixedHex(root))
  }

  /** Number of roots currently served (distinct roots; empty blocks share theirs) */
  get size(): number {
    return this.roots.size
  }

  /** Brings the set up to date with the canonical head; cheap when the head is unchanged */
  async refresh(): Promise<void> {
    const head = this.chain.head()
    if (head === null || head === undefined) return
    const hash = head.hash()
    if (this.headHash !== undefined && equalsBytes(hash, this.headHash)) return
    // One reload at a time; concurrent requests wait for it
    this.refreshing ??= this.reload(head).finally(() => {
      this.refreshing = undefined
    })
    await this.refreshing
  }

  private async reload(head: HeaderLike): Promise<void> {
    const roots = new Set<string>([bytesToUnprefixedHex(head.stateRoot)])
    const lowest = head.number - BigInt(this.depth) + 1n
    for (let n = head.number - 1n; n >= 0n && n >= lowest; n--) {
      roots.add(bytesToUnprefixedHex((await this.chain.headerAt(n)).stateRoot))
    }
    this.roots = roots
    this.headHash = head.hash()
  }
}
