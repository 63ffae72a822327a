import { strict as assert } from 'node:assert'

import { MerklePatriciaTrie, createMerkleProof } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'

import { encodeFullAccount, encodeSlimAccount } from '../../src/trie/account.js'
import { toHex0x } from '../../src/trie/hex.js'
import { initKeccak } from '../../src/trie/keccak.js'
import { decodeNode } from '../../src/trie/node.js'
import { verifyRange } from '../../src/trie/rangeproof.js'
import { checkSlotValue, verifyAccountRange, verifyBytecodes, verifyStorageRange } from '../../src/trie/responses.js'

import { ETHTEST_ROOT, loadEthtestState } from './ethtest.js'
import { buildNodeMap, mergeProofs, proveKey, randomLeaves, rng } from './helpers.js'

import type { TrieErrorCode, TrieVerifyError } from '../../src/trie/errors.js'
import type { RangeInput } from '../../src/trie/rangeproof.js'
import type { Leaf } from './ethtest.js'

const ZERO = new Uint8Array(32)
const MAX = new Uint8Array(32).fill(0xff)

interface Fixture {
  leaves: Leaf[]
  root: Uint8Array
  nodes: ReturnType<typeof buildNodeMap>['nodes']
}

/** A range as an honest snap/1 server answers it: keys [from, to), proofs of origin and last key. */
function honest(f: Fixture, origin: Uint8Array, from: number, to: number, limit?: Uint8Array): RangeInput {
  const slice = f.leaves.slice(from, to)
  const last = slice.length > 0 ? slice[slice.length - 1].key : origin
  const proof = mergeProofs(proveKey(f.nodes, f.root, origin), proveKey(f.nodes, f.root, last))
  return { root: f.root, origin, limit, keys: slice.map((l) => l.key), values: slice.map((l) => l.value), proof }
}

function between(a: Uint8Array, b: Uint8Array): Uint8Array {
  // A key strictly between two keys that differ somewhere after the first byte, or at it by more than one
  const k = a.slice()
  for (let i = 31; i >= 0; i--) {
    if (k[i] < 0xff) {
      k[i]++
      break
    }
    k[i] = 0
  }
  assert.ok(Buffer.compare(k, b) < 0)
  return k
}

describe('[verifyRange]', () => {
  let f: Fixture
  let other: Fixture

  before(async () => {
    await initKeccak()
    const leaves = randomLeaves(300, rng(1))
    f = { leaves, ...buildNodeMap(leaves) }
    const otherLeaves = randomLeaves(300, rng(2))
    other = { leaves: otherLeaves, ...buildNodeMap(otherLeaves) }
  })

  const rejects: { name: string; code: TrieErrorCode; make: () => RangeInput }[] = [
    {
      name: 'a tampered value',
      code: 'ROOT_MISMATCH',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        r.values[10] = Uint8Array.of(...r.values[10], 1)
        return r
      },
    },
    {
      name: 'a removed key in the middle',
      code: 'ROOT_MISMATCH',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        r.keys.splice(20, 1)
        r.values.splice(20, 1)
        return r
      },
    },
    {
      name: 'an extra key',
      code: 'ROOT_MISMATCH',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        r.keys.splice(21, 0, between(r.keys[20], r.keys[21]))
        r.values.splice(21, 0, Uint8Array.of(7))
        return r
      },
    },
    {
      name: 'keys out of order',
      code: 'KEYS_UNSORTED',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        ;[r.keys[5], r.keys[6]] = [r.keys[6], r.keys[5]]
        return r
      },
    },
    {
      name: 'a duplicate key',
      code: 'DUPLICATE_KEY',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        r.keys[6] = r.keys[5]
        return r
      },
    },
    { name: 'a key before the origin', code: 'KEY_OUT_OF_RANGE', make: () => honest(f, f.leaves[51].key, 50, 100) },
    {
      name: 'a key after the limit that is not the last',
      code: 'KEY_OUT_OF_RANGE',
      make: () => honest(f, f.leaves[50].key, 50, 100, f.leaves[60].key),
    },
    {
      name: 'a proof for another root',
      code: 'PROOF_MISSING_NODE',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        r.proof = honest(other, other.leaves[50].key, 50, 100).proof
        return r
      },
    },
    {
      name: 'a truncated proof',
      code: 'PROOF_MISSING_NODE',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        r.proof = r.proof.slice(0, -1)
        return r
      },
    },
    {
      name: 'a proof with an extra node',
      code: 'PROOF_EXTRA_NODE',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        r.proof = [...r.proof, ...proveKey(f.nodes, f.root, f.leaves[200].key).slice(1)]
        return r
      },
    },
    {
      name: 'a proof with a forged node',
      code: 'PROOF_MISSING_NODE',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        const forged = r.proof[1].slice()
        forged[forged.length - 2] ^= 1
        r.proof[1] = forged
        return r
      },
    },
    {
      name: 'a claimed final range that hides keys to the right (last-key proof withheld)',
      code: 'PROOF_MISSING_NODE',
      make: () => {
        const r = honest(f, f.leaves[200].key, 200, 250)
        r.proof = proveKey(f.nodes, f.root, f.leaves[200].key)
        return r
      },
    },
    {
      name: 'a claimed whole trie (no proof) that leaves out the last keys',
      code: 'ROOT_MISMATCH',
      make: () => {
        const r = honest(f, ZERO, 0, 290)
        r.proof = []
        return r
      },
    },
    {
      name: 'an empty response whose proof hides keys',
      code: 'HIDDEN_KEYS',
      make: () => honest(f, f.leaves[100].key, 100, 100),
    },
    {
      name: 'an empty response between keys whose proof hides the keys after it',
      code: 'HIDDEN_KEYS',
      make: () => honest(f, between(f.leaves[100].key, f.leaves[101].key), 101, 101),
    },
    {
      name: 'an empty response without proof for a non-empty trie',
      code: 'EMPTY_RESPONSE',
      make: () => ({ ...honest(f, ZERO, 0, 0), proof: [] }),
    },
    {
      name: 'more values than keys',
      code: 'LENGTH_MISMATCH',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        r.values.push(Uint8Array.of(1))
        return r
      },
    },
    {
      name: 'an empty value',
      code: 'BAD_VALUE',
      make: () => {
        const r = honest(f, f.leaves[50].key, 50, 100)
        r.values[3] = new Uint8Array(0)
        return r
      },
    },
  ]
  for (const c of rejects) {
    it(`rejects ${c.name}: ${c.code}`, () => {
      assert.throws(
        () => verifyRange(c.make()),
        (err: { code?: string }) => err.code === c.code,
      )
    })
  }

  const accepts: { name: string; more: boolean; make: () => RangeInput }[] = [
    { name: 'the whole trie without proof', more: false, make: () => ({ ...honest(f, ZERO, 0, 300), proof: [] }) },
    { name: 'the first range from the zero origin', more: true, make: () => honest(f, ZERO, 0, 40) },
    { name: 'a middle range from an existing key', more: true, make: () => honest(f, f.leaves[50].key, 50, 100) },
    {
      name: 'a middle range from an origin between keys',
      more: true,
      make: () => honest(f, between(f.leaves[49].key, f.leaves[50].key), 50, 100),
    },
    {
      name: 'a range whose last key passes the limit',
      more: true,
      make: () => honest(f, f.leaves[50].key, 50, 61, f.leaves[59].key),
    },
    { name: 'the last range', more: false, make: () => honest(f, f.leaves[250].key, 250, 300) },
    { name: 'a one-key range at the end', more: false, make: () => honest(f, f.leaves[299].key, 299, 300) },
    {
      name: 'an empty range past the end, with a proof of absence',
      more: false,
      make: () => honest(f, between(f.leaves[299].key, MAX), 300, 300),
    },
    { name: 'an empty range at 0xff..ff', more: false, make: () => honest(f, MAX, 300, 300) },
  ]
  for (const c of accepts) {
    it(`accepts ${c.name} (more=${c.more})`, () => {
      const input = c.make()
      const verdict = verifyRange(input)
      assert.equal(verdict.more, c.more)
      for (const n of verdict.nodes)
        assert.ok(f.nodes.has(Buffer.from(n.hash).toString('hex')), 'every built node is a node of the trie')
    })
  }

  it('marks as complete exactly the nodes whose whole subtree the range built', () => {
    const verdict = verifyRange(honest(f, f.leaves[50].key, 50, 100))
    const built = new Map(verdict.nodes.map((n) => [Buffer.from(n.hash).toString('hex'), n]))
    const subtreeBuilt = (rlp: Uint8Array): boolean => {
      const node = decodeNode(rlp)
      const refs = node.kind === 'branch' ? node.children : node.kind === 'extension' ? [node.child] : []
      return refs.every(
        (r) =>
          r === undefined ||
          (r.length < 32
            ? subtreeBuilt(r)
            : built.has(Buffer.from(r).toString('hex')) &&
              subtreeBuilt(built.get(Buffer.from(r).toString('hex'))!.rlp)),
      )
    }
    const complete = verdict.nodes.filter((n) => n.complete)
    assert.ok(complete.length > 40 && complete.length < verdict.nodes.length)
    for (const n of verdict.nodes) assert.equal(subtreeBuilt(n.rlp), n.complete)
  })

  it('accepts a one-key trie with and without proof', () => {
    const leaves = randomLeaves(1, rng(3))
    const one = { leaves, ...buildNodeMap(leaves) }
    assert.equal(verifyRange({ ...honest(one, ZERO, 0, 1), proof: [] }).more, false)
    assert.equal(verifyRange(honest(one, ZERO, 0, 1)).more, false)
    assert.equal(verifyRange(honest(one, MAX, 1, 1)).more, false)
  })

  it('accepts an empty trie: no keys, no proof, empty root', () => {
    const { root } = buildNodeMap([])
    assert.equal(verifyRange({ root, origin: ZERO, keys: [], values: [], proof: [] }).more, false)
  })
})

describe('[verifyAccountRange]', () => {
  const accounts = loadEthtestState()
  let trie: MerklePatriciaTrie

  before(async () => {
    await initKeccak()
    // Proofs from another implementation: @ethereumjs/mpt over the same (hashed) keys
    trie = new MerklePatriciaTrie()
    for (const a of accounts) await trie.put(a.hash, encodeFullAccount(a.body))
    assert.equal(toHex0x(trie.root()), ETHTEST_ROOT)
  })

  it('accepts the ethtest state (block 600) in ranges of 20 with mpt-made proofs', async () => {
    for (let from = 0; from < accounts.length; from += 20) {
      const slice = accounts.slice(from, from + 20)
      const origin = from === 0 ? ZERO : slice[0].hash
      const proof = mergeProofs(
        await createMerkleProof(trie, origin),
        await createMerkleProof(trie, slice[slice.length - 1].hash),
      )
      const result = verifyAccountRange({
        root: trie.root(),
        origin,
        hashes: slice.map((a) => a.hash),
        bodies: slice.map((a) => encodeSlimAccount(a.body)),
        proof,
      })
      assert.equal(result.more, from + 20 < accounts.length)
      assert.deepEqual(
        result.accounts,
        slice.map((a) => a.body),
      )
    }
  })

  const slim = (items: unknown[]) => RLP.encode(items as Uint8Array[])
  const hash32 = new Uint8Array(32).fill(1)
  const bad: { name: string; body: () => Uint8Array }[] = [
    { name: 'not RLP', body: () => Uint8Array.of(0xf8) },
    { name: 'not a list', body: () => RLP.encode(Uint8Array.of(1)) },
    { name: 'three items', body: () => slim([Uint8Array.of(1), Uint8Array.of(1), new Uint8Array(0)]) },
    { name: 'a nested list', body: () => slim([[], Uint8Array.of(1), new Uint8Array(0), new Uint8Array(0)]) },
    {
      name: 'a 31-byte storage root',
      body: () => slim([Uint8Array.of(1), Uint8Array.of(1), new Uint8Array(31), new Uint8Array(0)]),
    },
    { name: 'a 5-byte code hash', body: () => slim([Uint8Array.of(1), Uint8Array.of(1), hash32, new Uint8Array(5)]) },
    {
      name: 'a nonce with a leading zero',
      body: () => slim([Uint8Array.of(0, 1), Uint8Array.of(1), new Uint8Array(0), new Uint8Array(0)]),
    },
    {
      name: 'a 33-byte balance',
      body: () => slim([Uint8Array.of(1), new Uint8Array(33).fill(1), new Uint8Array(0), new Uint8Array(0)]),
    },
  ]
  for (const c of bad) {
    it(`rejects a slim account with ${c.name}: BAD_ACCOUNT at its index`, async () => {
      const slice = accounts.slice(0, 5)
      const bodies = slice.map((a) => encodeSlimAccount(a.body))
      bodies[2] = c.body()
      const proof = await createMerkleProof(trie, slice[4].hash)
      assert.throws(
        () => verifyAccountRange({ root: trie.root(), origin: ZERO, hashes: slice.map((a) => a.hash), bodies, proof }),
        (err: { code?: string; index?: number }) => err.code === 'BAD_ACCOUNT' && err.index === 2,
      )
    })
  }
})

describe('[verifyStorageRange]', () => {
  const accounts = loadEthtestState()

  before(async () => {
    await initKeccak()
  })

  it('accepts every ethtest storage trie whole, without proof, against its storage root', () => {
    for (const a of accounts.filter((x) => x.storage.length > 0)) {
      const r = verifyStorageRange({
        root: a.body.storageRoot,
        origin: ZERO,
        hashes: a.storage.map((s) => s.key),
        slots: a.storage.map((s) => s.value),
        proof: [],
      })
      assert.equal(r.more, false)
    }
  })

  it('rejects a slot value that is not a trimmed word: BAD_VALUE', () => {
    const a = accounts.find((x) => x.storage.length > 2)!
    const slots = a.storage.map((s) => s.value)
    slots[1] = RLP.encode(Uint8Array.of(0, 5))
    assert.throws(
      () =>
        verifyStorageRange({
          root: a.body.storageRoot,
          origin: ZERO,
          hashes: a.storage.map((s) => s.key),
          slots,
          proof: [],
        }),
      { code: 'BAD_VALUE' },
    )
  })

  it('accepts exactly the slot values that decode to a trimmed non-zero word and re-encode to themselves', function () {
    this.timeout(20_000)
    // The reference: what RLP itself says
    const valid = (v: Uint8Array) => {
      try {
        const d = RLP.decode(v)
        return (
          d instanceof Uint8Array &&
          d.length > 0 &&
          d.length <= 32 &&
          d[0] !== 0 &&
          toHex0x(RLP.encode(d)) === toHex0x(v)
        )
      } catch {
        return false
      }
    }
    const cases: Uint8Array[] = [new Uint8Array(0)]
    for (let a = 0; a < 256; a++) {
      cases.push(Uint8Array.of(a))
      for (let b = 0; b < 256; b++) cases.push(Uint8Array.of(a, b))
    }
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff
    for (let i = 0; i < 5000; i++) {
      const n = 3 + (i % 38)
      const v = Uint8Array.from({ length: n }, next)
      v[0] = 0x7e + (i % 70)
      if (i % 3 === 0) v[0] = 0x80 + n - 1
      if (i % 5 === 0) v[1] = 0
      cases.push(v)
    }
    for (const v of cases) {
      const ours = (() => {
        try {
          checkSlotValue(v, 0)
          return true
        } catch (err) {
          assert.equal((err as TrieVerifyError).code, 'BAD_VALUE')
          return false
        }
      })()
      assert.equal(ours, valid(v), toHex0x(v))
    }
  })

  it('rejects a storage trie that hashes to another root: ROOT_MISMATCH', () => {
    const [a, b] = accounts.filter((x) => x.storage.length > 0)
    assert.throws(
      () =>
        verifyStorageRange({
          root: b.body.storageRoot,
          origin: ZERO,
          hashes: a.storage.map((s) => s.key),
          slots: a.storage.map((s) => s.value),
          proof: [],
        }),
      { code: 'ROOT_MISMATCH' },
    )
  })
})

describe('[verifyBytecodes]', () => {
  const codes = loadEthtestState().flatMap((a) =>
    a.code !== undefined && a.code.length > 0 ? [{ hash: a.body.codeHash, code: a.code }] : [],
  )

  it('matches codes to requested hashes in order, skipping left-out ones', () => {
    const requested = codes.slice(0, 6).map((c) => c.hash)
    const got = verifyBytecodes(requested, [codes[0].code, codes[2].code, codes[5].code])
    assert.deepEqual(
      got.map((c) => toHex0x(c.hash)),
      [0, 2, 5].map((i) => toHex0x(codes[i].hash)),
    )
  })

  it('rejects a code nobody asked for, or one out of order: BYTECODE_UNREQUESTED', () => {
    const requested = codes.slice(0, 3).map((c) => c.hash)
    assert.throws(() => verifyBytecodes(requested, [codes[4].code]), { code: 'BYTECODE_UNREQUESTED' })
    assert.throws(() => verifyBytecodes(requested, [codes[2].code, codes[0].code]), { code: 'BYTECODE_UNREQUESTED' })
  })
})
