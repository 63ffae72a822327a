/**
 * The state roots we serve: those of the last {@link SERVED_STATE_BLOCKS} blocks of the canonical
 * chain up to the last executed block (the newest state the DB holds). Kept as a window of
 * (number, hash, root) that follows the head incrementally: one header read per new block, and a
 * reorg re-reads only the replaced heights, so a root that left the canonical chain stops being
 * served at the next refresh.
 */
import { bytesToUnprefixedHex } from '@ethereumjs/util'

import { SERVED_STATE_BLOCKS } from '../wire/constants.js'

import type { ServedRoots } from './stateview.js'

/** Minimal header shape used here */
export interface HeaderLike {
  readonly number: bigint
  readonly stateRoot: Uint8Array
  hash(): Uint8Array
}

/** What this needs of the client's chain */
export interface CanonicalChain {
  /** The last executed canonical block's header (its state is in the DB), if any */
  head(): Promise<HeaderLike | undefined>
  /** Canonical header at a height */
  headerAt(number: bigint): Promise<HeaderLike>
}

/** Options of {@link RecentRoots}, fixed at construction */
export interface RecentRootsOptions {
  /** Blocks served below and including the head */
  depth?: number
  /** Minimum time between two looks at the head: a head read per request would queue behind block import */
  checkIntervalMs?: number
  /** Injectable for tests */
  clock?: () => number
}

interface WindowEntry {
  readonly hash: string
  readonly root: string
}

/** The roots served, following the executed canonical head */
export class RecentRoots implements ServedRoots {
  private window = new Map<bigint, WindowEntry>()
  private roots = new Set<string>()
  private refreshing: Promise<void> | undefined
  private checkedAt = Number.NEGATIVE_INFINITY
  private readonly depth: number
  private readonly checkIntervalMs: number
  private readonly clock: () => number

  constructor(
    private readonly chain: CanonicalChain,
    options: RecentRootsOptions = {},
  ) {
    this.depth = options.depth ?? SERVED_STATE_BLOCKS
    this.checkIntervalMs = options.checkIntervalMs ?? 0
    this.clock = options.clock ?? (() => performance.now())
  }

  has(root: Uint8Array): boolean {
    return this.roots.has(bytesToUnprefixedHex(root))
  }

  /** Number of roots currently served (distinct roots; empty blocks share theirs) */
  get size(): number {
    return this.roots.size
  }

  /** Brings the window up to date with the head; at most one look per `checkIntervalMs` */
  async refresh(): Promise<void> {
    if (this.clock() - this.checkedAt < this.checkIntervalMs) return
    // One update at a time; concurrent requests wait for it
    this.refreshing ??= this.update().finally(() => {
      this.checkedAt = this.clock()
      this.refreshing = undefined
    })
    await this.refreshing
  }

  private async update(): Promise<void> {
    const head = await this.chain.head()
    if (head === undefined) return
    const headHash = bytesToUnprefixedHex(head.hash())
    if (this.window.get(head.number)?.hash === headHash && !this.window.has(head.number + 1n)) return
    const lowest = head.number - BigInt(this.depth) + 1n
    const next = new Map<bigint, WindowEntry>([[head.number, entryOf(head)]])
    let n = head.number - 1n
    // Re-read heights until one matches the old window: below it the chain is unchanged
    for (; n >= 0n && n >= lowest; n--) {
      const header = await this.chain.headerAt(n)
      const entry = entryOf(header)
      next.set(n, entry)
      if (this.window.get(n)?.hash === entry.hash) break
    }
    for (n -= 1n; n >= 0n && n >= lowest; n--) {
      next.set(n, this.window.get(n) ?? entryOf(await this.chain.headerAt(n)))
    }
    this.window = next
    this.roots = new Set([...next.values()].map((e) => e.root))
  }
}

function entryOf(header: HeaderLike): WindowEntry {
  return { hash: bytesToUnprefixedHex(header.hash()), root: bytesToUnprefixedHex(header.stateRoot) }
}
