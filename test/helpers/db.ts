/**
 * Databases on disk for tests that run on every storage backend (`for (const backend of DB_BACKENDS)`).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { DB_BACKENDS, openBackendDB } from '../../src/db/backend.js'

import type { BackendLevel, DbBackend } from '../../src/db/backend.js'
import type { AbstractDatabaseOptions } from 'abstract-level'

export { DB_BACKENDS }
export type { DbBackend }

/** A database of one backend in a fresh temp dir */
export interface TempDB<K, V> {
  db: BackendLevel<K, V>
  readonly backend: DbBackend
  /** The database's directory, inside a temp dir of its own */
  readonly dir: string
  /** Closes the database and opens it again from its files, as a restarted process does */
  reopen(): Promise<BackendLevel<K, V>>
  /** Closes the database and removes its temp dir */
  close(): Promise<void>
}

/** An open database of `backend` in a fresh temp dir under the OS temp dir */
export async function tempDB<K = string, V = string>(
  backend: DbBackend,
  options?: AbstractDatabaseOptions<K, V>,
): Promise<TempDB<K, V>> {
  const root = mkdtempSync(join(tmpdir(), `snap-${backend}-`))
  const dir = join(root, 'db')
  const temp: TempDB<K, V> = {
    db: openBackendDB<K, V>(dir, backend, options),
    backend,
    dir,
    async reopen() {
      await temp.db.close()
      temp.db = openBackendDB<K, V>(dir, backend, options)
      await temp.db.open()
      return temp.db
    },
    async close() {
      await temp.db.close()
      rmSync(root, { recursive: true, force: true })
    },
  }
  await temp.db.open()
  return temp
}
