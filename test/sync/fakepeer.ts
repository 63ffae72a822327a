/**
 * Scripted fake snap peers for the synchronizer's unit tests: each owns a real state and answers
 * through the real pipe, end to end in memory. A request goes through the repo's `SnapRequester`
 * (request ids, per-request timeouts, late replies dropped), is RLP-encoded, decoded by the
 * client's own `SnapProtocol` codec and validated as the server validates it, answered by the
 * real `serveRequest` (then tampered with by the peer's behaviour, see `test/helpers/lies.ts`), encoded
 * by the client's codec (which slims account bodies), RLP round-tripped and decoded by the
 * requester's codec. So an honest peer is exactly the server, and a bad one is bad on the wire.
 *
 * Timers: `silent` and `slow` use the requester's and the peer's `setTimeout`, so tests either use
 * small timeouts or sinon fake timers (`clock.tickAsync`, which lets the DB reads in between run).
 */
import { SnapProtocol } from '@ethereumjs/client/dist/esm/src/net/protocol/snapprotocol.js'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes } from '@ethereumjs/util'

import { DEFAULT_SERVE_LIMITS, SnapMessageCode } from '../../src/wire/constants.js'
import { parseSnapRequest } from '../../src/wire/messages.js'
import { SnapRequester } from '../../src/wire/requester.js'

import { KIND_OF, itemCount, tell } from '../helpers/lies.js'

import type { FakeState } from './fakestate.js'
import type { Behaviour, SnapKind } from '../helpers/lies.js'
import type { DropReason, RequestFields, SnapPeer, SnapPeerSource } from '../../src/sync/peers/snappeer.js'
import type { ServeLimits } from '../../src/wire/constants.js'
import type {
  ByteCodesReply,
  GetAccountRangeRequest,
  GetByteCodesRequest,
  GetStorageRangesRequest,
  GetTrieNodesRequest,
  ReceivedAccountRange,
  SnapRequest,
  StorageRangesReply,
  TrieNodesReply,
} from '../../src/wire/messages.js'
import type { SnapTransport } from '../../src/wire/requester.js'
import type { NestedUint8Array } from '@ethereumjs/rlp'

export { BEHAVIOURS, CAPPED_BYTES, FOREIGN_CODE, OVERSIZE_FACTOR, UNUSED_NODE } from '../helpers/lies.js'
export type { Behaviour, SnapKind } from '../helpers/lies.js'

/** A behaviour for every kind, or per kind (kinds left out use `default`, itself `honest` by default) */
export type BehaviourPlan = Behaviour | ({ readonly default?: Behaviour } & { readonly [k in SnapKind]?: Behaviour })

/** What one peer did for one kind */
export interface KindStats {
  /** Requests received */
  requests: number
  /** Replies sent (not counting `silent` ones, nor `slow` ones still on their way) */
  replies: number
  /** Items in the replies sent: accounts, slots, codes or nodes */
  items: number
  /** RLP bytes of the replies sent */
  bytes: number
}

/** What one peer did, per kind */
export type PeerStats = { [k in SnapKind]: KindStats }

/** Options of a {@link FakeSnapPeer}, all optional */
export interface FakePeerOptions {
  /** Default `fake-<n>` */
  readonly id?: string
  /** Default `honest` */
  readonly behaviour?: BehaviourPlan
  /** Delay of a `slow` peer's replies. Default 50 ms */
  readonly slowMs?: number
  /** The server's caps. Default DEFAULT_SERVE_LIMITS */
  readonly limits?: ServeLimits
  /** The other state (in `state.level`) an `otherRoot` peer answers from. Default: none (it answers honestly) */
  readonly otherRoot?: Uint8Array
}

/** The client's snap codec: the server decodes requests and encodes replies with it */
const codec = new SnapProtocol({ config: {} as never, chain: {} as never })

function message(code: number) {
  const found = codec.messages.find((m) => m.code === code)
  if (found === undefined) throw new Error(`no snap message with code ${code}`)
  return found
}

/** The reply message of each kind */
const REPLY_CODE: { readonly [k in SnapKind]: number } = {
  accounts: SnapMessageCode.AccountRange,
  storage: SnapMessageCode.StorageRanges,
  codes: SnapMessageCode.ByteCodes,
  nodes: SnapMessageCode.TrieNodes,
}

/** Bytes that decode as RLP but as no snap/1 reply: a list where the items belong */
function garbage(reqId: bigint): NestedUint8Array {
  return [bigIntToUnpaddedBytes(reqId), Uint8Array.of(0xde, 0xad), []]
}

let created = 0

/** A snap peer in memory with a real state and a named behaviour (see the module comment) */
export class FakeSnapPeer implements SnapPeer {
  readonly id: string
  /** Requests and replies so far, per kind */
  readonly stats: PeerStats = { accounts: newStats(), storage: newStats(), codes: newStats(), nodes: newStats() }
  /** Every request received, validated, in arrival order */
  readonly received: SnapRequest[] = []
  /** Errors thrown while answering; each also fails the calls in flight (see `answer`) */
  readonly errors: Error[] = []
  /** Delay of a `slow` peer's replies, ms */
  slowMs: number
  private plan: BehaviourPlan
  private readonly limits: ServeLimits
  private readonly otherRoot: Uint8Array | undefined
  private readonly requester: SnapRequester
  private receive: ((code: number, payload: Uint8Array | NestedUint8Array) => void) | undefined
  private gone = false
  /** `slow` replies on their way, cancelled by `disconnect` (no timer outlives a test) */
  private readonly delayed = new Set<NodeJS.Timeout>()
  /** Replies of these kinds wait for `until` before they go (see `hold`) */
  private held: { readonly kinds: readonly SnapKind[]; readonly until: Promise<unknown> } | undefined
  /** The waits of `when`, looked at after each request received and each reply sent */
  private readonly watchers: { readonly check: () => boolean; readonly resolve: () => void }[] = []

  constructor(
    /** The state this peer serves (its `served` roots decide which roots get answers) */
    readonly state: FakeState,
    opts: FakePeerOptions = {},
  ) {
    this.id = opts.id ?? `fake-${created++}`
    this.plan = opts.behaviour ?? 'honest'
    this.slowMs = opts.slowMs ?? 50
    this.limits = opts.limits ?? DEFAULT_SERVE_LIMITS
    this.otherRoot = opts.otherRoot
    const transport: SnapTransport = {
      send: (code, payload) => {
        // The requester turns this into the call's rejection
        if (this.gone) throw new Error(`${this.id} disconnected`)
        void this.answer(code, payload)
      },
      onMessage: (handler) => (this.receive = handler),
    }
    this.requester = new SnapRequester(transport)
  }

  /** Changes the behaviour from the next request on (replies already being made keep theirs) */
  setBehaviour(plan: BehaviourPlan): void {
    this.plan = plan
  }

  /** The behaviour of this peer for `kind` now */
  behaviourFor(kind: SnapKind): Behaviour {
    if (typeof this.plan === 'string') return this.plan
    return this.plan[kind] ?? this.plan.default ?? 'honest'
  }

  /**
   * Holds this peer's replies of `kinds` (made, not sent) until `until` settles: a test that needs
   * another peer asked first orders the two by that peer's event, not by a delay. The requester's
   * timeouts still run: a test whose hold may be long gives the tracker's timeouts room
   */
  hold(kinds: readonly SnapKind[], until: Promise<unknown>): void {
    this.held = { kinds, until }
  }

  /**
   * Resolves once `check` holds: at once, or at the request received or reply sent that makes it
   * true. Tests wait for what a peer did (its first code reply, its 50th request), not for time
   */
  when(check: (peer: FakeSnapPeer) => boolean): Promise<void> {
    if (check(this)) return Promise.resolve()
    return new Promise((resolve) => this.watchers.push({ check: () => check(this), resolve }))
  }

  // Resolves the waits of `when` whose check now holds
  private notify(): void {
    for (const w of this.watchers.filter((x) => x.check())) {
      this.watchers.splice(this.watchers.indexOf(w), 1)
      w.resolve()
    }
  }

  /** The peer goes away: requests in flight and later ones fail with a plain Error */
  disconnect(): void {
    this.gone = true
    for (const timer of this.delayed) clearTimeout(timer)
    this.delayed.clear()
    this.requester.close(`${this.id} disconnected`)
  }

  getAccountRange(req: RequestFields<GetAccountRangeRequest>, timeoutMs: number): Promise<ReceivedAccountRange> {
    return this.requester.getAccountRange(req, timeoutMs)
  }

  getStorageRanges(req: RequestFields<GetStorageRangesRequest>, timeoutMs: number): Promise<StorageRangesReply> {
    return this.requester.getStorageRanges(req, timeoutMs)
  }

  getByteCodes(req: RequestFields<GetByteCodesRequest>, timeoutMs: number): Promise<ByteCodesReply> {
    return this.requester.getByteCodes(req, timeoutMs)
  }

  getTrieNodes(req: RequestFields<GetTrieNodesRequest>, timeoutMs: number): Promise<TrieNodesReply> {
    return this.requester.getTrieNodes(req, timeoutMs)
  }

  /** The server side: one request off the wire, answered (or not) as the behaviour says */
  private async answer(code: number, payload: NestedUint8Array): Promise<void> {
    try {
      // A request arrives as the client's protocol decodes it
      const data: unknown = codec.decode(message(code), RLP.decode(RLP.encode(payload)))
      const parsed = parseSnapRequest(message(code).name, data)
      if (!parsed.ok) throw new Error(`the requester sent a malformed ${message(code).name}: ${parsed.reason}`)
      const req = parsed.request
      const kind = KIND_OF[req.kind]
      const b = this.behaviourFor(kind)
      this.received.push(req)
      this.stats[kind].requests++
      this.notify()
      if (b === 'silent') return
      const { payload: reply, items } =
        b === 'garbage' ? { payload: garbage(req.reqId), items: 0 } : await this.reply(req, b)
      const wire = RLP.encode(reply)
      const send = () => {
        if (this.gone) return
        this.stats[kind].replies++
        this.stats[kind].bytes += wire.length
        this.stats[kind].items += items
        this.receive?.(REPLY_CODE[kind], RLP.decode(wire))
        this.notify()
      }
      const held = this.held
      if (held?.kinds.includes(kind) === true) await held.until.catch(() => undefined)
      if (b !== 'slow') return send()
      const timer = setTimeout(() => {
        this.delayed.delete(timer)
        send()
      }, this.slowMs)
      this.delayed.add(timer)
    } catch (err) {
      // A bug in the fake or the server, or a request the server would refuse as malformed (a
      // syncer bug): fail every call in flight at once, naming it, rather than let them time out
      this.errors.push(err as Error)
      this.requester.close(`fake peer ${this.id} failed: ${(err as Error).message}`)
    }
  }

  /** The reply's RLP item list, as the client's encoder makes it, and its item count */
  private async reply(req: SnapRequest, b: Behaviour): Promise<{ payload: NestedUint8Array; items: number }> {
    const served = await tell(b, req, this.limits, {
      view: this.state.view,
      codes: this.state.codes,
      otherRoot: this.otherRoot,
    })
    const payload = codec.encode(message(REPLY_CODE[served.kind]), {
      reqId: req.reqId,
      ...served.reply,
    }) as NestedUint8Array
    return { payload, items: itemCount(served) }
  }
}

function newStats(): KindStats {
  return { requests: 0, replies: 0, items: 0, bytes: 0 }
}

/** Peers over one state, one per plan, with ids `<plan>-<i>` (e.g. `honest-0`, `corrupt-1`) */
export function fakePeers(
  state: FakeState,
  plans: BehaviourPlan[],
  opts: Omit<FakePeerOptions, 'id' | 'behaviour'> = {},
): FakeSnapPeer[] {
  return plans.map(
    (plan, i) =>
      new FakeSnapPeer(state, { ...opts, behaviour: plan, id: `${typeof plan === 'string' ? plan : 'mixed'}-${i}` }),
  )
}

/** A peer dropped by the syncer, as {@link FakePeerSource} records it */
export interface DroppedPeer {
  readonly id: string
  readonly reason: DropReason
  readonly detail: string
}

/** A {@link SnapPeerSource} over fake peers that records drops (a dropped peer disconnects) */
export class FakePeerSource implements SnapPeerSource {
  /** Drops in order */
  readonly dropped: DroppedPeer[] = []
  private readonly list: FakeSnapPeer[]

  constructor(peers: FakeSnapPeer[]) {
    this.list = [...peers]
  }

  peers(): SnapPeer[] {
    return [...this.list]
  }

  /** A peer connects */
  add(peer: FakeSnapPeer): void {
    this.list.push(peer)
  }

  /** A peer disconnects by itself (not a drop): it leaves the list, its requests in flight fail */
  leave(peer: FakeSnapPeer): void {
    const at = this.list.indexOf(peer)
    if (at >= 0) this.list.splice(at, 1)
    peer.disconnect()
  }

  drop(peer: SnapPeer, reason: DropReason, detail: string): void {
    this.dropped.push({ id: peer.id, reason, detail })
    const at = this.list.findIndex((p) => p.id === peer.id)
    if (at >= 0) this.list.splice(at, 1)[0].disconnect()
  }

  /** The reasons `id` was dropped for (empty if never) */
  reasonsFor(id: string): DropReason[] {
    return this.dropped.filter((d) => d.id === id).map((d) => d.reason)
  }
}
