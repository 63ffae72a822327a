/**
 * The snap sync's progress record: one versioned JSON document under one key of the client's meta
 * DB, written after the state writes it covers are flushed (so it never claims more than the state
 * DB holds). A killed process reloads it and fetches again at most what was in memory.
 */
import { loadAccountTasks } from '../work/accounttasks.js'
import { emptyCounters } from '../report/status.js'
import { loadStorageTries } from '../work/storagequeue.js'

import type { SavedAccountTask } from '../work/accounttasks.js'
import type { SavedStorageTrie } from '../work/storagequeue.js'
import type { SnapSyncCounters } from '../report/status.js'

/** The meta-DB key of the record */
export const PROGRESS_KEY = 'snapsync:progress'

/** The version written by this code */
export const PROGRESS_VERSION = 1

/** A persisted pivot: numbers and hashes as 0x-hex */
export interface SavedPivot {
  /** Block number of the pivot */
  number: string
  /** Block hash of the pivot */
  hash: string
  /** State root of the pivot header: the root being downloaded */
  stateRoot: string
}

/** The record, version 1 */
export interface SnapProgress {
  /** Format version, {@link PROGRESS_VERSION} */
  version: number
  /** The pivot whose state is being (or was) downloaded; undefined before one is chosen */
  pivot: SavedPivot | undefined
  /** Account tasks of the pivot's state; cursors only cover what is written */
  tasks: SavedAccountTask[]
  /** Large storage tries fetched in sub-ranges, not stored yet; cursors only cover what is written (absent: none) */
  storage?: SavedStorageTrie[]
  /** Totals since the sync began */
  counters: SnapSyncCounters
  /** The pivot's state is complete in the state DB */
  stateComplete: boolean
  /** The client executes from the pivot: the node is synced and the record is history */
  handedOff: boolean
  /** Bytes of replies verified but not yet written when the record was saved (fetched again on resume) */
  unwrittenBytes?: number
}

/** The part of an abstract-level DB the record needs (the client's meta DB fits) */
export interface ProgressDB {
  get(key: string, opts: { keyEncoding: 'utf8'; valueEncoding: 'utf8' }): Promise<string | undefined>
  put(key: string, value: string, opts: { keyEncoding: 'utf8'; valueEncoding: 'utf8' }): Promise<void>
}

const ENC = { keyEncoding: 'utf8', valueEncoding: 'utf8' } as const

/** A fresh record */
export function newProgress(): SnapProgress {
  return {
    version: PROGRESS_VERSION,
    pivot: undefined,
    tasks: [],
    storage: [],
    counters: emptyCounters(),
    stateComplete: false,
    handedOff: false,
  }
}

const isHex = (v: unknown): v is string => typeof v === 'string' && /^0x[0-9a-f]*$/i.test(v)

/** Parses a stored record; throws with the reason when it is not one this code can resume from */
export function parseProgress(json: string): SnapProgress {
  const raw = JSON.parse(json) as Partial<SnapProgress> & { version?: unknown }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error('snap sync progress record: not a JSON object')
  if (raw.version !== PROGRESS_VERSION)
    throw new Error(`snap sync progress record of version ${String(raw.version)}, expected ${PROGRESS_VERSION}`)
  const pivot = raw.pivot
  const pivotOk =
    typeof pivot === 'object' && pivot !== null && isHex(pivot.number) && isHex(pivot.hash) && isHex(pivot.stateRoot)
  if (pivot !== undefined && !pivotOk) throw new Error('snap sync progress record: bad pivot')
  if (!Array.isArray(raw.tasks)) throw new Error('snap sync progress record: no task list')
  // Resuming would throw on a bad cursor: find it here, where a bad record is discarded
  if (raw.tasks.length > 0) loadAccountTasks(raw.tasks)
  const storage = raw.storage ?? []
  loadStorageTries(storage)
  const counters = { ...emptyCounters(), ...(raw.counters ?? {}) }
  for (const [k, v] of Object.entries(counters))
    if (typeof v !== 'number' || v < 0) throw new Error(`snap sync progress record: bad counter ${k}`)
  return {
    version: PROGRESS_VERSION,
    pivot,
    tasks: raw.tasks,
    storage,
    counters,
    stateComplete: raw.stateComplete === true,
    handedOff: raw.handedOff === true,
    unwrittenBytes: typeof raw.unwrittenBytes === 'number' && raw.unwrittenBytes >= 0 ? raw.unwrittenBytes : 0,
  }
}

/** A record this code must not resume from nor replace: written by a newer version */
export class NewerProgressError extends Error {}

// The version of a stored record if it is a newer writer's, else undefined (garbage counts as ours)
function newerVersion(json: string): number | undefined {
  try {
    const version = (JSON.parse(json) as { version?: unknown }).version
    return typeof version === 'number' && Number.isInteger(version) && version > PROGRESS_VERSION ? version : undefined
  } catch {
    return undefined
  }
}

/**
 * Reads and writes the record. A record that is not one this code can resume from (not JSON, a bad
 * field, an unknown version below ours) is discarded with a warning and the state download starts
 * over: the state DB is content-addressed, so nothing stored is wrong, and what is found there is
 * not fetched again. A record of a newer version is refused: that writer's progress (or its finished
 * sync) is not this code's to overwrite.
 */
export class ProgressStore {
  /** @param warn hears why a stored record was discarded */
  constructor(
    private readonly db: ProgressDB,
    private readonly warn: (message: string) => void = () => {},
  ) {}

  /** The stored record, or undefined when there is none (or it was discarded); throws {@link NewerProgressError} */
  async load(): Promise<SnapProgress | undefined> {
    let json: string | undefined
    try {
      json = await this.db.get(PROGRESS_KEY, ENC)
    } catch (err) {
      // abstract-level 1 backends throw for a missing key
      if ((err as { code?: string }).code === 'LEVEL_NOT_FOUND') return undefined
      throw err
    }
    if (json === undefined || json === null) return undefined
    const newer = newerVersion(json)
    if (newer !== undefined) {
      throw new NewerProgressError(
        `the snap sync progress record (meta DB key ${PROGRESS_KEY}) is of version ${newer}, ` +
          `written by a newer ethereumjs-snap than this one (version ${PROGRESS_VERSION}): ` +
          `run that version, or start with a new --dataDir`,
      )
    }
    try {
      return parseProgress(json)
    } catch (err) {
      this.warn(
        `Snap sync: the progress record (meta DB key ${PROGRESS_KEY}) is unreadable (${(err as Error).message}); ` +
          `discarding it and starting the state download over (state already stored is kept and not fetched again)`,
      )
      // Replaced at once: the next load (this run's or the next one's) reads a record, without a warning
      await this.save(newProgress())
      return undefined
    }
  }

  async save(progress: SnapProgress): Promise<void> {
    await this.db.put(PROGRESS_KEY, JSON.stringify(progress), ENC)
  }
}

/** The client's executed head at start-up, as its own databases have it */
export interface ExecutedHead {
  /** Number of the block execution is at (the blockchain's `vm` iterator head); 0n: genesis */
  number: bigint
  /** Its state root is in the state DB */
  stateStored: boolean
}

/** The record to run with and, when it differs from the stored one, why (a line for the log) */
export interface Reconciled {
  progress: SnapProgress | undefined
  /** Set when the record must be saved as `progress` before the sync opens it */
  change?: { level: 'info' | 'warn'; message: string }
}

/**
 * Checks the record against the client's executed head before a run: the two are written apart and
 * a data dir damaged between runs (a deleted or truncated state DB, a lost record) can leave them
 * disagreeing. The state DB is the truth:
 * - handed off, but the head's state is gone: the record starts over, so the state is downloaded
 *   again (the blocks stay); without this the client fails at every block, "State trie does not
 *   contain state root", and never recovers;
 * - no record (none, or discarded) while the client executes from a stored state above genesis (a
 *   node synced by full sync, or whose record was lost): handed off, so the node follows the chain
 *   instead of holding execution for a state download it does not need.
 */
export function reconcileProgress(stored: SnapProgress | undefined, head: ExecutedHead): Reconciled {
  if (stored?.handedOff === true && !head.stateStored) {
    return {
      progress: newProgress(),
      change: {
        level: 'warn',
        message:
          `Snap sync: the state of the executed head, block ${head.number}, is missing from the state DB ` +
          `(a damaged data dir?); downloading the state of a new pivot again (what the DBs still hold is kept)`,
      },
    }
  }
  const started = stored !== undefined && (stored.pivot !== undefined || stored.handedOff)
  if (!started && head.number > 0n && head.stateStored) {
    return {
      progress: { ...(stored ?? newProgress()), handedOff: true, stateComplete: true },
      change: {
        level: 'info',
        message:
          `Snap sync: the client already executes from block ${head.number} ` +
          `and holds its state; no state download needed`,
      },
    }
  }
  return { progress: stored }
}
