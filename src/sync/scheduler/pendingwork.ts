/**
 * What a state sync holds in memory for work it has not written yet. Each part is bounded by the
 * sync's configuration, not by the state's size (test/sync/scheduler/pendingwork.spec.ts checks it):
 * - verified account batches wait for their storage and code: at most `maxPendingBatches`, plus the
 *   account replies in flight when the cap is reached, each holding one reply's nodes;
 * - the storage tries and codes queued are those of the accounts in these batches;
 * - the writer's puts are flushed once a batch is full (`StateWriter`);
 * - healing's frontier is walked depth first, and its known nodes are capped in bytes (triesync.ts).
 */
import type { AccountTask } from '../work/accounttasks.js'
import type { SyncContext } from '../work/kind.js'

/** See the module comment */
export interface PendingWork {
  /** Verified account batches not yet written */
  accountBatches: number
  /** Bytes (hash and RLP) of the account-trie nodes those batches hold */
  accountBatchBytes: number
  /** Accounts those batches hold */
  batchedAccounts: number
  /** Storage tries queued or being fetched */
  storageTries: number
  /** Codes wanted and not stored */
  codes: number
  /** Trie nodes waiting to be fetched or written (healing) */
  trieNodes: number
  /** Puts queued in the writer */
  writerPuts: number
  /** Requests sent and not yet handled */
  requests: number
}

/** Measures the pending work of a sync's tasks and context (see `StateSync.pendingWork`) */
export function measurePendingWork(tasks: readonly AccountTask[], ctx: SyncContext, requests: number): PendingWork {
  let [accountBatches, accountBatchBytes, batchedAccounts] = [0, 0, 0]
  for (const task of tasks) {
    for (const batch of task.batches) {
      accountBatches++
      batchedAccounts += batch.accounts
      for (const node of batch.nodes) accountBatchBytes += node.hash.length + node.rlp.length
    }
  }
  return {
    accountBatches,
    accountBatchBytes,
    batchedAccounts,
    storageTries: ctx.storage.pending,
    codes: ctx.codes.pending,
    trieNodes: ctx.trie.pending,
    writerPuts: ctx.writer.pending,
    requests,
  }
}
