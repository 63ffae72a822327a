/**
 * What the client and this package rely on from a database, run on each backend: the same assertions
 * pass on the client's own `Level` and on `RocksLevel`, so the two behave alike where it matters.
 */
import { strict as assert } from 'node:assert'

import { openBackendDB } from '../../src/db/backend.js'
import { DB_BACKENDS, tempDB } from '../helpers/db.js'

import type { TempDB } from '../helpers/db.js'

const bytes = (...b: number[]) => Uint8Array.from(b)
const KEYS = ['a', 'b', 'c', 'd', 'e']

/** Range reads over KEYS and what each returns */
const RANGES: {
  name: string
  options: { gt?: string; gte?: string; lt?: string; lte?: string; reverse?: boolean; limit?: number }
  keys: string[]
}[] = [
  { name: 'everything', options: {}, keys: KEYS },
  { name: 'gt', options: { gt: 'b' }, keys: ['c', 'd', 'e'] },
  { name: 'gte', options: { gte: 'b' }, keys: ['b', 'c', 'd', 'e'] },
  { name: 'lt', options: { lt: 'c' }, keys: ['a', 'b'] },
  { name: 'lte', options: { lte: 'c' }, keys: ['a', 'b', 'c'] },
  { name: 'gt and lte', options: { gt: 'a', lte: 'd' }, keys: ['b', 'c', 'd'] },
  { name: 'bounds between keys', options: { gte: 'bb', lt: 'dd' }, keys: ['c', 'd'] },
  { name: 'reverse', options: { reverse: true }, keys: ['e', 'd', 'c', 'b', 'a'] },
  { name: 'reverse within bounds', options: { gte: 'b', lt: 'e', reverse: true }, keys: ['d', 'c', 'b'] },
  { name: 'limit', options: { limit: 2 }, keys: ['a', 'b'] },
  { name: 'reverse with limit', options: { reverse: true, limit: 2 }, keys: ['e', 'd'] },
  { name: 'limit -1 (none)', options: { limit: -1 }, keys: KEYS },
  { name: 'empty range', options: { gt: 'e' }, keys: [] },
]

for (const backend of DB_BACKENDS) {
  describe(`[${backend} backend] the client's Level API`, () => {
    let temp: TempDB<string, string>

    beforeEach(async () => {
      temp = await tempDB(backend)
      await temp.db.batch(KEYS.map((key) => ({ type: 'put' as const, key, value: key.toUpperCase() })))
    })

    afterEach(async () => {
      await temp.close()
    })

    it('a missing key reads as undefined (get, getMany, sublevel), never an error', async () => {
      assert.equal(await temp.db.get('zz'), undefined)
      assert.deepEqual(await temp.db.getMany(['a', 'zz', 'c']), ['A', undefined, 'C'])
      assert.equal(await temp.db.sublevel('s').get('a'), undefined)
      assert.equal(await temp.db.get('zz', { valueEncoding: 'view' }), undefined)
    })

    it('round-trips each encoding the client uses (utf8, view, buffer, json)', async () => {
      const db = temp.db
      await db.put('utf8', 'héllo')
      await db.put(bytes(0, 0xff, 7) as never, bytes(1, 2, 3) as never, { keyEncoding: 'view', valueEncoding: 'view' })
      await db.put('buf', Buffer.from([9, 8]) as never, { valueEncoding: 'buffer' })
      await db.put('json', { n: 1, s: ['x'] } as never, { valueEncoding: 'json' })
      assert.equal(await db.get('utf8'), 'héllo')
      const view = await db.get(bytes(0, 0xff, 7) as never, { keyEncoding: 'view', valueEncoding: 'view' })
      assert.ok((view as unknown) instanceof Uint8Array)
      assert.deepEqual([...(view as unknown as Uint8Array)], [1, 2, 3])
      assert.ok(Buffer.isBuffer(await db.get('buf', { valueEncoding: 'buffer' })))
      assert.deepEqual(await db.get('json', { valueEncoding: 'json' }), { n: 1, s: ['x'] })
      // A binary key with 0x00 and 0xff sorts by its bytes
      const keys = await db.keys({ keyEncoding: 'view', gte: bytes(0) as never, lt: bytes(1) as never }).all()
      assert.deepEqual(
        keys.map((k) => [...(k as unknown as Uint8Array)]),
        [[0, 0xff, 7]],
      )
    })

    it('put, del, array batch and chained batch, each atomic and visible at once', async () => {
      const db = temp.db
      await db.put('f', 'F')
      await db.del('a')
      await db.batch([
        { type: 'put', key: 'g', value: 'G' },
        { type: 'del', key: 'b' },
      ])
      const chained = db.batch().put('h', 'H').del('c').put('i', 'I')
      assert.equal(chained.length, 3)
      await chained.write()
      assert.deepEqual(await db.keys().all(), ['d', 'e', 'f', 'g', 'h', 'i'])
      await assert.rejects(db.batch([{ type: 'put', key: 'x', value: undefined as never }]), {
        code: 'LEVEL_INVALID_VALUE',
      })
      assert.equal(await db.get('x'), undefined, 'a refused batch writes nothing')
    })

    for (const c of RANGES) {
      it(`iterator, keys and values: ${c.name}`, async () => {
        const db = temp.db
        assert.deepEqual(await db.keys(c.options).all(), c.keys)
        assert.deepEqual(
          await db.values(c.options).all(),
          c.keys.map((k) => k.toUpperCase()),
        )
        assert.deepEqual(
          await db.iterator(c.options).all(),
          c.keys.map((k) => [k, k.toUpperCase()]),
        )
        const seen: string[] = []
        for await (const [key] of db.iterator(c.options)) seen.push(key)
        assert.deepEqual(seen, c.keys)
        const it = db.iterator(c.options)
        const batches: string[] = []
        for (let got = await it.nextv(2); got.length > 0; got = await it.nextv(2)) batches.push(...got.map(([k]) => k))
        await it.close()
        assert.deepEqual(batches, c.keys)
      })
    }

    it('seek moves an iterator within its range', async () => {
      const it = temp.db.keys({ lt: 'e' })
      it.seek('c')
      assert.deepEqual(await it.all(), ['c', 'd'])
    })

    it('clear: a range, then everything', async () => {
      await temp.db.clear({ gt: 'a', lte: 'c' })
      assert.deepEqual(await temp.db.keys().all(), ['a', 'd', 'e'])
      await temp.db.clear()
      assert.deepEqual(await temp.db.keys().all(), [])
    })

    it('sublevels keep their keys under a prefix, nested too; clearing one leaves the rest', async () => {
      const sub = temp.db.sublevel<string, unknown>('s', { valueEncoding: 'json' })
      const nested = sub.sublevel<string, string>('t', { valueEncoding: 'utf8' })
      await sub.put('a', { x: 1 })
      await nested.put('a', 'nested')
      assert.deepEqual(await sub.get('a'), { x: 1 })
      assert.equal(await nested.get('a'), 'nested')
      assert.equal(await temp.db.get('a'), 'A')
      // A nested sublevel's keys lie in its parent's range
      assert.deepEqual(await sub.keys().all(), ['!t!a', 'a'])
      await sub.clear()
      assert.equal(await sub.get('a'), undefined)
      assert.equal(await nested.get('a'), undefined)
      assert.equal(await temp.db.get('a'), 'A')
    })

    it('open, close and reopen: status follows, data persists', async () => {
      assert.equal(temp.db.status, 'open')
      await temp.db.close()
      assert.equal(temp.db.status, 'closed')
      await assert.rejects(temp.db.get('a'), { code: 'LEVEL_DATABASE_NOT_OPEN' })
      await temp.db.open()
      assert.equal(await temp.db.get('a'), 'A')
      const db = await temp.reopen()
      assert.deepEqual(await db.keys().all(), KEYS)
    })

    it('a new instance opens itself on first use (deferred open), as the client uses `new Level(dir)`', async () => {
      await temp.db.close()
      temp.db = openBackendDB(temp.dir, backend)
      assert.equal(temp.db.status, 'opening')
      assert.deepEqual(await temp.db.getMany(['a', 'e']), ['A', 'E'])
      assert.equal(temp.db.status, 'open')
    })

    it('a second handle on an open directory fails to open: LEVEL_LOCKED, the first goes on', async () => {
      const second = openBackendDB(temp.dir, backend)
      await assert.rejects(second.open(), (err: Error & { code?: string; cause?: { code?: string } }) => {
        assert.equal(err.code, 'LEVEL_DATABASE_NOT_OPEN')
        assert.equal(err.cause?.code, 'LEVEL_LOCKED')
        return true
      })
      assert.equal(second.status, 'closed')
      assert.equal(await temp.db.get('b'), 'B')
    })

    it('createIfMissing: false refuses a directory without a database; errorIfExists refuses one with it', async () => {
      const missing = openBackendDB(`${temp.dir}-none`, backend, { createIfMissing: false })
      await assert.rejects(missing.open(), { code: 'LEVEL_DATABASE_NOT_OPEN' })
      await temp.db.close()
      const existing = openBackendDB(temp.dir, backend, { errorIfExists: true })
      await assert.rejects(existing.open(), { code: 'LEVEL_DATABASE_NOT_OPEN' })
    })
  })
}
