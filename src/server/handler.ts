/**
 * The snap/1 server bound to the client: receives the requests the client's `SnapProtocol`
 * decoded (through the plugin seam's `ProtocolHandler`), validates them, runs them under the
 * serving caps and sends the replies with the client's encoder (which slims account bodies).
 */

import { DEFAULT_SERVE_LIMITS } from '../wire/constants.js'
import { parseSnapRequest } from '../wire/messages.js'

import { accountFields, serveAccountRange } from './accountrange.js'
import { Budget } from './budget.js'
import { serveByteCodes } from './bytecodes.js'
import { ServeScheduler } from './scheduler.js'
import { serveStorageRanges } from './storageranges.js'
import { serveTrieNodes } from './trienodes.js'

import type { StateView } from './stateview.js'
import type { ServeLimits } from '../wire/constants.js'
import type { SnapRequest } from '../wire/messages.js'

/** What the handler needs of a client peer */
export interface ServedPeer {
  readonly id: string
  readonly snap?: { send(name: string, args: unknown): unknown }
}

/** Where served requests are counted (the plugin's `SnapMetrics` fits) */
export interface ServeRecorder {
  recordServed(
    message: string,
    outcome: 'answered' | 'empty' | 'rejected',
    items: Partial<Record<'accounts' | 'slots' | 'codes' | 'nodes' | 'proofNodes', number>>,
    bytes: number,
  ): void
}

/** Log sink (the client's logger fits) */
export interface ServeLogger {
  debug(message: string): void
}

/** Reply message name of each request (snap.md §Protocol Messages) */
const REPLY_NAME = {
  GetAccountRange: 'AccountRange',
  GetStorageRanges: 'StorageRanges',
  GetByteCodes: 'ByteCodes',
  GetTrieNodes: 'TrieNodes',
} as const

type RequestName = keyof typeof REPLY_NAME

const EMPTY_REPLY: { [name in RequestName]: object } = {
  GetAccountRange: { accounts: [], proof: [] },
  GetStorageRanges: { slots: [], proof: [] },
  GetByteCodes: { codes: [] },
  GetTrieNodes: { nodes: [] },
}

/** What a {@link SnapServerHandler} is built from */
export interface SnapServerOptions {
  /** Local state; its served roots must be current (see {@link RecentRoots}) */
  readonly view: StateView
  /** Called before each request to bring the served roots up to date */
  readonly refreshRoots?: () => Promise<void>
  /** Called at stop, before the client closes its DBs: background work on the state ends there */
  readonly onStop?: () => Promise<void>
  readonly limits?: ServeLimits
  readonly logger?: ServeLogger
  readonly metrics?: ServeRecorder
  /** Subscribes to peer disconnections (returns the unsubscribe): their waiting requests are dropped */
  readonly onPeerGone?: (listener: (peerId: string) => void) => () => void
  /** Answers instead of the real server (a test's misbehaving server); by default {@link serveRequest} */
  readonly answerer?: SnapAnswerer
}

/** What answers a validated request in place of the real server; undefined: no reply is sent */
export interface SnapAnswerer {
  answer(req: SnapRequest, limits: ServeLimits): Promise<ServedReply | undefined>
}

/** Counters of what was served, for logs, metrics and tests */
export interface ServeStats {
  served: number
  malformed: number
  dropped: number
  failed: number
}

/** Total length of byte strings (reply sizes, for the serving metrics) */
const sum = (list: Uint8Array[]) => list.reduce((n, b) => n + b.length, 0)

type ServedItems = Parameters<ServeRecorder['recordServed']>[2]

/** A reply ready for the client's encoder, with what it carries (for metrics) */
export interface ServedReply {
  readonly args: object
  readonly items: ServedItems
  readonly bytes: number
}

/** Runs one validated request against the state view under a fresh budget */
export async function serveRequest(view: StateView, req: SnapRequest, limits: ServeLimits): Promise<ServedReply> {
  const maxLoads = req.kind === 'GetTrieNodes' ? limits.maxTrieNodeLookups : Number.POSITIVE_INFINITY
  const budget = Budget.fromNow(maxLoads, limits.timeBudgetMs)
  switch (req.kind) {
    case 'GetAccountRange': {
      const { accounts, proof } = await serveAccountRange(view, req, limits, budget)
      // The client's encoder takes the body's fields and slims them (accountBodyToSlim)
      const args = { accounts: accounts.map((a) => ({ hash: a.hash, body: accountFields(a.body) })), proof }
      const bytes = accounts.reduce((n, a) => n + a.hash.length + a.body.length, 0) + sum(proof)
      return { args, items: { accounts: accounts.length, proofNodes: proof.length }, bytes }
    }
    case 'GetStorageRanges': {
      const reply = await serveStorageRanges(view, req, limits, budget)
      const slots = reply.slots.flat()
      const bytes = slots.reduce((n, x) => n + x.hash.length + x.body.length, 0) + sum(reply.proof)
      return { args: reply, items: { slots: slots.length, proofNodes: reply.proof.length }, bytes }
    }
    case 'GetByteCodes': {
      const reply = await serveByteCodes(view, req, limits, budget)
      return { args: reply, items: { codes: reply.codes.length }, bytes: sum(reply.codes) }
    }
    case 'GetTrieNodes': {
      const reply = await serveTrieNodes(view, req, limits, budget)
      return { args: reply, items: { nodes: reply.nodes.length }, bytes: sum(reply.nodes) }
    }
  }
}

/** The `snap` protocol handler registered through the client's plugin seam */
export class SnapServerHandler {
  readonly protocol = 'snap'
  readonly stats: ServeStats = { served: 0, malformed: 0, dropped: 0, failed: 0 }
  private readonly limits: ServeLimits
  private readonly scheduler: ServeScheduler
  private running = true
  private unsubscribe: (() => void) | undefined

  constructor(private readonly options: SnapServerOptions) {
    this.limits = options.limits ?? DEFAULT_SERVE_LIMITS
    this.scheduler = new ServeScheduler(this.limits)
  }

  async start(): Promise<void> {
    this.running = true
    this.unsubscribe ??= this.options.onPeerGone?.((peerId) => this.scheduler.dropPeer(peerId))
  }

  async stop(): Promise<void> {
    this.running = false
    this.unsubscribe?.()
    this.unsubscribe = undefined
    await this.options.onStop?.()
  }

  /** Answers one request; never throws (a failure becomes an empty reply) */
  async handle(message: { name: string; data: unknown }, peer: ServedPeer): Promise<void> {
    if (!this.running || !Object.hasOwn(REPLY_NAME, message.name)) return
    const name = message.name as RequestName
    const parsed = parseSnapRequest(name, message.data)
    if (!parsed.ok) {
      this.stats.malformed++
      this.options.logger?.debug(`snap: malformed ${name} from ${peer.id}: ${parsed.reason}`)
      this.options.metrics?.recordServed(name, 'rejected', {}, 0)
      if (parsed.reqId !== undefined) this.reply(peer, name, { reqId: parsed.reqId, ...EMPTY_REPLY[name] })
      return
    }
    const request = parsed.request
    const run = this.scheduler.submit(peer.id, () => this.serve(request))
    if (run === undefined) {
      this.stats.dropped++
      this.options.metrics?.recordServed(name, 'rejected', {}, 0)
      this.options.logger?.debug(`snap: dropped ${name} from ${peer.id}: too many queued requests`)
      return
    }
    const served = await run
    // undefined: the peer went away before its request ran (or the answerer sends no reply)
    if (served === undefined) return
    const { args, items, bytes } = served
    this.options.metrics?.recordServed(name, bytes === 0 ? 'empty' : 'answered', items, bytes)
    if (this.running) this.reply(peer, name, { reqId: request.reqId, ...args })
  }

  private async serve(request: SnapRequest): Promise<ServedReply | undefined> {
    try {
      await this.options.refreshRoots?.()
      const answerer = this.options.answerer
      const reply =
        answerer === undefined
          ? await serveRequest(this.options.view, request, this.limits)
          : await answerer.answer(request, this.limits)
      this.stats.served++
      return reply
    } catch (err) {
      this.stats.failed++
      this.options.logger?.debug(`snap: ${request.kind} failed: ${(err as Error).message}`)
      return { args: EMPTY_REPLY[request.kind], items: {}, bytes: 0 }
    }
  }

  private reply(peer: ServedPeer, name: RequestName, args: object): void {
    try {
      peer.snap?.send(REPLY_NAME[name], args)
    } catch (err) {
      // The peer went away between request and reply
      this.options.logger?.debug(`snap: cannot reply to ${peer.id}: ${(err as Error).message}`)
    }
  }
}
