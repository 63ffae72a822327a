import { strict as assert } from 'node:assert'

import { MerklePatriciaTrie } from '@ethereumjs/mpt'

import { encodeFullAccount } from '../../src/trie/account.js'
import { toHex, toHex0x } from '../../src/trie/hex.js'
import { initKeccak } from '../../src/trie/keccak.js'
import { EMPTY_ROOT, StackTrieBuilder } from '../../src/trie/stackbuilder.js'
import { StateWriter } from '../../src/trie/statedb.js'
import { StateWalker } from '../../src/trie/walker.js'

import { ETHTEST_ROOT, loadEthtestState } from './ethtest.js'
import { buildNodeMap, randomAccountLeaves, randomLeaves, rng, tempStateDB } from './helpers.js'

import type { Leaf } from './ethtest.js'

describe('[StackTrieBuilder]', () => {
  before(async () => {
    await initKeccak()
  })

  it('builds the ethtest state root (block 600) and every storage root from sorted leaves', () => {
    const accounts = loadEthtestState()
    const builder = new StackTrieBuilder()
    for (const a of accounts) {
      const storage = new StackTrieBuilder()
      for (const s of a.storage) storage.addLeaf(s.key, s.value)
      assert.equal(toHex0x(storage.finish()), toHex0x(a.body.storageRoot))
      builder.addLeaf(a.hash, encodeFullAccount(a.body))
    }
    assert.equal(toHex0x(builder.finish()), ETHTEST_ROOT)
  })

  it("agrees with @ethereumjs/mpt on random tries of 0..600 leaves, and stores exactly mpt's nodes", async () => {
    const random = rng(7)
    for (const n of [0, 1, 2, 3, 16, 17, 100, 600]) {
      const leaves = randomLeaves(n, random)
      const trie = new MerklePatriciaTrie()
      for (const l of leaves) await trie.put(l.key, l.value)
      const { root, nodes } = buildNodeMap(leaves)
      assert.equal(toHex(root), toHex(trie.root()), `root of ${n} leaves`)
      for (const [hash, rlp] of nodes)
        assert.equal(toHex((await trie.database().get(Buffer.from(hash, 'hex')))!), toHex(rlp))
    }
  })

  it('handles embedded (under 32 bytes) leaves deep in the trie', async () => {
    // Keys sharing 62 nibbles: leaves with a 1-byte value are shorter than 32 bytes and embedded
    const base = new Uint8Array(32).fill(0x42)
    const leaves: Leaf[] = [0x01, 0x02, 0x13, 0x20].map((last) => ({
      key: Uint8Array.of(...base.subarray(0, 31), last),
      value: Uint8Array.of(last),
    }))
    const trie = new MerklePatriciaTrie()
    for (const l of leaves) await trie.put(l.key, l.value)
    assert.equal(toHex(buildNodeMap(leaves).root), toHex(trie.root()))
  })

  it('returns the empty root for no items and refuses items out of order', () => {
    assert.equal(toHex(new StackTrieBuilder().finish()), toHex(EMPTY_ROOT))
    const b = new StackTrieBuilder()
    b.addLeaf(new Uint8Array(32).fill(2), Uint8Array.of(1))
    assert.throws(() => b.addLeaf(new Uint8Array(32).fill(1), Uint8Array.of(1)), { name: 'ItemOrderError' })
    assert.throws(() => b.addLeaf(new Uint8Array(32).fill(2), Uint8Array.of(1)), { name: 'ItemOrderError' })
  })

  it('chunks built with open edges write only real nodes, and healing from the walker completes the trie', async () => {
    const leaves = randomAccountLeaves(3000, rng(11))
    const source = buildNodeMap(leaves)
    const { db, close } = await tempStateDB()
    try {
      const writer = new StateWriter(db)
      const cuts = [0, 700, 1400, 2222, 3000]
      for (let c = 0; c + 1 < cuts.length; c++) {
        // Leaves only, no proof: nodes on the chunk's edge paths cannot be known and must not be written
        const b = new StackTrieBuilder({ sink: writer.sink(), openLeft: c > 0, openRight: c + 2 < cuts.length })
        for (const l of leaves.slice(cuts[c], cuts[c + 1])) b.addLeaf(l.key, l.value)
        b.finish()
      }
      const written = writer.nodes
      await writer.flush()
      for await (const [key] of db.iterator({ keyEncoding: 'utf8', valueEncoding: 'view' })) {
        assert.ok(source.nodes.has(key), `chunk wrote ${key}, which is not a node of the trie`)
      }
      // Heal: fetch what the walker reports from the source, until nothing is missing
      let rounds = 0
      for (;;) {
        const walker = new StateWalker(db)
        let missing = 0
        for await (const f of walker.walk(source.root)) {
          assert.equal(f.kind, 'node', 'only missing nodes, never a corrupt one')
          if (f.kind !== 'node') continue
          writer.putNode(f.hash, source.nodes.get(toHex(f.hash))!)
          missing++
        }
        await writer.flush()
        if (missing === 0) {
          assert.equal(walker.stats.accounts, leaves.length)
          break
        }
        rounds++
      }
      assert.ok(rounds > 0 && rounds <= 8, `healed in ${rounds} rounds`)
      assert.ok(written < source.nodes.size, 'the edge nodes were left out')
    } finally {
      await close()
    }
  })
})
