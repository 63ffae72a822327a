/**
 * The state sync of one pivot root: the scheduler loop that owns every task, hands work to the peers
 * that can take it, and applies the verified replies one at a time. Kinds of work are strategies
 * (work/*.ts); the order in which idle capacity is offered to them (trie nodes, codes, storage, then
 * new account ranges) drains the work that holds account batches in memory before fetching more.
 *
 * Concurrency rule: requests run concurrently, but only this loop mutates tasks and queues; a reply
 * is handled after the loop takes it from the results queue.
 *
 * The pivot can move (`moveTo`) while the sync runs: every range, batch and code already received is
 * kept, account tasks continue from their cursors under the new root, and replies to requests of the
 * old root are put back without judging the peer, but for codes and trie nodes: each is checked by its
 * hash alone, so such a reply is applied as if asked under the new root. What no longer verifies (storage of an account
 * that changed) is left to the completion from the new root, which fetches only what is not stored.
 *
 * Tail: when an idle peer finds no new work while a much slower peer holds some (the last pieces of a
 * phase, healing's waves), the same work is asked of the idle peer too; the first reply that verifies
 * is applied and the other only verified, so that its peer is still judged by what it sent
 * (BitTorrent's "endgame", a hedged request; which work is hedged: hedge.ts). Without it a sync ends at the pace of
 * its slowest peer's last round trip.
 */
import { LocalStateError, STATE_ENCODINGS, StateWriter, localReads, nodeKey } from '../../trie/statedb.js'
import { toHex } from '../../trie/hex.js'

import { accountSpaceDone } from '../work/accounttasks.js'
import { CodeQueue } from '../work/codequeue.js'
import { classify, payloadBytes } from '../peers/faults.js'
import { PeerJudge } from '../peers/peerjudge.js'
import { PeerTracker } from '../peers/peertracker.js'
import { RequestRate } from './requestrate.js'
import { StorageQueue } from '../work/storagequeue.js'
import { pickHedge } from './hedge.js'
import { measurePendingWork } from './pendingwork.js'
import { TrieSync } from '../work/triesync.js'
import { AccountRanges, MAX_PENDING_BATCHES } from '../work/accounts.js'
import { ByteCodes } from '../work/codes.js'
import { StorageRanges } from '../work/storage.js'
import { TrieNodes } from '../work/trienodes.js'

import type { AccountTask } from '../work/accounttasks.js'
import type { TrackedPeer } from '../peers/peertracker.js'
import type { Failure } from '../peers/faults.js'
import type { PeerJudgeEvents } from '../peers/peerjudge.js'
import type { SnapPeerSource } from '../peers/snappeer.js'
import type { SnapSyncCounters } from '../report/status.js'
import type { AnyKind, HedgeGroup, InFlight } from './hedge.js'
import type { PendingWork } from './pendingwork.js'
import type { SyncContext } from '../work/kind.js'
import type { StateStore } from '../../trie/index.js'

/** What the state sync reports to its owner */
export interface StateSyncEvents extends PeerJudgeEvents {
  /** The sync waits for peers (none connected); says why, for the log */
  waiting?(why: string): void
  /** Everything up to the cursors is written: persist the progress now */
  persist(): Promise<void>
}

/** Frozen options of a state sync */
export interface StateSyncOptions {
  /**
   * Bytes asked for per request. Why 512 KiB: geth's request size; big enough to amortise a round
   * trip and a proof, small enough to stream from a slow peer within the timeout.
   */
  readonly requestBytes: number
  /** Minimum ms between progress records (they are also written when the sync ends) */
  readonly persistIntervalMs: number
  /** ms to wait for a reply or a new peer before looking again */
  readonly idleWaitMs: number
  /** `--snapRequestRate`: requests a second at most, over all peers; 0 or absent: no cap */
  readonly requestsPerSecond?: number
  /** Account batches held in memory at most; absent: {@link MAX_PENDING_BATCHES} */
  readonly maxPendingBatches?: number
}

export const DEFAULT_STATE_SYNC_OPTIONS: StateSyncOptions = Object.freeze({
  requestBytes: 512 * 1024,
  persistIntervalMs: 2_000,
  idleWaitMs: 1_000,
})

/** The pivot's state cannot be had from the connected peers: every one answered empty for it */
export class RootUnavailableError extends Error {
  override name = 'RootUnavailableError'
}

type Result =
  | { req: InFlight; reply: unknown; error?: undefined }
  | { req: InFlight; reply?: undefined; error: unknown }

/** See the module comment */
export class StateSync {
  readonly ctx: SyncContext
  readonly accounts: AccountRanges
  readonly tracker: PeerTracker
  private readonly judge: PeerJudge
  private readonly kinds: AnyKind[]
  private rootHex: string
  /** A root to move to, taken at the top of the next loop turn */
  private nextRoot: Uint8Array | undefined
  private readonly results: Result[] = []
  /** Requests sent and not yet handled */
  private readonly pending = new Set<InFlight>()
  private wake: (() => void) | undefined
  private rootQueued = false
  private complete = false
  /** `run` ended with the state complete under the last root asked for */
  private finished = false
  private lastPersist = 0
  private readonly rate: RequestRate | undefined

  constructor(
    db: StateStore,
    private readonly source: SnapPeerSource,
    root: Uint8Array,
    tasks: AccountTask[],
    counters: SnapSyncCounters,
    private readonly events: StateSyncEvents,
    private readonly opts: StateSyncOptions = DEFAULT_STATE_SYNC_OPTIONS,
    tracker?: PeerTracker,
  ) {
    const [reads, writer, codes] = [localReads(db), new StateWriter(db), new CodeQueue()]
    this.ctx = {
      root,
      generation: 0,
      db: reads,
      writer,
      counters,
      storage: new StorageQueue(),
      codes,
      trie: new TrieSync(reads, writer, codes),
      requestBytes: opts.requestBytes,
      maxPendingBatches: opts.maxPendingBatches ?? MAX_PENDING_BATCHES,
    }
    this.rootHex = toHex(root)
    this.accounts = new AccountRanges(this.ctx, tasks)
    this.tracker = tracker ?? new PeerTracker()
    this.judge = new PeerJudge(this.tracker, source, events)
    this.kinds = [
      new TrieNodes(this.ctx),
      new ByteCodes(this.ctx),
      new StorageRanges(this.ctx),
      this.accounts,
    ] as AnyKind[]
    this.rate = (opts.requestsPerSecond ?? 0) > 0 ? new RequestRate(opts.requestsPerSecond as number) : undefined
  }

  /** True once the phase of ranges is over and only completion (healing) remains */
  get healing(): boolean {
    return this.rootQueued
  }

  /** Fraction of the account hash space written */
  get accountSpaceDone(): number {
    return accountSpaceDone(this.accounts.tasks)
  }

  /** Trie nodes waiting to be fetched or written */
  get healPending(): number {
    return this.ctx.trie.pending
  }

  /** What the sync holds in memory for work not yet written (pendingwork.ts) */
  pendingWork(): PendingWork {
    return measurePendingWork(this.accounts.tasks, this.ctx, this.pending.size + this.results.length)
  }

  /** The root being synced */
  get root(): Uint8Array {
    return this.nextRoot ?? this.ctx.root
  }

  /**
   * Moves the sync to the state root of a newer pivot, at the loop's next turn (see the module
   * comment). Call it while `run` runs, or before running again after a RootUnavailableError.
   * False when `run` has already ended complete: the move is refused and the completed root stands.
   */
  moveTo(root: Uint8Array): boolean {
    // Once `run` has returned complete, its owner has taken that root's state: no move any more
    if (this.finished) return false
    this.nextRoot = root
    this.wake?.()
    return true
  }

  /** Runs until the state under the root is complete in the DB; throws RootUnavailableError or on abort */
  async run(signal: AbortSignal): Promise<void> {
    try {
      // A stored root has its whole subtree stored (every writer here keeps that true): done already
      const [stored] = await this.ctx.db.getMany([nodeKey(this.ctx.root)], STATE_ENCODINGS)
      this.complete = stored !== undefined
      // A move that comes while the old root completes, or while the last record is written, is taken:
      // the sync ends complete only under the root its owner last asked for
      for (;;) {
        await this.runUntilComplete(signal)
        await this.maybePersist(true)
        if (this.nextRoot === undefined) break
      }
      this.finished = true
    } finally {
      // Replies not handled yet are dropped; their work is fetched again by the next run
      for (const { req } of this.results.splice(0)) {
        this.release(req)
        if (req.group.holders === 0 && !req.group.settled) req.kind.requeue(req.work)
      }
    }
  }

  private async runUntilComplete(signal: AbortSignal): Promise<void> {
    while (!this.complete || this.nextRoot !== undefined) {
      signal.throwIfAborted()
      if (this.nextRoot !== undefined) this.applyMove(this.nextRoot)
      await this.ctx.trie.deliverKnown()
      this.accounts.writeReady()
      if (this.accounts.done && !this.rootQueued && this.ctx.storage.pending === 0 && this.ctx.codes.pending === 0) {
        // The ranges are written: what their edges left open is completed from the root down
        this.rootQueued = true
        await this.ctx.writer.flush()
        await this.ctx.trie.addRoot(this.ctx.root, undefined, () => {
          this.complete = true
        })
        continue
      }
      const started = this.dispatch()
      if (started === 0 && this.pending.size === 0) this.reportIdle()
      await this.nextResult(signal)
      while (this.results.length > 0) await this.handle(this.results.shift() as Result)
      await this.ctx.writer.flushIfFull()
      await this.maybePersist(false)
    }
  }

  private applyMove(root: Uint8Array): void {
    this.nextRoot = undefined
    this.complete = false
    this.ctx.root = root
    this.ctx.generation++
    this.rootHex = toHex(root)
    // The completion of the old root is given up; the nodes it fetched are kept for the new one
    if (this.ctx.trie.pending > 0) {
      this.ctx.trie = new TrieSync(this.ctx.db, this.ctx.writer, this.ctx.codes, this.ctx.trie.abandon())
    }
    this.rootQueued = false
  }

  // Offers every idle peer's capacity to the kinds in priority order; returns the requests started
  private dispatch(): number {
    let started = 0
    this.tracker.sync(this.source.peers())
    for (const t of this.tracker.idle('accounts', this.rootHex)) {
      while (this.tracker.canTake(t)) {
        if (this.rate !== undefined && this.rate.msUntilNext() > 0) return started
        const kind = this.kinds.find((k) => this.trySend(t, k))
        if (kind === undefined && !this.hedge(t)) break
        started++
      }
    }
    return started
  }

  // Starts a request of `kind` to `t` if the kind has work
  private trySend(t: TrackedPeer, kind: AnyKind): boolean {
    const work = kind.pick(this.tracker.itemsFor(t, kind.kind))
    if (work === undefined) return false
    this.send(t, kind, work)
    return true
  }

  // Asks idle `t` to hedge the work held by the peer expected to answer last, when that pays (see hedge.ts)
  private hedge(t: TrackedPeer): boolean {
    const best = pickHedge(this.pending, t, this.ctx.generation, Date.now())
    if (best === undefined) return false
    best.group.hedged = true
    this.send(t, best.kind, best.work, best.group)
    this.ctx.counters.hedgedRequests++
    return true
  }

  private send(
    t: TrackedPeer,
    kind: AnyKind,
    work: unknown,
    group: HedgeGroup = { holders: 0, settled: false, hedged: false },
  ): void {
    this.rate?.tryTake()
    const bytes = this.tracker.bytesFor(t, this.ctx.requestBytes)
    const req: InFlight = { peer: t, kind, work, bytes, started: Date.now(), generation: this.ctx.generation, group }
    group.holders++
    this.pending.add(req)
    t.inFlight++
    kind.fetch(t.peer, work, this.tracker.timeoutFor(t), bytes).then(
      (reply) => this.settle({ req, reply }),
      (error: unknown) => this.settle({ req, error }),
    )
  }

  private settle(result: Result): void {
    this.results.push(result)
    this.wake?.()
  }

  private nextResult(signal: AbortSignal): Promise<void> {
    // Results already waiting: still yield to the event loop, so that timers (timeouts, abort) run
    // even when every request fails at once
    if (this.results.length > 0) return new Promise((resolve) => setImmediate(resolve))
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.wake = undefined
        resolve()
      }
      // Under a request rate, look again when the next request may go
      const wait =
        this.rate === undefined
          ? this.opts.idleWaitMs
          : Math.min(this.opts.idleWaitMs, Math.max(1, this.rate.msUntilNext()))
      const timer = setTimeout(done, wait)
      signal.addEventListener('abort', done)
      this.wake = done
    })
  }

  // The request no longer counts against its peer or its hedge group
  private release(req: InFlight): void {
    req.peer.inFlight--
    req.group.holders--
    this.pending.delete(req)
  }

  private async handle(result: Result): Promise<void> {
    const { req } = result
    const { group } = req
    this.release(req)
    const moved = req.generation !== this.ctx.generation
    if (moved && !group.settled && result.reply !== undefined && req.kind.byHash) {
      // Asked under a root the sync has moved from, but checked by hashes alone: used, not asked again
      if (await this.applyMoved(req, result.reply)) return
    }
    if (result.reply !== undefined && (group.settled || moved)) {
      this.ctx.counters.wastedBytes += payloadBytes(result.reply)
    }
    if (group.settled) {
      // The hedge's other request was applied first. This reply still tells about its peer: a liar
      // whose work was hedged must not escape by answering second
      const failure = result.error !== undefined ? classify(result.error) : this.judgeLate(req, result.reply)
      if (failure !== undefined) this.judge.failed(req.peer, req.kind.kind, failure, req.started, this.rootHex)
      return
    }
    // The work goes back only when no other request for it may still bring it
    const requeue = () => group.holders === 0 && req.kind.requeue(req.work)
    if (moved) {
      // Asked under a root the sync has moved from: the work is asked again, the peer not judged
      requeue()
      return
    }
    let failure: Failure | undefined
    if (result.error !== undefined) {
      failure = classify(result.error)
    } else {
      try {
        const applied = await req.kind.apply(req.work, result.reply)
        group.settled = true
        this.ctx.counters.bytes += applied.bytes
        if (this.rootQueued && req.kind.kind === 'nodes') this.ctx.counters.healedNodes += applied.items
        this.tracker.delivered(req.peer, req.kind.kind, applied.items, Date.now() - req.started, applied.bytes)
        return
      } catch (err) {
        // The local DB failed, not the peer: the sync stops (its owner starts again from the record)
        if (err instanceof LocalStateError) throw err
        failure = classify(err)
      }
    }
    requeue()
    if (result.reply !== undefined) this.ctx.counters.wastedBytes += payloadBytes(result.reply)
    this.judge.failed(req.peer, req.kind.kind, failure, req.started, this.rootHex)
  }

  // Applies a reply asked under an older root (see WorkKind.byHash); false when it does not verify: the
  // peer is not judged, as it may no longer serve that root (its work is asked again)
  private async applyMoved(req: InFlight, reply: unknown): Promise<boolean> {
    try {
      const applied = await req.kind.apply(req.work, reply)
      req.group.settled = true
      this.ctx.counters.bytes += applied.bytes
      return true
    } catch (err) {
      if (err instanceof LocalStateError) throw err
      return false
    }
  }

  // A reply to work already applied: verified only (under the root it was asked for), never applied
  private judgeLate(req: InFlight, reply: unknown): Failure | undefined {
    if (req.generation !== this.ctx.generation) return undefined
    try {
      req.kind.verify(req.work, reply)
      return undefined
    } catch (err) {
      return classify(err)
    }
  }

  private reportIdle(): void {
    const peers = this.tracker.sync(this.source.peers())
    if (peers.length === 0) {
      const why = this.source.whyNone?.()
      this.events.waiting?.(`no snap peers connected${why === undefined ? '' : ` (${why})`}`)
      return
    }
    if (peers.every((t) => t.lacksRoot.has(this.rootHex))) {
      throw new RootUnavailableError(`none of ${peers.length} peers has state root 0x${this.rootHex}`)
    }
  }

  private async maybePersist(force: boolean): Promise<void> {
    const now = Date.now()
    if (!force && now - this.lastPersist < this.opts.persistIntervalMs) return
    this.lastPersist = now
    // Nodes first: the record must never claim more than the DB holds
    await this.ctx.writer.flush()
    await this.events.persist()
  }
}
