/**
 * One state sync under test: a `StateSync` over scripted fake peers into its own DB, with small
 * requests (many replies), short idle waits and short peer timeouts, every event recorded, run under
 * a watchdog, and checked at the end by walking the DB from the source root.
 */
import { strict as assert } from 'node:assert'

import { AccountTask, newAccountTasks, saveAccountTasks } from '../../src/sync/work/accounttasks.js'
import { MAX_HASH } from '../../src/sync/work/hashrange.js'
import { DEFAULT_TRACKER_OPTIONS, PeerTracker } from '../../src/sync/peers/peertracker.js'
import { DEFAULT_STATE_SYNC_OPTIONS, StateSync } from '../../src/sync/scheduler/statesync.js'
import { emptyCounters } from '../../src/sync/report/status.js'
import { toHex0x } from '../../src/trie/hex.js'
import { STATE_ENCODINGS, nodeKey } from '../../src/trie/statedb.js'

import { assertSynced } from './checkstate.js'
import { emptyStateLevel } from './fakestate.js'
import { FakePeerSource } from './fakepeer.js'

import type { FakeSnapPeer, SnapKind } from './fakepeer.js'
import type { FakeState, StateLevel } from './fakestate.js'
import type { SavedAccountTask } from '../../src/sync/work/accounttasks.js'
import type { SavedStorageTrie } from '../../src/sync/work/storagequeue.js'
import type { PeerTrackerOptions } from '../../src/sync/peers/peertracker.js'
import type { DropReason } from '../../src/sync/peers/snappeer.js'
import type { StateSyncOptions } from '../../src/sync/scheduler/statesync.js'
import type { SnapSyncCounters } from '../../src/sync/report/status.js'
import type { WalkStats } from '../../src/trie/walker.js'

/** 16 KiB requests: the default state takes dozens of replies; 20 ms idle waits; a record at every turn */
export const TEST_SYNC_OPTIONS: StateSyncOptions = Object.freeze({
  ...DEFAULT_STATE_SYNC_OPTIONS,
  idleWaitMs: 20,
  requestBytes: 16 * 1024,
  persistIntervalMs: 0,
})

/** Timeouts of 100..400 ms (200 ms before a peer's first reply): a silent peer is dropped within a second */
export const TEST_TRACKER_OPTIONS: PeerTrackerOptions = Object.freeze({
  ...DEFAULT_TRACKER_OPTIONS,
  minTimeoutMs: 100,
  maxTimeoutMs: 400,
})

/** A run that has not ended by then is aborted (mocha's own timeout is above it) */
export const WATCHDOG_MS = 15_000

/** Options of a {@link SyncRun}, all optional */
export interface SyncRunOptions {
  /** The target DB. Default: a fresh empty one */
  readonly db?: StateLevel
  /** The account tasks. Default: `newAccountTasks(accountTasks)` */
  readonly tasks?: AccountTask[]
  /** Default 4 */
  readonly accountTasks?: number
  /** Default: zeroed */
  readonly counters?: SnapSyncCounters
  /** Large storage tries of a progress record to resume. Default: none */
  readonly storage?: SavedStorageTrie[]
  /** Changes to {@link TEST_SYNC_OPTIONS} */
  readonly sync?: Partial<StateSyncOptions>
  /** Changes to {@link TEST_TRACKER_OPTIONS} */
  readonly tracker?: Partial<PeerTrackerOptions>
  /** Called at every persist, after {@link SyncRun.saved} is updated */
  readonly onPersist?: (run: SyncRun) => void
  /** Called whenever the sync reports that it waits */
  readonly onWaiting?: (why: string, run: SyncRun) => void
  /** Called whenever the sync keeps a peer that timed out too often (the only one with the state) */
  readonly onKept?: (id: string, run: SyncRun) => void
}

/** A drop as the sync reported it through its events */
export interface ReportedDrop {
  readonly id: string
  readonly reason: DropReason
  readonly detail: string
}

/** See the module comment */
export class SyncRun {
  readonly db: StateLevel
  readonly tasks: AccountTask[]
  readonly counters: SnapSyncCounters
  readonly source: FakePeerSource
  readonly sync: StateSync
  /** Aborts the run (the watchdog aborts it too) */
  readonly abort = new AbortController()
  /** The account tasks as saved at the last persist */
  saved: SavedAccountTask[] | undefined
  /** The large storage tries as saved at the last persist */
  savedStorage: SavedStorageTrie[] | undefined
  persists = 0
  readonly waits: string[] = []
  readonly drops: ReportedDrop[] = []
  /** Peers kept after too many timeouts, as reported: id and detail */
  readonly kept: { readonly id: string; readonly detail: string }[] = []

  constructor(
    readonly state: FakeState,
    peers: FakeSnapPeer[],
    opts: SyncRunOptions = {},
  ) {
    this.db = opts.db ?? emptyStateLevel()
    this.tasks = opts.tasks ?? newAccountTasks(opts.accountTasks ?? 4)
    this.counters = opts.counters ?? emptyCounters()
    this.source = new FakePeerSource(peers)
    const events = {
      persist: async () => {
        this.persists++
        this.saved = saveAccountTasks(this.tasks)
        this.savedStorage = this.sync.ctx.storage.save()
        opts.onPersist?.(this)
      },
      waiting: (why: string) => {
        this.waits.push(why)
        opts.onWaiting?.(why, this)
      },
      peerDropped: (id: string, reason: DropReason, detail: string) => this.drops.push({ id, reason, detail }),
      peerKept: (id: string, detail: string) => {
        this.kept.push({ id, detail })
        opts.onKept?.(id, this)
      },
    }
    const options = { ...TEST_SYNC_OPTIONS, ...opts.sync }
    this.sync = new StateSync(
      this.db,
      this.source,
      state.root,
      this.tasks,
      this.counters,
      events,
      options,
      new PeerTracker({ ...TEST_TRACKER_OPTIONS, ...opts.tracker }),
    )
    this.sync.ctx.storage.restore(opts.storage ?? [])
  }

  /** Runs the sync until it ends, is aborted, or the watchdog fires */
  run(): Promise<void> {
    return this.sync.run(AbortSignal.any([this.abort.signal, AbortSignal.timeout(WATCHDOG_MS)]))
  }

  /** Runs the sync, then checks that the DB holds the root and the whole state; returns the walk's counts */
  async complete(): Promise<WalkStats> {
    await this.run()
    assert.ok(await rootStored(this.db, this.state.root), `root ${toHex0x(this.state.root)} not stored`)
    return assertSynced(this.db, this.state)
  }
}

/** An `onKept` that connects `peer` once the sync has kept a peer `times` times (it was the only one) */
export function joinWhenKept(peer: FakeSnapPeer, times = 1): NonNullable<SyncRunOptions['onKept']> {
  let kept = 0
  return (_, run) => {
    if (++kept === times) run.source.add(peer)
  }
}

/** An `onWaiting` that connects `peer`, once, when no other peer is left (the others were dropped) */
export function joinWhenAlone(peer: FakeSnapPeer): NonNullable<SyncRunOptions['onWaiting']> {
  let joined = false
  return (_, run) => {
    if (joined || run.source.peers().length > 0) return
    joined = true
    run.source.add(peer)
  }
}

/** The rejection of a run that was aborted */
export const isAbort = (err: unknown): boolean => (err as Error).name === 'AbortError'

/** Tasks of a sync whose ranges are all done: whatever the DB lacks comes from the root down */
export function healOnlyTasks(): AccountTask[] {
  return [new AccountTask(0n, MAX_HASH, MAX_HASH + 1n, true)]
}

/** True when `db` holds the node `root` of the account trie */
export async function rootStored(db: StateLevel, root: Uint8Array): Promise<boolean> {
  const [node] = await db.getMany([nodeKey(root)], STATE_ENCODINGS)
  return node !== undefined
}

/** Requests a fake peer received, all kinds together */
export function requestsOf(
  peer: FakeSnapPeer,
  kinds: readonly SnapKind[] = ['accounts', 'storage', 'codes', 'nodes'],
): number {
  return kinds.reduce((n, k) => n + peer.stats[k].requests, 0)
}
