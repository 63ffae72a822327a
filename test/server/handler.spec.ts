import { strict as assert } from 'node:assert'

import { SnapProtocol } from '@ethereumjs/client/dist/esm/src/net/protocol/snapprotocol.js'
import { RLP } from '@ethereumjs/rlp'
import { KECCAK256_RLP, bytesToUnprefixedHex } from '@ethereumjs/util'
import * as sinon from 'sinon'

import { keccak256 } from '../../src/trie/keccak.js'

import { SnapServerHandler } from '../../src/server/handler.js'
import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'

import { LyingServer } from '../helpers/lyingserver.js'

import { MAX, ZERO, buildState, hex, verifyRange } from './fixtures.js'

import type { TestState } from './fixtures.js'

/** The client's snap codec, to check replies as they go on the wire */
const codec = new SnapProtocol({ config: {} as never, chain: {} as never, convertSlimBody: true })
const message = (name: string) => codec.messages.find((m) => m.name === name)!

/** Encodes as the client would send, RLP round trip, decodes as a requester would */
function wire(name: string, args: unknown): any {
  const encoded = RLP.encode(codec.encode(message(name), args) as never)
  return codec.decode(message(name), RLP.decode(encoded))
}

function fakePeer(id = 'peer-1') {
  const send = sinon.stub()
  return { peer: { id, snap: { send } }, send }
}

describe('[SnapServerHandler]', () => {
  let s: TestState
  before(async () => {
    s = await buildState([{}, { slots: 5 }, { code: new Uint8Array([0x60, 0x00]) }, {}])
  })
  const handler = (limits = DEFAULT_SERVE_LIMITS) => new SnapServerHandler({ view: s.view, limits })

  it('answers GetAccountRange with slim bodies that verify after un-slimming', async () => {
    const { peer, send } = fakePeer()
    const req = { reqId: 42n, root: s.root, origin: ZERO, limit: MAX, bytes: 100000n }
    await handler().handle({ name: 'GetAccountRange', data: wire('GetAccountRange', req) }, peer)
    sinon.assert.calledOnce(send)
    const [name, args] = send.firstCall.args
    assert.equal(name, 'AccountRange')
    // Slim on the wire: the empty storage root and empty code hash are sent as empty bytes
    const raw = codec.encode(message('AccountRange'), args) as any
    const plain = raw[1].find((a: any) => a[1][2].length === 0 && a[1][3].length === 0)
    assert.ok(plain !== undefined, 'a slim account')
    const decoded = wire('AccountRange', args)
    assert.equal(decoded.reqId, 42n)
    const keys = decoded.accounts.map((a: any) => a.hash)
    assert.deepEqual(hex(keys), hex(s.accountHashes))
    const bodies = decoded.accounts.map((a: any) => RLP.encode(a.body))
    assert.equal(await verifyRange(s.root, ZERO, keys, bodies, decoded.proof), false)
    const full = decoded.accounts.map((a: any) => a.body[2])
    assert.ok(full.some((r: Uint8Array) => bytesToUnprefixedHex(r) === bytesToUnprefixedHex(KECCAK256_RLP)))
  })

  it('answers the other three kinds with their reply names and the request id', async () => {
    const { peer, send } = fakePeer()
    const h = handler()
    const contract = s.accountHashes.find((x) => s.slotHashes.has(bytesToUnprefixedHex(x)))!
    await h.handle(
      {
        name: 'GetStorageRanges',
        data: wire('GetStorageRanges', {
          reqId: 1n,
          root: s.root,
          accounts: [contract],
          origin: new Uint8Array(),
          limit: new Uint8Array(),
          bytes: 1000n,
        }),
      },
      peer,
    )
    await h.handle(
      { name: 'GetByteCodes', data: wire('GetByteCodes', { reqId: 2n, hashes: s.codeHashes, bytes: 1000n }) },
      peer,
    )
    await h.handle(
      {
        name: 'GetTrieNodes',
        data: wire('GetTrieNodes', { reqId: 3n, root: s.root, paths: [[new Uint8Array([0])]], bytes: 1000n }),
      },
      peer,
    )
    assert.deepEqual(
      send.args.map((a) => [a[0], a[1].reqId]),
      [
        ['StorageRanges', 1n],
        ['ByteCodes', 2n],
        ['TrieNodes', 3n],
      ],
    )
    assert.equal(send.args[0][1].slots[0].length, 5)
    assert.equal(send.args[1][1].codes.length, 1)
    assert.equal(send.args[2][1].nodes.length, 1)
  })

  const malformed: [string, string, any][] = [
    [
      'root of 31 bytes',
      'GetAccountRange',
      { reqId: 5n, root: new Uint8Array(31), origin: ZERO, limit: MAX, bytes: 1n },
    ],
    [
      'root is a list',
      'GetAccountRange',
      { reqId: 5n, root: [new Uint8Array(32)], origin: ZERO, limit: MAX, bytes: 1n },
    ],
    ['byte limit is bytes', 'GetByteCodes', { reqId: 5n, hashes: [], bytes: new Uint8Array(3) }],
    ['byte limit above 2^64', 'GetByteCodes', { reqId: 5n, hashes: [], bytes: 1n << 70n }],
    ['hash of 33 bytes', 'GetByteCodes', { reqId: 5n, hashes: [new Uint8Array(33)], bytes: 1n }],
    [
      'accounts not a list',
      'GetStorageRanges',
      { reqId: 5n, root: ZERO, accounts: ZERO, origin: ZERO, limit: MAX, bytes: 1n },
    ],
    [
      'origin of 5 bytes',
      'GetStorageRanges',
      { reqId: 5n, root: ZERO, accounts: [], origin: new Uint8Array(5), limit: MAX, bytes: 1n },
    ],
    ['empty path set', 'GetTrieNodes', { reqId: 5n, root: ZERO, paths: [[]], bytes: 1n }],
    ['path is a list', 'GetTrieNodes', { reqId: 5n, root: ZERO, paths: [[[new Uint8Array(1)]]], bytes: 1n }],
  ]
  for (const [name, kind, data] of malformed) {
    it(`malformed (${name}): empty reply with the request id`, async () => {
      const { peer, send } = fakePeer()
      const h = handler()
      await h.handle({ name: kind, data }, peer)
      sinon.assert.calledOnce(send)
      assert.equal(send.firstCall.args[1].reqId, 5n)
      assert.equal(h.stats.malformed, 1)
    })
  }

  it('malformed without a usable request id, or a reply message: no answer', async () => {
    const { peer, send } = fakePeer()
    const h = handler()
    await h.handle({ name: 'GetByteCodes', data: { reqId: -1n, hashes: [] } }, peer)
    await h.handle({ name: 'GetByteCodes', data: null }, peer)
    await h.handle({ name: 'AccountRange', data: { reqId: 1n, accounts: [], proof: [] } }, peer)
    sinon.assert.notCalled(send)
  })

  it('a peer that is gone when the reply is sent does not throw', async () => {
    const peer = {
      id: 'gone',
      snap: {
        send: () => {
          throw new Error('socket closed')
        },
      },
    }
    await handler().handle({ name: 'GetByteCodes', data: { reqId: 1n, hashes: [], bytes: 1n } }, peer)
  })

  it('a flood from one peer is dropped beyond its queue; another peer is still served', async () => {
    const limits = { ...DEFAULT_SERVE_LIMITS, maxConcurrent: 1, maxConcurrentPerPeer: 1, maxQueuedPerPeer: 4 }
    const h = handler(limits)
    const flood = fakePeer('flood')
    const honest = fakePeer('honest')
    const req = { reqId: 1n, root: s.root, origin: ZERO, limit: MAX, bytes: 1000n }
    const all = Array.from({ length: 50 }, () => h.handle({ name: 'GetAccountRange', data: req }, flood.peer))
    all.push(h.handle({ name: 'GetAccountRange', data: req }, honest.peer))
    await Promise.all(all)
    sinon.assert.calledOnce(honest.send)
    assert.ok(flood.send.callCount <= 1 + limits.maxQueuedPerPeer)
    assert.ok(h.stats.dropped >= 50 - 1 - limits.maxQueuedPerPeer)
  })

  it('records each request with its outcome, items and bytes', async () => {
    const recordServed = sinon.stub()
    const h = new SnapServerHandler({ view: s.view, metrics: { recordServed } })
    const { peer } = fakePeer()
    await h.handle({ name: 'GetByteCodes', data: { reqId: 1n, hashes: s.codeHashes, bytes: 100n } }, peer)
    await h.handle({ name: 'GetByteCodes', data: { reqId: 2n, hashes: [], bytes: 100n } }, peer)
    await h.handle({ name: 'GetByteCodes', data: { reqId: 3n, hashes: 'x', bytes: 100n } }, peer)
    assert.deepEqual(recordServed.args, [
      ['GetByteCodes', 'answered', { codes: 1 }, 2],
      ['GetByteCodes', 'empty', { codes: 0 }, 0],
      ['GetByteCodes', 'rejected', {}, 0],
    ])
  })

  it('stops answering after stop()', async () => {
    const { peer, send } = fakePeer()
    const h = handler()
    await h.stop()
    await h.handle({ name: 'GetByteCodes', data: { reqId: 1n, hashes: [], bytes: 1n } }, peer)
    sinon.assert.notCalled(send)
  })

  it('listens for gone peers while started, and stops listening when stopped', async () => {
    const unsubscribe = sinon.fake()
    let listener: ((peerId: string) => void) | undefined
    const onPeerGone = sinon.fake((l: (peerId: string) => void) => {
      listener = l
      return unsubscribe
    })
    const h = new SnapServerHandler({ view: s.view, onPeerGone })
    await h.start()
    await h.start()
    assert.equal(onPeerGone.callCount, 1, 'subscribed once')
    listener!('some-peer')
    await h.stop()
    assert.equal(unsubscribe.callCount, 1)
  })

  describe('a lying server as its answerer (test/helpers/lyingserver.ts)', () => {
    const liar = (lie: ConstructorParameters<typeof LyingServer>[0]) =>
      new SnapServerHandler({ view: s.view, answerer: new LyingServer(lie, s.view) })
    const accountRange = (reqId: bigint) => ({
      name: 'GetAccountRange',
      data: wire('GetAccountRange', { reqId, root: s.root, origin: ZERO, limit: MAX, bytes: 100000n }),
    })

    it('corrupt: the reply goes out, with an account body that no longer verifies', async () => {
      const { peer, send } = fakePeer()
      await liar('corrupt').handle(accountRange(7n), peer)
      sinon.assert.calledOnce(send)
      const decoded = wire('AccountRange', send.firstCall.args[1])
      assert.equal(decoded.reqId, 7n)
      assert.equal(decoded.accounts.length, s.accountHashes.length)
      const bodies = decoded.accounts.map((a: any) => RLP.encode(a.body))
      await assert.rejects(
        verifyRange(
          s.root,
          ZERO,
          decoded.accounts.map((a: any) => a.hash),
          bodies,
          decoded.proof,
        ),
      )
    })

    it('silent: no reply at all; empty: an empty reply', async () => {
      const silent = fakePeer()
      await liar('silent').handle(accountRange(8n), silent.peer)
      sinon.assert.notCalled(silent.send)
      const empty = fakePeer()
      await liar('empty').handle(accountRange(9n), empty.peer)
      assert.deepEqual(empty.send.firstCall.args, ['AccountRange', { reqId: 9n, accounts: [], proof: [] }])
    })

    it('wrongCode: another code in place of the one asked for', async () => {
      const { peer, send } = fakePeer()
      await liar('wrongCode').handle(
        { name: 'GetByteCodes', data: wire('GetByteCodes', { reqId: 3n, hashes: s.codeHashes, bytes: 1000n }) },
        peer,
      )
      const [code] = send.firstCall.args[1].codes as Uint8Array[]
      assert.notDeepEqual(keccak256(code), s.codeHashes[0])
    })
  })
})
