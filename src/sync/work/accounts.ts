/**
 * Account ranges (snap.md §GetAccountRange): one request in flight per task, each starting where the
 * last verified reply ended. A reply becomes a batch that waits for its accounts' storage and code.
 */
import { hasCode, hasStorage, verifyAccountRange } from '../../trie/index.js'
import { STATE_ENCODINGS, codeKey, nodeKey } from '../../trie/statedb.js'
import { checkReplySize, RootUnavailable } from '../peers/faults.js'
import { hashNumber } from './hashrange.js'

import { completeStorage } from './storage.js'

import type { AccountBatch, AccountTask } from './accounttasks.js'
import type { SnapPeer } from '../peers/snappeer.js'
import type { Applied, SyncContext, WorkKind } from './kind.js'
import type { ReceivedAccountRange } from '../../wire/messages.js'

/** One account-range request */
export interface AccountWork {
  readonly task: AccountTask
  readonly origin: Uint8Array
  readonly limit: Uint8Array
}

/**
 * Why 32: each batch holds the nodes of one reply's accounts (a 512 KiB reply's are ~1.5-2 MB: full
 * bodies, hashes, branches) in memory until its storage is stored; 32 of them bound that memory near
 * 60 MiB while keeping every peer busy.
 * The default of `StateSyncOptions.maxPendingBatches`.
 */
export const MAX_PENDING_BATCHES = 32

/** See the module comment */
export class AccountRanges implements WorkKind<AccountWork, ReceivedAccountRange> {
  readonly kind = 'accounts'
  readonly byHash = false

  constructor(
    private readonly ctx: SyncContext,
    readonly tasks: AccountTask[],
  ) {}

  /** Batches verified but not yet written */
  get pendingBatches(): number {
    let n = 0
    for (const t of this.tasks) n += t.batches.length
    return n
  }

  /** Every task fetched and written */
  get done(): boolean {
    return this.tasks.every((t) => t.done)
  }

  pick(): AccountWork | undefined {
    if (this.pendingBatches >= this.ctx.maxPendingBatches) return undefined
    const task = this.tasks.find((t) => !t.covered && !t.inFlight)
    if (task === undefined) return undefined
    task.inFlight = true
    return { task, ...task.request() }
  }

  fetch(peer: SnapPeer, work: AccountWork, timeoutMs: number, bytes: number): Promise<ReceivedAccountRange> {
    return peer.getAccountRange(
      { root: this.ctx.root, origin: work.origin, limit: work.limit, bytes: BigInt(bytes) },
      timeoutMs,
    )
  }

  verify(work: AccountWork, reply: ReceivedAccountRange): void {
    this.verified(work, reply)
  }

  async apply(work: AccountWork, reply: ReceivedAccountRange): Promise<Applied> {
    const { task } = work
    const { bytes, hashes, result } = this.verified(work, reply)
    task.inFlight = false
    const lastKey = hashes.length === 0 ? task.last : hashNumber(hashes[hashes.length - 1])
    const covered = !result.more || lastKey >= task.last
    // A server finishes on the first account past the limit: it is the next task's to count
    const own = lastKey > task.last ? hashes.length - 1 : hashes.length
    const batch: AccountBatch = {
      nodes: result.nodes.filter((n) => n.complete),
      accounts: own,
      bytes,
      pending: 0,
      stale: false,
      next: covered ? task.last + 1n : lastKey + 1n,
      last: covered,
    }
    task.next = batch.next
    task.covered = covered
    task.batches.push(batch)
    // Its storage and code are still waited for: its leaf is among the nodes this batch writes
    await this.queueDependencies(batch, hashes, result.accounts)
    return { items: hashes.length, bytes }
  }

  requeue(work: AccountWork): void {
    work.task.inFlight = false
  }

  private verified(work: AccountWork, reply: ReceivedAccountRange) {
    if (reply.accounts.length === 0 && reply.proof.length === 0) throw new RootUnavailable('empty account range')
    let bytes = 0
    for (const a of reply.accounts) bytes += a.hash.length + a.slimBody.length
    for (const p of reply.proof) bytes += p.length
    checkReplySize(bytes, this.ctx.requestBytes, 'AccountRange')
    const hashes = reply.accounts.map((a) => a.hash)
    const result = verifyAccountRange({
      root: this.ctx.root,
      origin: work.origin,
      limit: work.limit,
      hashes,
      bodies: reply.accounts.map((a) => a.slimBody),
      proof: reply.proof,
      ignoreUnusedProof: true,
    })
    return { bytes, hashes, result }
  }

  // Storage tries and codes of the batch's accounts that are not stored yet; one DB read for all
  private async queueDependencies(
    batch: AccountBatch,
    hashes: Uint8Array[],
    accounts: ReturnType<typeof verifyAccountRange>['accounts'],
  ): Promise<void> {
    const keys: string[] = []
    for (let i = 0; i < accounts.length; i++) {
      keys.push(hasStorage(accounts[i]) ? nodeKey(accounts[i].storageRoot, hashes[i]) : '')
      keys.push(hasCode(accounts[i]) ? codeKey(accounts[i].codeHash) : '')
    }
    const wanted = keys.filter((k) => k !== '')
    if (wanted.length === 0) return
    const found = new Map<string, boolean>()
    const values = await this.ctx.db.getMany(wanted, STATE_ENCODINGS)
    for (const [i, k] of wanted.entries()) found.set(k, values[i] !== undefined)
    const release = () => {
      batch.pending--
    }
    const changed = () => {
      batch.stale = true
      batch.pending--
    }
    const generation = this.ctx.generation
    for (let i = 0; i < accounts.length; i++) {
      const [storageKey, code] = [keys[2 * i], keys[2 * i + 1]]
      // Stored already (by a run that died before its record said so): its saved cursors are done with
      if (storageKey !== '' && found.get(storageKey) === true) this.ctx.storage.forgetSaved(hashes[i])
      if (storageKey !== '' && found.get(storageKey) !== true) {
        batch.pending++
        const resumed = this.ctx.storage.add({
          // A copy: the reply's items may be views into its whole message, which must not live as long
          account: hashes[i].slice(),
          root: accounts[i].storageRoot,
          generation,
          onStored: release,
          onChanged: changed,
        })
        // Its ranges were all fetched before a restart: only its completion from the root is left
        if (resumed !== undefined) await completeStorage(this.ctx, resumed.owner)
      }
      if (code !== '' && found.get(code) !== true) {
        batch.pending++
        this.ctx.codes.want(accounts[i].codeHash, release)
      }
    }
  }

  /**
   * Writes every batch whose storage and code are stored, in each task's order, and moves the task's
   * written cursor past it. Returns the accounts written.
   */
  writeReady(): number {
    let accounts = 0
    for (const task of this.tasks) {
      while (task.batches.length > 0 && task.batches[0].pending === 0) {
        const batch = task.batches.shift() as AccountBatch
        if (!batch.stale) this.ctx.writer.putNodes(batch.nodes)
        task.written = batch.next
        accounts += batch.accounts
      }
    }
    this.ctx.counters.accounts += accounts
    return accounts
  }
}
