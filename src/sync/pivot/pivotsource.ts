/**
 * Where phase 1 learns its pivot. Before the merge the peers' heads name it ({@link PeerPivotSource});
 * after the merge the consensus layer's forkchoice does (`ForkchoicePivotSource`). The state
 * download is the same for both: it asks for a pivot, and later whether a newer one exists or the
 * one it has left the chain.
 */
import { equalsBytes } from '@ethereumjs/util'

import type { BadHeadersError, HeaderPeer, Pivot, PivotFinder } from './pivot.js'
import type { DropReason } from '../peers/snappeer.js'
import type { PivotInfo } from '../report/status.js'

/** A verified pivot, or why there is none yet (shown in the waiting line) */
export type PivotLookup = { readonly pivot: Pivot } | { readonly waiting: string }

/** See the module comment */
export interface PivotSource {
  /** The pivot for the chain as known now */
  lookup(): Promise<PivotLookup>
  /**
   * False when the chain that named `found` now holds another block at `pivot`'s height (a reorg
   * below the head); true or undefined (cannot tell now) otherwise
   */
  holds(pivot: PivotInfo, found: Pivot): Promise<boolean | undefined>
  /**
   * The chain never reached the pivot `found` named (`why`): whoever named it is not asked again.
   * Absent where no peer names the pivot (the consensus layer does)
   */
  reject?(found: Pivot, why: string): void
}

/** What the peer-based source needs of the peer set */
export interface PivotPeers {
  headerPeers(): HeaderPeer[]
  dropById(peerId: string, reason: DropReason, detail: string): void
}

/** Pre-merge: the highest head `minPeers` peers agree on (see {@link PivotFinder}) */
export class PeerPivotSource implements PivotSource {
  constructor(
    private readonly peers: PivotPeers,
    private readonly finder: PivotFinder,
    private readonly minPeers: number,
  ) {}

  async lookup(): Promise<PivotLookup> {
    const peers = this.peers.headerPeers()
    if (peers.length < this.minPeers)
      return { waiting: `${peers.length} of ${this.minPeers} peers needed to choose a pivot` }
    const pivot = await this.finder.find(peers, (err: BadHeadersError) =>
      this.peers.dropById(err.peerId, 'invalid_proof', err.message),
    )
    return pivot === undefined
      ? { waiting: `${peers.length} peers, fewer than ${this.minPeers} agree on a head` }
      : { pivot }
  }

  /**
   * Drops the peers that named it (their chain is not the one the block pipeline follows), unless they
   * are all the peers: then the block pipeline may be what stalled, and dropping them would leave none
   */
  reject(found: Pivot, why: string): void {
    const connected = this.peers.headerPeers().map((p) => p.id)
    const namers = connected.filter((id) => found.supporters.includes(id))
    if (namers.length === connected.length) return
    for (const id of namers) this.peers.dropById(id, 'bad_pivot', why)
  }

  // The block at the pivot's height on a supporter's chain
  async holds(pivot: PivotInfo, found: Pivot): Promise<boolean | undefined> {
    const supporter = this.peers.headerPeers().find((p) => found.supporters.includes(p.id))
    const [there] = supporter === undefined ? [] : await supporter.headers(pivot.number, 1).catch(() => [])
    return there === undefined ? undefined : equalsBytes(there.hash(), pivot.hash)
  }
}
