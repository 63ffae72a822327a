/**
 * The snap/1 server bound to the client: receives the requests the client's `SnapProtocol`
 * decoded (through the plugin seam's `ProtocolHandler`), validates them, runs them under the
 * serving caps and sends the replies with the client's encoder (which slims account bodies).
 */
import { RLP } from '@ethereumjs/rlp'

import { DEFAULT_SERVE_LIMITS } from '../wire/constants.js'
import { parseSnapRequest } from '../wire/messages.js'

import { serveAccountRange } from './accountrange.js'
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

export interface SnapServerOptions {
  /** Local state; its served roots must be current (see {@link RecentRoots}) */
  readonly view: StateView
  /** Called before each request to bring the served roots up to date */
  readonly refreshRoots?: () => Promise<void>
  readonly limits?: ServeLimits
  readonly logger?: ServeLogger
}

/** Counters of what was served, for logs, metrics and tests */
export interface ServeStats {
  served: number
  malformed: number
  dropped: number
  failed: number
}

/** Runs one validated request against the state view under a fresh budget */
export async function serveRequest(view: StateView, req: SnapRequest, limits: ServeLimits): Promise<object> {
  const maxLoads = req.kind === 'GetTrieNodes' ? limits.maxTrieNodeLookups : Number.POSITIVE_INFINITY
  const budget = Budget.fromNow(maxLoads, limits.timeBudgetMs)
  switch (req.kind) {
    case 'GetAccountRange': {
      const reply = await serveAccountRange(view, req, limits, budget)
      // The client's encoder takes the body's fields and slims them (accountBodyToSlim)
      return { accounts: reply.accounts.map((a) => ({ hash: a.hash, body: RLP.decode(a.body) })), proof: reply.proof }
    }
    case 'GetStorageRanges':
      return serveStorageRanges(view, req, limits, budget)
    case 'GetByteCodes':
      return serveByteCodes(view, req, limits, budget)
    case 'GetTrieNodes':
      return serveTrieNodes(view, req, limits, budget)
  }
}

/** The `snap` protocol handler registered through the client's plugin seam */
export class SnapServerHandler {
  readonly protocol = 'snap'
  readonly stats: ServeStats = { served: 0, malformed: 0, dropped: 0, failed: 0 }
  private readonly limits: ServeLimits
  private readonly scheduler: ServeScheduler
  private running = true

  constructor(private readonly options: SnapServerOptions) {
    this.limits = options.limits ?? DEFAULT_SERVE_LIMITS
    this.scheduler = new ServeScheduler(this.limits)
  }

  async start(): Promise<void> {
    this.running = true
  }

  async stop(): Promise<void> {
    this.running = false
  }

  /** Answers one request; never throws (a failure becomes an empty reply) */
  async handle(message: { name: string; data: unknown }, peer: ServedPeer): Promise<void> {
    if (!this.running || !(message.name in REPLY_NAME)) return
    const name = message.name as RequestName
    const parsed = parseSnapRequest(name, message.data)
    if (!parsed.ok) {
      this.stats.malformed++
      this.options.logger?.debug(`snap: malformed ${name} from ${peer.id}: ${parsed.reason}`)
      if (parsed.reqId !== undefined) this.reply(peer, name, { reqId: parsed.reqId, ...EMPTY_REPLY[name] })
      return
    }
    const request = parsed.request
    const run = this.scheduler.submit(peer.id, () => this.serve(request))
    if (run === undefined) {
      this.stats.dropped++
      this.options.logger?.debug(`snap: dropped ${name} from ${peer.id}: too many queued requests`)
      return
    }
    const reply = await run
    if (this.running) this.reply(peer, name, { reqId: request.reqId, ...reply })
  }

  private async serve(request: SnapRequest): Promise<object> {
    try {
      await this.options.refreshRoots?.()
      const reply = await serveRequest(this.options.view, request, this.limits)
      this.stats.served++
      return reply
    } catch (err) {
      this.stats.failed++
      this.options.logger?.debug(`snap: ${request.kind} failed: ${(err as Error).message}`)
      return EMPTY_REPLY[request.kind]
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
