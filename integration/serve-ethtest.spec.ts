/**
 * Serving a real chain: go-ethereum's devp2p test chain (post-merge, Prague at the head) imported
 * into a client process with `--loadBlocksFromRlp`, then queried over RLPx with snap/1 by a test
 * peer. Every range is verified against the state root; keys are compared with `headstate.json`.
 */
import { strict as assert } from 'node:assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { bytesToHex, bytesToUnprefixedHex, hexToBytes, setLengthLeft } from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

import { verifyRange } from '../src/trie/rangeproof.js'
import { verifyAccountRange } from '../src/trie/responses.js'

import { ClientNode } from './harness/index.js'
import { chainInfo, connectSnap } from './snapPeer.js'

import type { SnapConnection } from './snapPeer.js'

const DATA = join(import.meta.dirname, '../../shared/data/ethtest')
const ZERO = new Uint8Array(32)
const MAX = new Uint8Array(32).fill(0xff)
const MiB = 1024n * 1024n

interface DumpAccount {
  key: string
  codeHash: string
  code?: string
  root: string
  storage?: { [slot: string]: string }
}

const sorted = (hexes: string[]) => [...hexes].sort()
const h = (x: string) => hexToBytes((x.startsWith('0x') ? x : `0x${x}`) as `0x${string}`)

describe('[snap server] ethtest chain (600 blocks, post-merge)', () => {
  const state = JSON.parse(readFileSync(join(DATA, 'headstate.json'), 'utf8')) as {
    root: string
    accounts: { [address: string]: DumpAccount }
  }
  const accounts = Object.values(state.accounts)
  const root = h(state.root)
  let node: ClientNode
  let peer: SnapConnection
  let rootAt: (n: number) => Promise<Uint8Array>

  before(async () => {
    node = await ClientNode.start({
      name: 'ethtest',
      genesisFile: join(DATA, 'genesis.json'),
      // --sync=none starts no RLPx server at all; full sync idles on a post-merge chain without a CL
      sync: 'full',
      args: [`--loadBlocksFromRlp=${join(DATA, 'chain.rlp')}`],
    })
    await node.waitForHeight(600n)
    const genesis = JSON.parse(readFileSync(join(DATA, 'genesis.json'), 'utf8'))
    peer = await connectSnap(await node.enode(), await chainInfo((m, p) => node.rpc(m, p), genesis))
    rootAt = async (n) =>
      h((await node.rpc<{ stateRoot: string }>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])).stateRoot)
  })

  after(async () => {
    await peer?.close()
    await node?.destroy()
  })

  it('serves the whole head state in one reply: every account of headstate.json, no proof', async () => {
    const reply = await peer.requester.getAccountRange({ root, origin: ZERO, limit: MAX, bytes: 2n * MiB })
    const keys = reply.accounts.map((a) => a.hash)
    assert.deepEqual(keys.map(bytesToHex), sorted(accounts.map((a) => a.key)))
    assert.equal(reply.proof.length, 0)
    assert.equal(
      verifyAccountRange({ root, origin: ZERO, hashes: keys, bodies: reply.accounts.map((a) => a.slimBody), proof: [] })
        .more,
      false,
    )
  })

  it('pages through the head state in small ranges, each one proved', async () => {
    let origin: Uint8Array = ZERO
    const seen: string[] = []
    for (let page = 0; page < 200; page++) {
      const reply = await peer.requester.getAccountRange({ root, origin, limit: MAX, bytes: 1000n })
      const keys = reply.accounts.map((a) => a.hash)
      const { more } = verifyAccountRange({
        root,
        origin,
        hashes: keys,
        bodies: reply.accounts.map((a) => a.slimBody),
        proof: reply.proof,
      })
      seen.push(...keys.map(bytesToHex))
      if (!more) break
      const next = setLengthLeft(hexToBytes(`0x${(BigInt(bytesToHex(keys[keys.length - 1])) + 1n).toString(16)}`), 32)
      origin = next
    }
    assert.deepEqual(seen, sorted(accounts.map((a) => a.key)))
  })

  it('serves the storage of every contract: complete ranges, the cut one proved, continued to the end', async () => {
    const withStorage = accounts.filter((a) => Object.keys(a.storage ?? {}).length > 0)
    const pending = [...withStorage].sort((a, b) => (a.key < b.key ? -1 : 1))
    let origin: Uint8Array = ZERO
    let slotsSeen = 0
    while (pending.length > 0) {
      const batch = pending.slice(0, 64)
      const reply = await peer.requester.getStorageRanges({
        root,
        accounts: batch.map((a) => h(a.key)),
        origin,
        limit: MAX,
        bytes: 8192n,
      })
      assert.ok(reply.slots.length > 0)
      for (const [i, slots] of reply.slots.entries()) {
        const account = batch[i]
        const last = i === reply.slots.length - 1
        const keys = slots.map((s) => s.hash)
        const start = i === 0 ? origin : ZERO
        const proof = last ? reply.proof : []
        const { more } = verifyRange({
          root: h(account.root),
          origin: start,
          keys,
          values: slots.map((s) => s.body),
          proof,
        })
        const expected = sorted(
          Object.keys(account.storage!).map((k) => bytesToHex(keccak256(setLengthLeft(h(k), 32)))),
        )
        const got = keys.map(bytesToHex)
        assert.deepEqual(got, expected.filter((k) => k >= bytesToHex(start)).slice(0, got.length))
        slotsSeen += got.length
        if (more) {
          origin = setLengthLeft(hexToBytes(`0x${(BigInt(got[got.length - 1]) + 1n).toString(16)}`), 32)
          pending.splice(0, i)
        } else {
          origin = ZERO
          if (last) pending.splice(0, i + 1)
        }
      }
    }
    const total = withStorage.reduce((n, a) => n + Object.keys(a.storage!).length, 0)
    assert.equal(slotsSeen, total)
  })

  it('serves every contract code by hash, in request order', async () => {
    const withCode = accounts.filter((a) => a.code !== undefined && a.code !== '0x')
    const hashes = withCode.map((a) => h(a.codeHash))
    const reply = await peer.requester.getByteCodes({ hashes, bytes: 2n * MiB })
    assert.deepEqual(
      reply.codes.map((c) => bytesToHex(keccak256(c))),
      withCode.map((a) => a.codeHash),
    )
  })

  it('serves trie nodes by path: the account root and a storage root', async () => {
    const contract = accounts.find((a) => Object.keys(a.storage ?? {}).length > 100)!
    const reply = await peer.requester.getTrieNodes({
      root,
      paths: [[new Uint8Array([0])], [h(contract.key), new Uint8Array([0])]],
      bytes: MiB,
    })
    assert.deepEqual(
      reply.nodes.map((n) => bytesToHex(keccak256(n))),
      [bytesToHex(root), contract.root],
    )
  })

  // Expected values from go-ethereum's devp2p snap test suite for this chain (snap.go at 02b73d4)
  it('serves the roots of blocks 473..600 and nothing older or unknown', async () => {
    const old = await peer.requester.getAccountRange({
      root: await rootAt(473),
      origin: ZERO,
      limit: MAX,
      bytes: 4000n,
    })
    assert.equal(old.accounts.length, 68, 'block 473 (head - 127) is served')
    assert.equal(
      bytesToHex(old.accounts[67].hash),
      '0x683b6c03cc32afe5db8cb96050f711fdaff8f8ff44c7587a9a848f921d02815e',
    )
    const tooOld = await rootAt(472)
    const none = await peer.requester.getAccountRange({ root: tooOld, origin: ZERO, limit: MAX, bytes: 1000n })
    assert.deepEqual(none, { accounts: [], proof: [] }, `block 472 (${bytesToUnprefixedHex(tooOld)}) is not served`)
    const genesis = await peer.requester.getAccountRange({
      root: await rootAt(0),
      origin: ZERO,
      limit: MAX,
      bytes: 4000n,
    })
    assert.deepEqual(genesis, { accounts: [], proof: [] }, 'the genesis root is not served')
    const unknown = await peer.requester.getAccountRange({
      root: keccak256(root),
      origin: ZERO,
      limit: MAX,
      bytes: 1000n,
    })
    assert.deepEqual(unknown, { accounts: [], proof: [] })
  })

  it('serves trie nodes at the root of block 599; a set whose account is not a hash ends the reply', async () => {
    const parent = await rootAt(599)
    const reply = await peer.requester.getTrieNodes({
      root: parent,
      paths: [[new Uint8Array([0])], [new Uint8Array([1]), new Uint8Array([0])]],
      bytes: 5000n,
    })
    assert.deepEqual(
      reply.nodes.map((n) => bytesToHex(keccak256(n))),
      [bytesToHex(parent)],
    )
  })

  it('is still up and serving after the run', async () => {
    assert.equal(node.exitedWith, undefined)
    const reply = await peer.requester.getByteCodes({ hashes: [], bytes: 1n })
    assert.deepEqual(reply.codes, [])
  })
})
