import { strict as assert } from 'node:assert'

import { toHex } from '../../src/trie/hex.js'
import { initKeccak } from '../../src/trie/keccak.js'
import { bytesToNibbles, nibblesToHex } from '../../src/trie/nibbles.js'
import { STATE_ENCODINGS, StateWriter, codeKey, nodeKey } from '../../src/trie/statedb.js'
import { StateWalker } from '../../src/trie/walker.js'

import { DB_BACKENDS } from '../helpers/db.js'

import { loadEthtestState } from './ethtest.js'
import { tempStateDB, writeState } from './helpers.js'

import type { WalkFinding } from '../../src/trie/walker.js'

async function collect(walker: StateWalker, root: Uint8Array): Promise<WalkFinding[]> {
  const out: WalkFinding[] = []
  for await (const f of walker.walk(root)) out.push(f)
  return out
}

for (const backend of DB_BACKENDS)
  describe(`[StateWalker] (${backend})`, () => {
    const accounts = loadEthtestState()
    let db: Awaited<ReturnType<typeof tempStateDB>>
    let root: Uint8Array

    before(async () => {
      await initKeccak()
      db = await tempStateDB(backend)
      root = await writeState(new StateWriter(db.db), accounts)
    })

    after(async () => {
      await db.close()
    })

    it('finds nothing missing in a complete state, with its counts', async () => {
      const walker = new StateWalker(db.db)
      assert.deepEqual(await collect(walker, root), [])
      assert.equal(walker.complete, true)
      assert.equal(walker.stats.accounts, 194)
      assert.equal(walker.stats.slots, 2164)
      assert.equal(walker.stats.codes, 65)
      assert.ok(walker.stats.nodes > 194)
    })

    it('resumes from a path: only the accounts from there on', async () => {
      const walker = new StateWalker(db.db, { from: bytesToNibbles(accounts[100].hash) })
      assert.deepEqual(await collect(walker, root), [])
      assert.equal(walker.stats.accounts, 94)
      assert.equal(nibblesToHex(walker.cursor!), toHex(accounts[193].hash))
    })

    it('names a missing account-trie node, storage-trie node and code, then finds them restored', async () => {
      const withStorage = accounts.find((a) => a.storage.length > 20)!
      const withCode = accounts.find((a) => a.code !== undefined && a.code.length > 0 && a.storage.length === 0)!
      // The root's first child; a storage trie's root; a code
      const rootNode = (await db.db.getMany([nodeKey(root)], STATE_ENCODINGS))[0]!
      const { decodeNode } = await import('../../src/trie/node.js')
      const branch = decodeNode(rootNode)
      assert.equal(branch.kind, 'branch')
      // A child of the root that holds neither of the other two accounts, so that they are still reached
      const avoid = [withStorage.hash[0] >> 4, withCode.hash[0] >> 4]
      const child =
        branch.kind === 'branch'
          ? branch.children.find((c, i) => c !== undefined && !avoid.includes(i))!
          : new Uint8Array(0)
      const removed = [
        nodeKey(child),
        nodeKey(withStorage.body.storageRoot, withStorage.hash),
        codeKey(withCode.body.codeHash),
      ]
      const saved = await db.db.getMany(removed, STATE_ENCODINGS)
      await db.db.batch(
        removed.map((key) => ({ type: 'del' as const, key })),
        STATE_ENCODINGS,
      )
      const walker = new StateWalker(db.db)
      const found = await collect(walker, root)
      assert.equal(walker.complete, false)
      const node = found.find((f) => f.kind === 'node' && f.owner === undefined)
      assert.ok(
        node !== undefined && node.kind === 'node' && toHex(node.hash) === toHex(child) && node.path.length === 1,
      )
      const storage = found.find((f) => f.kind === 'node' && f.owner !== undefined)
      assert.ok(
        storage !== undefined &&
          storage.kind === 'node' &&
          toHex(storage.owner!) === toHex(withStorage.hash) &&
          storage.path.length === 0,
      )
      assert.ok(
        found.some((f) => f.kind === 'code' && toHex(f.codeHash) === toHex(withCode.body.codeHash)),
        JSON.stringify(found.map((f) => f.kind)),
      )
      await db.db.batch(
        removed.map((key, i) => ({ type: 'put' as const, key, value: saved[i]! })),
        STATE_ENCODINGS,
      )
      assert.deepEqual(await collect(new StateWalker(db.db), root), [])
    })

    it('reports a stored node whose bytes do not hash to its key as corrupt', async () => {
      const key = nodeKey(root)
      const [good] = await db.db.getMany([key], STATE_ENCODINGS)
      const bad = good!.slice()
      bad[bad.length - 2] ^= 1
      await db.db.batch([{ type: 'put', key, value: bad }], STATE_ENCODINGS)
      const found = await collect(new StateWalker(db.db), root)
      await db.db.batch([{ type: 'put', key, value: good! }], STATE_ENCODINGS)
      assert.equal(found.length, 1)
      assert.equal(found[0].kind, 'corrupt')
    })
  })
