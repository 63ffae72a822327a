/**
 * How the sync drops a client peer: the pool bans it, and the DISCONNECT it is sent says why, as
 * go-ethereum's does (a reply that breaks the protocol: a subprotocol error; a peer that does not
 * answer: useless), not CLIENT_QUITTING, which reads as if this node were shutting down.
 */
import { strict as assert } from 'node:assert'

import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { RlpxPeer } from '@ethereumjs/client/dist/esm/src/net/peer/rlpxpeer.js'
import { PeerPool } from '@ethereumjs/client/dist/esm/src/net/peerpool.js'
import { RlpxServer } from '@ethereumjs/client/dist/esm/src/net/server/rlpxserver.js'
import { type DISCONNECT_REASON, DisconnectReasonNames, Peer as Devp2pPeer, RLPx } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'
import { bytesToInt } from '@ethereumjs/util'
import sinon from 'sinon'

import { ClientPeers } from '../../../src/sync/synchronizer/clientpeers.js'

import type { DropReason } from '../../../src/sync/peers/snappeer.js'

/** The devp2p base protocol's DISCONNECT message code */
const DISCONNECT = 0x01

/**
 * A devp2p peer over a socket that records what is written, without encryption: the messages its
 * own `disconnect` sends, as the remote would read them
 */
function wirePeer(): { peer: Devp2pPeer; reasonsSent: () => string[] } {
  const written: Uint8Array[] = []
  const peer = Object.assign(Object.create(Devp2pPeer.prototype), {
    _closed: false,
    DEBUG: false,
    _hello: null,
    _socket: { destroyed: false, write: (b: Uint8Array) => written.push(b), end: () => {} },
    _eciesSession: { createBlockHeader: () => new Uint8Array(0), createBody: (m: Uint8Array) => m },
  }) as Devp2pPeer
  const reasonsSent = () =>
    written
      .filter((m) => m.length > 0 && m[0] === DISCONNECT)
      .map((m) => DisconnectReasonNames[bytesToInt(RLP.decode(m.subarray(1)) as Uint8Array) as DISCONNECT_REASON])
  return { peer, reasonsSent }
}

/** A pooled client peer on a started rlpx server whose connection is `wire` (the rest of the server stubbed) */
function pooledPeer(config: Config, pool: PeerPool, wire: Devp2pPeer): RlpxPeer {
  const id = 'ab'.repeat(64)
  const server = new RlpxServer({ config })
  const rlpx = Object.assign(Object.create(RLPx.prototype), { _peers: new Map([[id, wire]]) })
  Object.assign(server, { started: true, dpt: { banPeer: () => {} }, rlpx })
  const peer = new RlpxPeer({ config, id, host: '127.0.0.1', port: 30303 })
  Object.assign(peer, { rlpxPeer: wire, server })
  pool.add(peer)
  return peer
}

describe('[ClientPeers] dropping a peer', () => {
  // The pool's ban arms a reconnect timer of the ban's length, and devp2p ends the socket 2 s after a DISCONNECT
  let clock: sinon.SinonFakeTimers
  beforeEach(() => {
    clock = sinon.useFakeTimers()
  })
  afterEach(() => clock.restore())

  const cases: { reason: DropReason; sent: keyof typeof DISCONNECT_REASON }[] = [
    { reason: 'invalid_proof', sent: 'SUBPROTOCOL_ERROR' },
    { reason: 'bad_code', sent: 'SUBPROTOCOL_ERROR' },
    { reason: 'bad_node', sent: 'SUBPROTOCOL_ERROR' },
    { reason: 'oversized', sent: 'SUBPROTOCOL_ERROR' },
    { reason: 'garbage', sent: 'SUBPROTOCOL_ERROR' },
    { reason: 'timeout', sent: 'USELESS_PEER' },
  ]
  for (const c of cases) {
    it(`${c.reason}: banned, sent DISCONNECT ${c.sent} once, the drop reported with the fault`, () => {
      const config = new Config({ accountCache: 1000, storageCache: 1000 })
      const pool = new PeerPool({ config })
      const wire = wirePeer()
      const peer = pooledPeer(config, pool, wire.peer)
      const drops: string[] = []
      const peers = new ClientPeers(pool, config, (id, reason, detail) => drops.push(`${id} ${reason} ${detail}`))
      try {
        peers.dropById(peer.id, c.reason, 'accounts: what the peer did')
        assert.deepEqual(wire.reasonsSent(), [c.sent])
        assert.equal(pool.peers.length, 0, 'out of the pool')
        assert.deepEqual(drops, [`${peer.id} ${c.reason} accounts: what the peer did`])
      } finally {
        peers.close()
      }
    })
  }
})
