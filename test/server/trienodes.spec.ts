import { strict as assert } from 'node:assert'

import { keccak256 } from 'ethereum-cryptography/keccak.js'
import { RLP } from '@ethereumjs/rlp'
import { bytesToUnprefixedHex, equalsBytes } from '@ethereumjs/util'

import { Budget } from '../../src/server/budget.js'
import { encodeCompact } from '../../src/trie/nibbles.js'
import { decodeNode } from '../../src/trie/node.js'
import { lookupKey } from '../../src/trie/prove.js'
import { serveTrieNodes } from '../../src/server/trienodes.js'
import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'

import { buildState, plusOne, storageRootOfBody } from './fixtures.js'

import type { TestState } from './fixtures.js'

/** Compact (hex-prefix) encoding of a nibble path, as GetTrieNodes carries it */
function compact(nibbles: number[]): Uint8Array {
  return encodeCompact(Uint8Array.from(nibbles), 0, false)
}

/** The first child nibble of a branch node, as a path step */
function firstChild(encoded: Uint8Array): number {
  const node = decodeNode(encoded)
  assert.equal(node.kind, 'branch')
  return node.kind === 'branch' ? node.children.findIndex((c) => c?.length === 32) : -1
}

describe('[serveTrieNodes]', () => {
  let s: TestState
  let contract: Uint8Array
  let storageRoot: Uint8Array
  before(async () => {
    s = await buildState([...Array.from({ length: 300 }, () => ({})), { slots: 500 }])
    contract = s.accountHashes.find((h) => s.slotHashes.has(bytesToUnprefixedHex(h)))!
    storageRoot = storageRootOfBody((await lookupKey(s.view.accountReader(Budget.unlimited()), s.root, contract))!)
  })
  const noStorage = () => s.accountHashes.find((h) => !s.slotHashes.has(bytesToUnprefixedHex(h)))!
  const serve = (paths: Uint8Array[][], bytes = 500_000n, root?: Uint8Array) =>
    serveTrieNodes(
      s.view,
      { kind: 'GetTrieNodes', reqId: 1n, root: root ?? s.root, paths, bytes },
      DEFAULT_SERVE_LIMITS,
      Budget.unlimited(),
    )

  it('account trie: the root at the empty path and a child at a one-nibble path', async () => {
    const rootReply = await serve([[compact([])]])
    assert.equal(rootReply.nodes.length, 1)
    assert.ok(equalsBytes(keccak256(rootReply.nodes[0]), s.root))
    const nibble = firstChild(rootReply.nodes[0])
    const reply = await serve([[compact([])], [compact([nibble])]])
    assert.equal(reply.nodes.length, 2)
    const child = (RLP.decode(rootReply.nodes[0]) as Uint8Array[])[nibble]
    assert.ok(equalsBytes(keccak256(reply.nodes[1]), child))
  })

  it('storage trie: paths grouped under their account hash', async () => {
    const reply = await serve([[contract, compact([]), compact([0])]])
    assert.equal(reply.nodes.length, 2)
    assert.ok(equalsBytes(keccak256(reply.nodes[0]), storageRoot))
    const child = (RLP.decode(reply.nodes[0]) as Uint8Array[])[0]
    assert.ok(equalsBytes(keccak256(reply.nodes[1]), child))
  })

  it('mixed account and storage paths keep request order', async () => {
    const reply = await serve([[compact([])], [contract, compact([])], [compact([])]])
    assert.deepEqual(
      reply.nodes.map((n) => bytesToUnprefixedHex(keccak256(n))),
      [s.root, storageRoot, s.root].map(bytesToUnprefixedHex),
    )
  })

  // A path that does not end at a node gets an empty item in its place (geth, and its snap test
  // suite); an unknown account ends the reply
  const cases: [string, () => Uint8Array[][], ('root' | 'empty')[]][] = [
    [
      'path into nothing (deeper than the trie)',
      () => [[compact([])], [compact(Array(40).fill(1))], [compact([])]],
      ['root', 'empty', 'root'],
    ],
    [
      'path longer than 64 nibbles',
      () => [[compact([])], [compact(Array(70).fill(0))], [compact([])]],
      ['root', 'empty', 'root'],
    ],
    ['invalid compact encoding', () => [[compact([])], [Uint8Array.from([0x45, 0x00])]], ['root', 'empty']],
    ['storage path into nothing', () => [[contract, compact(Array(30).fill(2)), compact([])]], ['empty', 'root']],
    [
      'unknown account for storage paths: ends the reply',
      () => [[compact([])], [plusOne(contract), compact([])], [compact([])]],
      ['root'],
    ],
    [
      'storage paths of an account without storage: empty items, the reply goes on',
      () => [[noStorage(), compact([0])], [compact([])], [contract, compact([])]],
      ['empty', 'root', 'root'],
    ],
    [
      'account hash of the wrong length: ends the reply',
      () => [[compact([])], [contract.subarray(0, 31), compact([])]],
      ['root'],
    ],
  ]
  for (const [name, paths, want] of cases) {
    it(name, async () => {
      const reply = await serve(paths())
      assert.deepEqual(
        reply.nodes.map((n) => (n.length === 0 ? 'empty' : 'root')),
        want,
      )
    })
  }

  it('unknown root: empty reply', async () => {
    assert.deepEqual(await serve([[compact([])]], 1000n, plusOne(s.root)), { nodes: [] })
  })

  it('byte limit of 1 byte: one node', async () => {
    const reply = await serve([[compact([])], [compact([])]], 1n)
    assert.equal(reply.nodes.length, 1)
  })

  it('10,000 paths: capped by the lookup limit', async () => {
    const paths = Array.from({ length: 10_000 }, () => [compact([])])
    const reply = await serve(paths, (1n << 64n) - 1n)
    assert.ok(reply.nodes.length <= DEFAULT_SERVE_LIMITS.maxTrieNodeLookups)
    assert.ok(reply.nodes.length > 0)
  })
})
