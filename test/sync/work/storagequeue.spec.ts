import { strict as assert } from 'node:assert'

import { MAX_HASH, hashBytes, hashNumber } from '../../../src/sync/work/hashrange.js'
import { StorageQueue, splitLargeStorage } from '../../../src/sync/work/storagequeue.js'
import { toHex0x } from '../../../src/trie/hex.js'

import type { SavedStorageTrie, StorageOwner } from '../../../src/sync/work/storagequeue.js'

const HALF = MAX_HASH >> 1n
const hex = (n: bigint) => toHex0x(hashBytes(n))

/** An owner that counts its callbacks */
function owner(account: number, root: number): StorageOwner & { stored: number; changed: number } {
  const o = {
    account: hashBytes(BigInt(account)),
    root: hashBytes(BigInt(root)),
    generation: 0,
    stored: 0,
    changed: 0,
    onStored: () => o.stored++,
    onChanged: () => o.changed++,
  }
  return o
}

/** The record of one trie of account 1 under root 2, its key space in two sub-ranges, the first begun */
function saved(): SavedStorageTrie[] {
  return [
    {
      account: hex(1n),
      root: hex(2n),
      ranges: [
        { first: hex(0n), last: hex(HALF), next: hex(100n) },
        { first: hex(HALF + 1n), last: hex(MAX_HASH), next: hex(HALF + 1n) },
      ],
    },
  ]
}

describe('[StorageQueue] large tries in the progress record', () => {
  it('keeps a split trie from the cursors of its unfinished sub-ranges until it is stored', () => {
    const q = new StorageQueue()
    const o = owner(1, 2)
    q.add(o)
    const [queued] = q.takeSmall(1)
    // A first reply covered [0, 0xff]: the rest is split
    const trie = splitLargeStorage(queued, hashBytes(0xffn), 10)
    assert.ok(q.addLarge(trie))
    const sub = q.takeSubrange()
    assert.ok(sub !== undefined)
    sub.next = sub.first + 5n
    assert.equal(trie.subranges[0].next, 0x100n + 5n)
    assert.deepEqual(
      q.save()[0].ranges.map((r) => BigInt(r.next)),
      trie.subranges.map((s) => s.next),
    )
    for (const s of trie.subranges) q.finishSubrange(s)
    // Every range fetched: only completion from the root is left, and the record says so
    assert.deepEqual(q.save(), [{ account: hex(1n), root: hex(2n), ranges: [] }])
    queued.onStored()
    assert.equal(o.stored, 1)
    assert.deepEqual(q.save(), [])
    assert.equal(q.pending, 0)
  })

  it('forgets a trie given up under a moved pivot', () => {
    const q = new StorageQueue()
    const o = owner(1, 2)
    q.add(o)
    const trie = splitLargeStorage(q.takeSmall(1)[0], hashBytes(0xffn), 10)
    q.addLarge(trie)
    q.abandon(trie)
    assert.equal(o.changed, 1)
    assert.deepEqual(q.save(), [])
  })

  it('resumes a restored trie from its saved cursors, not whole', () => {
    const q = new StorageQueue()
    q.restore(saved())
    assert.equal(q.add(owner(1, 2)), undefined)
    assert.deepEqual(q.takeSmall(10), [])
    const subs = [q.takeSubrange(), q.takeSubrange()]
    assert.deepEqual(
      subs.map((s) => s?.request().origin).map((o) => o && hashNumber(o)),
      [100n, HALF + 1n],
    )
    assert.equal(q.takeSubrange(), undefined)
    // Saved again as it was restored
    assert.deepEqual(q.save(), saved())
  })

  it('fetches whole a trie whose root is not the saved one (the account changed), and drops the saved cursors', () => {
    const q = new StorageQueue()
    q.restore(saved())
    assert.equal(q.add(owner(1, 3)), undefined)
    assert.equal(q.takeSmall(10).length, 1)
    assert.equal(q.takeSubrange(), undefined)
    assert.deepEqual(q.save(), [])
  })

  it('returns a restored trie with no range left, for its completion from the root', () => {
    const q = new StorageQueue()
    q.restore([{ account: hex(1n), root: hex(2n), ranges: [] }])
    const o = owner(1, 2)
    const trie = q.add(o)
    assert.ok(trie !== undefined)
    assert.equal(q.takeSubrange(), undefined)
    assert.deepEqual(q.save(), [{ account: hex(1n), root: hex(2n), ranges: [] }])
    trie.owner.onStored()
    assert.equal(o.stored, 1)
    assert.deepEqual(q.save(), [])
  })

  it(
    'an account saved under two roots (a pivot move between them): ' +
      'the trie of its root now resumes, the other is dropped',
    () => {
      const q = new StorageQueue()
      const other = {
        account: hex(1n),
        root: hex(3n),
        ranges: [{ first: hex(0n), last: hex(MAX_HASH), next: hex(5n) }],
      }
      q.restore([other, ...saved()])
      q.add(owner(1, 2))
      assert.equal(q.takeSubrange()?.next, 100n)
      assert.ok(q.save().every((t) => t.root === hex(2n)))
    },
  )

  it('forgets the saved tries of an account whose storage is found stored', () => {
    const q = new StorageQueue()
    q.restore(saved())
    q.forgetSaved(hashBytes(1n))
    assert.deepEqual(q.save(), [])
  })

  it('keeps the saved tries of accounts not asked for again yet', () => {
    const q = new StorageQueue()
    q.restore(saved())
    q.add(owner(5, 6))
    assert.deepEqual(q.save(), saved())
  })
})
