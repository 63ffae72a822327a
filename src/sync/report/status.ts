/**
 * What the snap synchronizer tells the outside world (log lines, `eth_syncing`, Prometheus): one
 * typed snapshot, owned and updated by the synchronizer, read by the plugin glue.
 */

/** The stage a snap sync is in */
export type SnapSyncPhase =
  /** waiting for peers, or for peers to agree on a head */
  | 'pivot'
  /** downloading account ranges, storage ranges and bytecodes */
  | 'state'
  /** fetching the trie nodes the ranges left open, top-down from the pivot root */
  | 'heal'
  /** state complete: executing pivot+1 … tip with the client's own pipeline */
  | 'handoff'
  /** synced: the node follows the chain as a full node */
  | 'done'

/** Numeric value of each phase, for the `snap_sync_phase` gauge */
export const PHASE_NUMBER: { readonly [p in SnapSyncPhase]: number } = Object.freeze({
  pivot: 0,
  state: 1,
  heal: 2,
  handoff: 3,
  done: 4,
})

/** The chosen pivot block */
export interface PivotInfo {
  readonly number: bigint
  readonly hash: Uint8Array
  readonly stateRoot: Uint8Array
}

/** Counts since the sync began (persisted: they survive a restart) */
export interface SnapSyncCounters {
  /** Account leaves verified and stored */
  accounts: number
  /** Storage slots verified and stored */
  slots: number
  /** Bytecodes verified and stored */
  codes: number
  /** Trie nodes fetched with GetTrieNodes (completion and healing) */
  trieNodes: number
  /** Payload bytes of the replies accepted */
  bytes: number
  /** Payload bytes of replies thrown away (invalid, late, or lost in a crash) */
  wastedBytes: number
  /** Trie nodes fetched while healing from the pivot root, after the ranges (part of `trieNodes`) */
  healedNodes: number
  /** Times the pivot moved to a newer block during the sync */
  pivotMoves: number
  /** Requests that asked an idle peer for work a much slower peer held (the sync's tail) */
  hedgedRequests: number
}

/** A snapshot of the synchronizer's progress */
export interface SnapSyncStatus {
  readonly phase: SnapSyncPhase
  readonly pivot: PivotInfo | undefined
  readonly counters: Readonly<SnapSyncCounters>
  /** Fraction of the account hash space done, 0..1 */
  readonly accountSpaceDone: number
  /** Trie nodes waiting to be fetched in the completion/heal phase */
  readonly healPending: number
  /** Peers serving snap now */
  readonly peers: number
  /** ms since the sync (this process) started */
  readonly elapsedMs: number
}

/** Zeroed counters */
export function emptyCounters(): SnapSyncCounters {
  return {
    accounts: 0,
    slots: 0,
    codes: 0,
    trieNodes: 0,
    bytes: 0,
    wastedBytes: 0,
    healedNodes: 0,
    pivotMoves: 0,
    hedgedRequests: 0,
  }
}
