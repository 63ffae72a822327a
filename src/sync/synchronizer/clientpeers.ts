/**
 * The client's pooled peers as the sync sees them: a {@link SnapPeer} per peer that speaks snap/1
 * (our requester on the peer's raw snap sender: several requests in flight, replies matched by
 * request id, which the client's own per-message-code resolver cannot do), a {@link HeaderPeer} per
 * eth peer (headers requested the same way), and drops: a DISCONNECT that says why, then the pool's ban.
 */
import { RlpxPeer } from '@ethereumjs/client/dist/esm/src/net/peer/rlpxpeer.js'
import { Event } from '@ethereumjs/client/dist/esm/src/types.js'
import { DISCONNECT_REASON } from '@ethereumjs/devp2p'

import { SnapRequester } from '../../wire/requester.js'

import { EthHeaderRequester } from './headerrequests.js'

import type { HeaderPeer } from '../pivot/pivot.js'
import type { DropReason, SnapPeer, SnapPeerSource } from '../peers/snappeer.js'
import type { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import type { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'
import type { PeerPool } from '@ethereumjs/client/dist/esm/src/net/peerpool.js'
import type { NestedUint8Array } from '@ethereumjs/rlp'

/**
 * How long a dropped peer is banned; the pool dials a peer we dialled (a bootnode) again when its ban
 * ends. Why 10 minutes for bad data: long enough for the sync to finish without it on a devnet, and
 * not lost for good (it may have been one bad reply). Why 1 minute for timeouts: slowness is no
 * fault, and a busy peer is often back to speed soon; the client's block fetcher bans as long
 */
export const DROP_BAN_MS: { readonly [reason in DropReason]: number } = Object.freeze({
  invalid_proof: 10 * 60_000,
  bad_code: 10 * 60_000,
  bad_node: 10 * 60_000,
  oversized: 10 * 60_000,
  garbage: 10 * 60_000,
  timeout: 60_000,
  bad_pivot: 10 * 60_000,
})

/** Drops named in the "why no peer" line, most recent first */
const DROPS_NAMED = 3

/**
 * The DISCONNECT reason a drop sends, as go-ethereum's: a reply that breaks the snap or eth protocol
 * is a subprotocol error (geth: DiscSubprotocolError, when a protocol handler returns an error), a
 * peer that does not answer is useless to us (the downloader's DiscUselessPeer). The pool's ban alone
 * sends CLIENT_QUITTING, which tells the peer that this node is shutting down.
 */
const DISCONNECT_FOR: { readonly [reason in DropReason]: DISCONNECT_REASON } = Object.freeze({
  invalid_proof: DISCONNECT_REASON.SUBPROTOCOL_ERROR,
  bad_code: DISCONNECT_REASON.SUBPROTOCOL_ERROR,
  bad_node: DISCONNECT_REASON.SUBPROTOCOL_ERROR,
  oversized: DISCONNECT_REASON.SUBPROTOCOL_ERROR,
  garbage: DISCONNECT_REASON.SUBPROTOCOL_ERROR,
  timeout: DISCONNECT_REASON.USELESS_PEER,
  bad_pivot: DISCONNECT_REASON.USELESS_PEER,
})

interface Bound {
  readonly peer: Peer
  readonly snap: SnapPeer
  readonly requester: SnapRequester
}

/** See the module comment */
export class ClientPeers implements SnapPeerSource {
  private readonly bound = new Map<string, Bound>()
  /** Peers this sync dropped whose ban has not ended, by id: why, and when it ends (ms since the epoch) */
  private readonly banned = new Map<string, { readonly reason: DropReason; readonly until: number }>()
  private readonly headerRequesters = new Map<Peer, EthHeaderRequester>()
  private readonly onGone = (peer: Peer) => {
    this.unbind(peer.id, 'peer disconnected')
    this.headerRequesters.get(peer)?.close('peer disconnected')
    this.headerRequesters.delete(peer)
  }

  constructor(
    private readonly pool: PeerPool,
    private readonly config: Config,
    /** Told about every drop (metrics, log) */
    private readonly dropped: (peerId: string, reason: DropReason, detail: string) => void,
  ) {
    config.events.on(Event.PEER_DISCONNECTED, this.onGone)
    config.events.on(Event.POOL_PEER_REMOVED, this.onGone)
  }

  /** Stops listening and fails every request in flight */
  close(): void {
    this.config.events.off(Event.PEER_DISCONNECTED, this.onGone)
    this.config.events.off(Event.POOL_PEER_REMOVED, this.onGone)
    for (const id of [...this.bound.keys()]) this.unbind(id, 'sync stopped')
    for (const requester of this.headerRequesters.values()) requester.close('sync stopped')
    this.headerRequesters.clear()
  }

  peers(): SnapPeer[] {
    const out: SnapPeer[] = []
    for (const peer of this.pool.peers) {
      if (peer.snap === undefined || peer.eth === undefined) continue
      out.push(this.bind(peer).snap)
    }
    return out
  }

  /** The eth peers, for pivot discovery */
  headerPeers(): HeaderPeer[] {
    return this.pool.peers.filter((p) => p.eth !== undefined).map((p) => this.headerPeer(p))
  }

  drop(peer: SnapPeer, reason: DropReason, detail: string): void {
    this.dropById(peer.id, reason, detail)
  }

  /** Fails the peer's snap requests, disconnects it saying why, bans it from the pool and reports the drop */
  dropById(peerId: string, reason: DropReason, detail: string): void {
    const peer = this.bound.get(peerId)?.peer ?? this.pool.peers.find((p) => p.id === peerId)
    this.unbind(peerId, `dropped: ${reason}`)
    // First: devp2p sends one DISCONNECT per connection, and the ban's own would say CLIENT_QUITTING
    if (peer instanceof RlpxPeer) peer.rlpxPeer?.disconnect(DISCONNECT_FOR[reason])
    if (peer !== undefined) this.pool.ban(peer, DROP_BAN_MS[reason])
    this.banned.delete(peerId)
    this.banned.set(peerId, { reason, until: Date.now() + DROP_BAN_MS[reason] })
    this.dropped(peerId, reason, detail)
  }

  /** Why no snap peer is connected: the pool's peers without snap/1, and the drops still banned */
  whyNone(): string {
    const now = Date.now()
    for (const [id, ban] of this.banned) if (ban.until <= now) this.banned.delete(id)
    const withoutSnap = this.pool.peers.filter((p) => p.snap === undefined || p.eth === undefined).length
    const parts = [withoutSnap === 0 ? 'no peer connected' : `${withoutSnap} peers connected without snap/1`]
    const drops = [...this.banned].reverse().slice(0, DROPS_NAMED)
    for (const [id, ban] of drops) {
      const at = new Date(ban.until).toISOString().slice(11, 19)
      parts.push(`${id.slice(0, 8)} dropped (${ban.reason}), banned until ${at}`)
    }
    if (this.banned.size > drops.length) parts.push(`${this.banned.size - drops.length} more dropped`)
    return parts.join('; ')
  }

  // A client peer's eth/68 headers, requested by request id (see headerrequests.ts)
  private headerPeer(peer: Peer): HeaderPeer {
    const eth = peer.eth as NonNullable<Peer['eth']>
    let requester = this.headerRequesters.get(peer)
    if (requester === undefined) {
      requester = new EthHeaderRequester(eth.sender, this.config.chainCommon)
      this.headerRequesters.set(peer, requester)
    }
    const headers = requester.headers.bind(requester)
    return { id: peer.id, announcedHead: eth.status.bestHash as Uint8Array, headers }
  }

  private bind(peer: Peer): Bound {
    const known = this.bound.get(peer.id)
    if (known !== undefined && known.peer === peer) return known
    if (known !== undefined) this.unbind(peer.id, 'peer reconnected')
    const sender = (peer.snap as NonNullable<Peer['snap']>).sender
    const requester = new SnapRequester({
      send: (code, payload) => sender.sendMessage(code, payload as NestedUint8Array),
      onMessage: (handler) =>
        sender.on('message', (m: { code: number; payload: Uint8Array | NestedUint8Array }) =>
          handler(m.code, m.payload),
        ),
    })
    const snap: SnapPeer = {
      id: peer.id,
      getAccountRange: (req, timeoutMs) => requester.getAccountRange(req, timeoutMs),
      getStorageRanges: (req, timeoutMs) => requester.getStorageRanges(req, timeoutMs),
      getByteCodes: (req, timeoutMs) => requester.getByteCodes(req, timeoutMs),
      getTrieNodes: (req, timeoutMs) => requester.getTrieNodes(req, timeoutMs),
    }
    const bound = { peer, snap, requester }
    this.bound.set(peer.id, bound)
    return bound
  }

  private unbind(peerId: string, reason: string): void {
    const bound = this.bound.get(peerId)
    if (bound === undefined) return
    this.bound.delete(peerId)
    bound.requester.close(reason)
  }
}
