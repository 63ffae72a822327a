import { strict as assert } from 'node:assert'

import { toHex } from '../../src/trie/hex.js'
import { initKeccak } from '../../src/trie/keccak.js'
import { compareBytes } from '../../src/trie/nibbles.js'
import { verifyRange } from '../../src/trie/rangeproof.js'
import { StateWriter } from '../../src/trie/statedb.js'
import { StateWalker } from '../../src/trie/walker.js'

import { buildNodeMap, mergeProofs, proveKey, randomAccountLeaves, rng, tempStateDB } from './helpers.js'

import type { Leaf } from './ethtest.js'
import type { NodeMap } from './helpers.js'

/** Random chunk limits: sorted 32-byte keys, the last one 0xff..ff. */
function randomChunks(count: number, random: () => number): Uint8Array[] {
  const limits = Array.from({ length: count - 1 }, () => new Uint8Array(32).map(() => Math.floor(random() * 256)))
  limits.sort(compareBytes)
  return [...limits, new Uint8Array(32).fill(0xff)]
}

/** First index whose key is >= `key`. */
function lowerBound(leaves: Leaf[], key: Uint8Array): number {
  let lo = 0
  let hi = leaves.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (compareBytes(leaves[mid].key, key) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

function increment(key: Uint8Array): Uint8Array {
  const k = key.slice()
  for (let i = 31; i >= 0 && ++k[i] === 256; i--) k[i] = 0
  return k
}

/**
 * Syncs one chunk [origin, limit] as a snap/1 syncer would: ranges of random size from an honest
 * server (which ends on the first key past the limit), each verified, its nodes written.
 */
async function syncChunk(
  src: { leaves: Leaf[]; root: Uint8Array; nodes: NodeMap },
  origin: Uint8Array,
  limit: Uint8Array,
  random: () => number,
  writer: StateWriter,
  maxRange: number,
): Promise<number> {
  let responses = 0
  for (;;) {
    const from = lowerBound(src.leaves, origin)
    let to = Math.min(src.leaves.length, from + 1 + Math.floor(random() * maxRange))
    // Index of the first key after the limit (the last one a server sends)
    const pastLimit = limit.every((b) => b === 0xff) ? src.leaves.length : lowerBound(src.leaves, increment(limit))
    to = Math.min(to, pastLimit + 1, src.leaves.length)
    const slice = src.leaves.slice(from, to)
    const wholeTrie = from === 0 && to === src.leaves.length && origin.every((b) => b === 0)
    const last = slice.length > 0 ? slice[slice.length - 1].key : origin
    const proof = wholeTrie
      ? []
      : mergeProofs(proveKey(src.nodes, src.root, origin), proveKey(src.nodes, src.root, last))
    const verdict = verifyRange({
      root: src.root,
      origin,
      limit,
      keys: slice.map((l) => l.key),
      values: slice.map((l) => l.value),
      proof,
    })
    writer.putNodes(verdict.nodes)
    await writer.flushIfFull()
    responses++
    if (!verdict.more || slice.length === 0 || compareBytes(last, limit) >= 0) return responses
    origin = increment(last)
  }
}

describe('[verifyRange + StackTrieBuilder + StateWalker] property', () => {
  before(async () => {
    await initKeccak()
  })

  const cases = [
    { size: 1, seed: 1 },
    { size: 2, seed: 2 },
    { size: 7, seed: 3 },
    { size: 100, seed: 4 },
    { size: 1000, seed: 5 },
    { size: 10_000, seed: 6 },
    { size: 100_000, seed: 7 },
  ]
  for (const c of cases) {
    it(
      `random trie of ${c.size} leaves, random chunks and range sizes: ` +
        `DB holds every node of the root (seed ${c.seed})`,
      async function () {
        this.timeout(180_000)
        const random = rng(c.seed)
        const leaves = randomAccountLeaves(c.size, random)
        const src = { leaves, ...buildNodeMap(leaves) }
        const { db, close } = await tempStateDB()
        try {
          const writer = new StateWriter(db)
          const limits = randomChunks(1 + Math.floor(random() * 16), random)
          let origin: Uint8Array = new Uint8Array(32)
          const maxRange = 1 + Math.floor(random() * Math.min(5000, c.size))
          for (const limit of limits) {
            await syncChunk(src, origin, limit, random, writer, maxRange)
            if (limit.every((b) => b === 0xff)) break
            origin = increment(limit)
          }
          await writer.flush()
          const walker = new StateWalker(db)
          const findings: unknown[] = []
          for await (const f of walker.walk(src.root)) findings.push(f)
          assert.deepEqual(findings, [], 'the walker finds nothing missing')
          assert.equal(walker.stats.accounts, leaves.length)
          assert.equal(walker.stats.nodes, src.nodes.size, 'every node of the trie, no more')
          for await (const [key] of db.iterator({ keyEncoding: 'utf8', valueEncoding: 'view' })) {
            assert.ok(src.nodes.has(key), `written node ${key} belongs to the trie`)
          }
          assert.ok(src.nodes.has(toHex(src.root)))
        } finally {
          await close()
        }
      },
    )
  }
})
