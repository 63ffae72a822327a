/**
 * The one request family of the state sync: each kind of snap request (accounts, storage, codes,
 * trie nodes) is a small strategy that picks work, sends it, verifies and applies the reply, or
 * puts the work back. The scheduler runs them all the same way; snap/2's kinds would add a file here.
 */
import type { CodeQueue } from './codequeue.js'
import type { RequestKind } from '../peers/peertracker.js'
import type { SnapPeer } from '../peers/snappeer.js'
import type { SnapSyncCounters } from '../report/status.js'
import type { StorageQueue } from './storagequeue.js'
import type { TrieSync } from './triesync.js'
import type { StateStore, StateWriter } from '../../trie/index.js'

/** What a verified, applied reply delivered */
export interface Applied {
  /** Items, for the peer's measured rate */
  readonly items: number
  /** Payload bytes accepted */
  readonly bytes: number
}

/** A kind of request; see the module comment. Only the scheduler loop calls it. */
export interface WorkKind<W, R> {
  readonly kind: RequestKind
  /**
   * Each item of a reply is checked by its own hash alone (codes, trie nodes), not by a proof from the
   * root it was asked under: a reply that comes after a pivot move is as good under the new root
   */
  readonly byHash: boolean
  /** Work for one request of about `items` items, or undefined when there is none now */
  pick(items: number): W | undefined
  /** Sends the request for `work` to `peer`, asking for at most `bytes` of reply */
  fetch(peer: SnapPeer, work: W, timeoutMs: number, bytes: number): Promise<R>
  /**
   * Verifies the reply completely, then applies it (queues nodes to write, follow-up work). Throws
   * `PeerFault` or `RootUnavailable` (see faults.ts) before changing anything when the reply is bad.
   */
  apply(work: W, reply: R): Promise<Applied>
  /**
   * Verifies the reply as `apply` would, changing nothing: for a hedged request's reply that lost the race
   * (the work is already applied), so that a liar is still found out by what it sent.
   */
  verify(work: W, reply: R): void
  /** Puts back whatever of `work` was not delivered */
  requeue(work: W): void
}

/** The state a sync of one root shares between its kinds; owned by the scheduler */
export interface SyncContext {
  /** The state root being synced (the pivot's); changes when the pivot moves */
  root: Uint8Array
  /**
   * Counts pivot moves. Work derived from an older root (a storage root read from an account of
   * that state) may no longer verify under the current one: a change of the chain, or a peer's lie,
   * told apart by looking the account up under the current root (storage.ts)
   */
  generation: number
  readonly db: Pick<StateStore, 'getMany'>
  readonly writer: StateWriter
  readonly counters: SnapSyncCounters
  readonly storage: StorageQueue
  readonly codes: CodeQueue
  /** Replaced when the pivot moves (see StateSync.moveTo) */
  trie: TrieSync
  /**
   * Bytes a range, code or node request asks for at most (a peer of measured speed is asked for less:
   * PeerTracker.bytesFor); replies are checked against it
   */
  readonly requestBytes: number
  /** Verified account batches held at most until their storage and code are stored (accounts.ts) */
  readonly maxPendingBatches: number
}
