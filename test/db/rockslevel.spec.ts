/**
 * What `RocksLevel` does about the binding under it, beyond the Level API (behaviour.spec.ts,
 * abstractsuite.spec.ts): batches that let go of their memory, and the lock a crashed process leaves.
 */
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'

import sinon from 'sinon'

import { RocksLevel } from '../../src/db/rockslevel.js'
import { tempDB } from '../helpers/db.js'

/** The binding's chained batch class; test-only deep import (it holds a native WriteBatch until closed) */
const { ChainedBatch } = createRequire(import.meta.url)('@nxtedition/rocksdb/chained-batch.js') as {
  ChainedBatch: { prototype: { _closeSync(): void; _put(...args: unknown[]): void } }
}

describe('[RocksLevel]', () => {
  afterEach(() => sinon.restore())

  it(
    'closes the native batch of every batch it writes ' +
      "(the binding's array batch kept each until the database closed)",
    async () => {
      // The binding's array batch() writes through a chained batch that it never closes: the database keeps
      // it as a resource, native WriteBatch (all its keys and values) included, ~2 MB per 10k-key batch
      const temp = await tempDB<string, Uint8Array>('rocksdb', { valueEncoding: 'view' })
      try {
        const batches = new Set<unknown>()
        const closed = new Set<unknown>()
        const put = sinon.spy(ChainedBatch.prototype, '_put')
        const close = sinon.spy(ChainedBatch.prototype, '_closeSync')
        for (let b = 0; b < 20; b++) {
          await temp.db.batch(
            Array.from({ length: 100 }, (_, i) => ({
              type: 'put' as const,
              key: `${b}-${i}`,
              value: Uint8Array.of(b, i),
            })),
          )
          await temp.db.batch().put(`chained-${b}`, Uint8Array.of(b)).del(`${b}-0`).write()
        }
        for (const call of put.getCalls()) batches.add(call.thisValue)
        for (const call of close.getCalls()) closed.add(call.thisValue)
        assert.equal(batches.size, 40, 'one native batch per batch written')
        assert.equal(
          [...batches].filter((b) => !closed.has(b)).length,
          0,
          'native batches left open while the database is open',
        )
        assert.equal((await temp.db.keys().all()).length, 20 * 100)
      } finally {
        await temp.close()
      }
    },
  )

  it('a process killed while holding the database: the next open takes the lock and finds what it wrote', async () => {
    const temp = await tempDB<string, string>('rocksdb')
    await temp.db.close()
    try {
      // A child writes, says so, and is killed with SIGKILL while the database is open
      const moduleUrl = new URL('../../src/db/rockslevel.ts', import.meta.url).href
      const script = `
        const { RocksLevel } = await import(${JSON.stringify(moduleUrl)})
        const db = new RocksLevel(${JSON.stringify(temp.dir)})
        await db.put('written', 'before the kill')
        process.stdout.write('ready\\n')
        setInterval(() => {}, 1000)
      `
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve())
        child.once('exit', (code) => reject(new Error(`the writer exited with ${code}`)))
      })
      // While it runs, the directory is locked
      const locked = new RocksLevel(temp.dir)
      await assert.rejects(
        locked.open(),
        (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'LEVEL_LOCKED',
      )
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
      const db = new RocksLevel<string, string>(temp.dir)
      assert.equal(await db.get('written'), 'before the kill')
      await db.close()
    } finally {
      await temp.close()
    }
  })
})
