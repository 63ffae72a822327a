/**
 * A snap/1 requester over any transport that sends and receives snap messages by code: several
 * requests in flight, matched by request id, each with a timeout. The seam a syncer (and the
 * integration tests) use to talk snap to one peer.
 */
import {
  decodeAccountRange,
  decodeByteCodes,
  decodeStorageRanges,
  decodeTrieNodes,
  encodeRequest,
  replyId,
} from './codec.js'
import { SnapMessageCode } from './constants.js'

import type {
  ByteCodesReply,
  GetAccountRangeRequest,
  GetByteCodesRequest,
  GetStorageRangesRequest,
  GetTrieNodesRequest,
  SnapRequest,
  ReceivedAccountRange,
  StorageRangesReply,
  TrieNodesReply,
} from './messages.js'
import type { NestedUint8Array } from '@ethereumjs/rlp'

/** Sends and receives snap messages (payloads as RLP item lists) */
export interface SnapTransport {
  send(code: number, payload: NestedUint8Array): void
  /** Registers the receiver of every incoming snap message */
  onMessage(handler: (code: number, payload: Uint8Array | NestedUint8Array) => void): void
}

/** No reply to a request within its timeout */
export class RequestTimeoutError extends Error {}

/** The request cannot be answered: it could not be sent, or the connection closed before the reply */
export class RequestLostError extends Error {}

interface Pending {
  readonly replyCode: number
  resolve(payload: Uint8Array | NestedUint8Array): void
  reject(err: Error): void
  readonly timer: NodeJS.Timeout
}

type Without<T> = Omit<T, 'kind' | 'reqId'>

/** Typed snap/1 requests to one peer */
export class SnapRequester {
  private nextId = 1n
  private readonly pending = new Map<bigint, Pending>()

  constructor(
    private readonly transport: SnapTransport,
    private readonly timeoutMs = 10_000,
  ) {
    transport.onMessage((code, payload) => this.deliver(code, payload))
  }

  async getAccountRange(req: Without<GetAccountRangeRequest>, timeoutMs?: number): Promise<ReceivedAccountRange> {
    return decodeAccountRange(await this.request({ kind: 'GetAccountRange', reqId: 0n, ...req }, timeoutMs))
  }

  async getStorageRanges(req: Without<GetStorageRangesRequest>, timeoutMs?: number): Promise<StorageRangesReply> {
    return decodeStorageRanges(await this.request({ kind: 'GetStorageRanges', reqId: 0n, ...req }, timeoutMs))
  }

  async getByteCodes(req: Without<GetByteCodesRequest>, timeoutMs?: number): Promise<ByteCodesReply> {
    return decodeByteCodes(await this.request({ kind: 'GetByteCodes', reqId: 0n, ...req }, timeoutMs))
  }

  async getTrieNodes(req: Without<GetTrieNodesRequest>, timeoutMs?: number): Promise<TrieNodesReply> {
    return decodeTrieNodes(await this.request({ kind: 'GetTrieNodes', reqId: 0n, ...req }, timeoutMs))
  }

  /** Sends a request with a fresh id and waits for the reply with that id */
  private request(req: SnapRequest, timeoutMs = this.timeoutMs): Promise<Uint8Array | NestedUint8Array> {
    const reqId = this.nextId++
    const { code, payload } = encodeRequest({ ...req, reqId })
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId)
        reject(new RequestTimeoutError(`${req.kind} ${reqId} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(reqId, { replyCode: code + 1, resolve, reject, timer })
      try {
        this.transport.send(code, payload as NestedUint8Array)
      } catch (err) {
        clearTimeout(timer)
        this.pending.delete(reqId)
        reject(new RequestLostError((err as Error).message, { cause: err }))
      }
    })
  }

  private deliver(code: number, payload: Uint8Array | NestedUint8Array): void {
    if (code % 2 === 0 || code > SnapMessageCode.TrieNodes) return // requests are not ours to answer
    let id: bigint
    try {
      id = replyId(payload)
    } catch {
      return
    }
    const pending = this.pending.get(id)
    // Late or unsolicited replies are dropped
    if (pending === undefined || pending.replyCode !== code) return
    this.pending.delete(id)
    clearTimeout(pending.timer)
    pending.resolve(payload)
  }

  /** Fails every pending request (the connection is gone) */
  close(reason = 'closed'): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer)
      p.reject(new RequestLostError(reason))
      this.pending.delete(id)
    }
  }
}
