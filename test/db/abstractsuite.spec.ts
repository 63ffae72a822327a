/**
 * `RocksLevel` against abstract-level 3's own compliance suite (shipped in the package as
 * `abstract-level/test`, written for tape): every public behaviour of the client's `Level` API, on
 * hundreds of RocksDB directories, and the whole suite again on a sublevel.
 */
import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import tape from 'tape'

import { RocksLevel } from '../../src/db/rockslevel.js'

import type { AbstractDatabaseOptions } from 'abstract-level'

/** The suite's entry point (CommonJS, untyped) */
type Suite = (options: {
  test: unknown
  factory: (options?: AbstractDatabaseOptions<unknown, unknown>) => unknown
}) => void

/** One tape result row in object mode */
interface Row {
  type: string
  name: string
  ok?: boolean
  actual?: unknown
  expected?: unknown
}

describe('[RocksLevel] abstract-level 3 compliance suite', function () {
  // ~800 databases opened and closed: about 10 s on 2 cores
  this.timeout(180_000)

  it('passes every assertion', async () => {
    const suite = createRequire(import.meta.url)('abstract-level/test') as Suite
    const root = mkdtempSync(join(tmpdir(), 'snap-rocks-suite-'))
    let dbs = 0
    const failures: string[] = []
    let passed = 0
    let test = ''
    try {
      const harness = tape.createHarness()
      harness.createStream({ objectMode: true }).on('data', (row: Row) => {
        if (row.type === 'test') test = row.name
        if (row.type !== 'assert') return
        if (row.ok === true) passed++
        else failures.push(`${test}: ${row.name} (actual ${String(row.actual)}, expected ${String(row.expected)})`)
      })
      const finished = new Promise<void>((resolve) => harness.onFinish(() => resolve()))
      suite({ test: harness, factory: (options) => new RocksLevel(join(root, String(dbs++)), options) })
      await finished
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
    assert.deepEqual(failures, [])
    // The suite ran (about 4,000 assertions in abstract-level 3.1), not an empty harness
    assert.ok(passed > 3000, `only ${passed} assertions ran`)
    assert.ok(dbs > 500, `only ${dbs} databases made`)
  })
})
