/**
 * The snap sync's progress record: one versioned JSON document under one key of the client's meta
 * DB, written after the state writes it covers are flushed (so it never claims more than the state
 * DB holds). A killed process reloads it and fetches again at most what was in memory.
 */
import { emptyCounters } from './status.js'

import type { SavedAccountTask } from './accounttasks.js'
import type { SnapSyncCounters } from './status.js'

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
  return { version: PROGRESS_VERSION, pivot: undefined, tasks: [], counters: emptyCounters(), stateComplete: false, handedOff: false }
}

const isHex = (v: unknown): v is string => typeof v === 'string' && /^0x[0-9a-f]*$/i.test(v)

/** Parses a stored record; throws with the reason when it is not one this code can resume from */
export function parseProgress(json: string): SnapProgress {
  const raw = JSON.parse(json) as Partial<SnapProgress> & { version?: unknown }
  if (raw.version !== PROGRESS_VERSION) throw new Error(`snap sync progress record of version ${String(raw.version)}, expected ${PROGRESS_VERSION}`)
  const pivot = raw.pivot
  if (pivot !== undefined && !(isHex(pivot.number) && isHex(pivot.hash) && isHex(pivot.stateRoot))) throw new Error('snap sync progress record: bad pivot')
  if (!Array.isArray(raw.tasks)) throw new Error('snap sync progress record: no task list')
  const counters = { ...emptyCounters(), ...(raw.counters ?? {}) }
  for (const [k, v] of Object.entries(counters)) if (typeof v !== 'number' || v < 0) throw new Error(`snap sync progress record: bad counter ${k}`)
  return {
    version: PROGRESS_VERSION,
    pivot,
    tasks: raw.tasks,
    counters,
    stateComplete: raw.stateComplete === true,
    handedOff: raw.handedOff === true,
    unwrittenBytes: typeof raw.unwrittenBytes === 'number' && raw.unwrittenBytes >= 0 ? raw.unwrittenBytes : 0,
  }
}

/** Reads and writes the record */
export class ProgressStore {
  constructor(private readonly db: ProgressDB) {}

  /** The stored record, or undefined when there is none */
  async load(): Promise<SnapProgress | undefined> {
    let json: string | undefined
    try {
      json = await this.db.get(PROGRESS_KEY, ENC)
    } catch (err) {
      // abstract-level 1 backends throw for a missing key
      if ((err as { code?: string }).code === 'LEVEL_NOT_FOUND') return undefined
      throw err
    }
    return json === undefined || json === null ? undefined : parseProgress(json)
  }

  async save(progress: SnapProgress): Promise<void> {
    await this.db.put(PROGRESS_KEY, JSON.stringify(progress), ENC)
  }
}
