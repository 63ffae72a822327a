/**
 * Storage backends of the client's databases (`--db`): LevelDB through `level` (the client's own) or
 * RocksDB through `RocksLevel`, and which one made an existing database directory.
 *
 * A directory is opened only with the backend that made it. RocksDB opens a LevelDB directory without
 * complaint and rewrites it in its own format (new MANIFEST, its OPTIONS and IDENTITY files, tables
 * compacted to `.sst`), after which LevelDB refuses it ("Corruption: VersionEdit: unknown tag"): a wrong
 * `--db` would silently convert a data dir for good. So the backend is read from the files first.
 */
import { readdirSync } from 'node:fs'

import { Level } from 'level'

import { RocksLevel } from './rockslevel.js'

import type { AbstractDatabaseOptions, AbstractLevel } from 'abstract-level'

/** Value of `--db` */
export type DbBackend = 'level' | 'rocksdb'

/** Every backend, in `--db`'s order (tests run on each) */
export const DB_BACKENDS: readonly DbBackend[] = Object.freeze(['level', 'rocksdb'])

/** The client's own */
export const DEFAULT_DB_BACKEND: DbBackend = 'level'

/** A database as the client and this package use it: the client's `AbstractLevel` (abstract-level 3) API */
export type BackendLevel<K = string, V = string> = AbstractLevel<string | Uint8Array, K, V>

const ENGINE_NAME: { [B in DbBackend]: string } = { level: 'LevelDB', rocksdb: 'RocksDB' }

/** The backend `value` names (a `--db` value); throws, naming the flag, on anything else */
export function parseDbBackend(value: unknown): DbBackend {
  if (typeof value === 'string' && (DB_BACKENDS as readonly string[]).includes(value)) return value as DbBackend
  throw new Error(`--db must be ${DB_BACKENDS.join(' or ')}, got ${String(value)}`)
}

/**
 * Which backend made the database in `dir`, from files only one engine writes; `undefined` when `dir`
 * holds no database yet (missing or empty). RocksDB writes `IDENTITY` before its first MANIFEST and an
 * `OPTIONS-<n>` file at every open; LevelDB writes neither. Both write `CURRENT` once a database exists.
 */
export function detectBackend(dir: string): DbBackend | undefined {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  if (names.some((name) => name === 'IDENTITY' || name.startsWith('OPTIONS-'))) return 'rocksdb'
  if (names.includes('CURRENT')) return 'level'
  return undefined
}

/** A database directory made by one backend, asked to open with the other */
export class DbBackendMismatchError extends Error {
  constructor(
    readonly dir: string,
    readonly madeBy: DbBackend,
    readonly openedWith: DbBackend,
  ) {
    super(
      `${dir} is a ${ENGINE_NAME[madeBy]} database (made with --db=${madeBy}) ` +
        `and was opened with --db=${openedWith}: ` +
        `use --db=${madeBy} for this data dir (or a new --dataDir). Nothing was changed in it.`,
    )
    this.name = 'DbBackendMismatchError'
  }
}

/** Throws `DbBackendMismatchError` when `dir` holds a database made by another backend than `backend` */
export function checkBackend(dir: string, backend: DbBackend): void {
  const madeBy = detectBackend(dir)
  if (madeBy !== undefined && madeBy !== backend) throw new DbBackendMismatchError(dir, madeBy, backend)
}

/**
 * The database in `dir` with `backend`, after checking that no other backend made it. It opens itself
 * (deferred open, as the client's `new Level(dir)`), or with `await db.open()`.
 */
export function openBackendDB<K = string, V = string>(
  dir: string,
  backend: DbBackend,
  options?: AbstractDatabaseOptions<K, V>,
): BackendLevel<K, V> {
  checkBackend(dir, backend)
  if (backend === 'rocksdb') return new RocksLevel<K, V>(dir, options)
  // level 9 is typed with abstract-level 2, whose public API abstract-level 3 keeps
  return new Level<K, V>(dir, options) as unknown as BackendLevel<K, V>
}
