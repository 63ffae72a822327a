/**
 * Account-range work: the 2^256 account hash space split into tasks, each downloaded front to back.
 * A verified reply becomes an {@link AccountBatch} that waits, in its task's order, until the storage
 * and code of its accounts are stored; only then are its account-trie nodes written and the task's
 * persisted cursor moved past it. So "a stored node has its whole subtree stored", storage and code
 * included, holds for every node the sync writes, and a crash loses at most the batches in memory.
 */
import { MAX_HASH, fractionDone, hashBytes, splitRange } from './hashrange.js'

import type { HashRange } from './hashrange.js'
import type { NodeRecord } from '../../trie/index.js'

/** A verified account range whose storage and code are still being fetched */
export interface AccountBatch {
  /** Account-trie nodes to write once `pending` is 0 (complete ones only) */
  readonly nodes: NodeRecord[]
  /** Accounts in the range */
  readonly accounts: number
  /** Payload bytes of the reply (fetched again if the process dies before the batch is written) */
  readonly bytes: number
  /** Storage tries and codes of these accounts not stored yet */
  pending: number
  /**
   * An account's storage changed under a newer pivot and was not stored: the batch's nodes would
   * claim a subtree that is not complete, so none is written (healing fetches the current ones)
   */
  stale: boolean
  /** The task's cursor after this batch (first key not covered) */
  readonly next: bigint
  /** The task is finished once this batch is written */
  readonly last: boolean
}

/** One chunk of the account hash space */
export class AccountTask implements HashRange {
  /** First key not yet covered by a received batch */
  next: bigint
  /** First key not yet written (persisted cursor) */
  written: bigint
  /** A request for this task is in flight (one at a time: each starts where the last reply ended) */
  inFlight = false
  /** Every key of the range is covered by a received batch */
  covered = false
  /** Verified batches in key order, waiting for their storage and code */
  readonly batches: AccountBatch[] = []

  constructor(
    readonly first: bigint,
    readonly last: bigint,
    next: bigint = first,
    done = false,
  ) {
    this.next = next
    this.written = next
    this.covered = done
  }

  /** Nothing left to fetch or write */
  get done(): boolean {
    return this.covered && this.batches.length === 0
  }

  /** The origin and limit of the next request */
  request(): { origin: Uint8Array; limit: Uint8Array } {
    return { origin: hashBytes(this.next), limit: hashBytes(this.last) }
  }

  /** Fraction of the range written */
  fractionWritten(): number {
    return this.covered && this.batches.length === 0 ? 1 : fractionDone(this, this.written)
  }
}

/** A task as the progress record keeps it */
export interface SavedAccountTask {
  /** First key of the range, hex */
  first: string
  /** Last key of the range, hex */
  last: string
  /** First key not yet written, hex */
  next: string
  /** Every key written */
  done: boolean
}

/** The tasks of a fresh sync: the hash space in `count` equal chunks */
export function newAccountTasks(count: number): AccountTask[] {
  return splitRange(0n, MAX_HASH, count).map((r) => new AccountTask(r.first, r.last))
}

/** Tasks as persisted: only what is written counts, batches in memory are fetched again */
export function saveAccountTasks(tasks: AccountTask[]): SavedAccountTask[] {
  return tasks.map((t) => ({
    first: `0x${t.first.toString(16)}`,
    last: `0x${t.last.toString(16)}`,
    next: `0x${t.written.toString(16)}`,
    done: t.done,
  }))
}

/** Tasks from the progress record; throws on a malformed record */
export function loadAccountTasks(saved: SavedAccountTask[]): AccountTask[] {
  return saved.map((s) => {
    const [first, last, next] = [BigInt(s.first), BigInt(s.last), BigInt(s.next)]
    if (first < 0n || last > MAX_HASH || first > last || next < first || next > last + 1n) {
      throw new Error(`bad account task ${JSON.stringify(s)}`)
    }
    return new AccountTask(first, last, next, s.done === true || next > last)
  })
}

/** Payload bytes of the batches verified but not written: what a crash now would fetch again */
export function unwrittenBytes(tasks: AccountTask[]): number {
  let n = 0
  for (const t of tasks) for (const b of t.batches) n += b.bytes
  return n
}

/** Fraction of the account hash space written */
export function accountSpaceDone(tasks: AccountTask[]): number {
  if (tasks.length === 0) return 0
  let sum = 0
  for (const t of tasks)
    sum += t.fractionWritten() * Number(((t.last - t.first + 1n) << 16n) / ((MAX_HASH + 1n) >> 16n))
  return Math.min(1, sum / 2 ** 32)
}
