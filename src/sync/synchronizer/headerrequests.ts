/**
 * GetBlockHeaders for pivot discovery, sent on a client peer's raw eth sender with replies matched
 * by request id (eth/66+), as the snap requests are. Why not the client's `eth.getBlockHeaders`: its
 * `BoundProtocol` matches a reply by message code, and an EthereumJS peer answers a request past its
 * head at once but others after a chain read, so replies overtake each other. With the block
 * pipeline asking the same peer, pivot discovery got the pipeline's replies (seen with real
 * processes: an honest peer dropped for "headers do not end at the head", another whose announced
 * head never came). The client still sees these replies; the client patch keeps them from its own
 * waiting requests (ids from 2^62 are not the client's: docs/upstream.md, `boundprotocol.js`).
 */
import { randomBytes } from 'node:crypto'

import { createBlockHeaderFromBytesArray } from '@ethereumjs/block'
import { bigIntToUnpaddedBytes, bytesToBigInt, intToUnpaddedBytes } from '@ethereumjs/util'

import type { BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { NestedUint8Array } from '@ethereumjs/rlp'

/** eth/68 message codes (devp2p `caps/eth.md`) */
const GET_BLOCK_HEADERS = 0x03
const BLOCK_HEADERS = 0x04

/** Why 10 s: above the client's own eth request timeout (8 s); a pivot look simply tries again */
export const HEADERS_TIMEOUT_MS = 10_000

/** What this needs of a client peer's eth sender */
export interface RawEthSender {
  sendMessage(code: number, payload: unknown): void
  on(event: 'message', listener: (m: { code: number; payload: unknown }) => void): unknown
}

interface Waiter {
  readonly resolve: (headers: BlockHeader[]) => void
  readonly reject: (err: Error) => void
  readonly timer: NodeJS.Timeout
}

/** See the module comment; one per peer (it listens to the peer's sender for its whole life) */
export class EthHeaderRequester {
  private readonly waiting = new Map<bigint, Waiter>()
  // Far above the client's own request ids (a counter from 0), so that no reply is taken for both;
  // within 64 bits (geth decodes the id as a uint64 and disconnects on what does not fit)
  private nextId = (1n << 62n) + bytesToBigInt(randomBytes(6))
  /** Why it was closed; undefined while open */
  private closed: string | undefined

  constructor(
    private readonly sender: RawEthSender,
    private readonly common: Common,
    private readonly timeoutMs = HEADERS_TIMEOUT_MS,
  ) {
    sender.on('message', (m) => this.onMessage(m.code, m.payload))
  }

  /**
   * Fails every request in flight and every later one: the peer is gone (a pivot look waits for all
   * its peers' answers, and would otherwise wait out the timeout of one that left)
   */
  close(reason: string): void {
    this.closed = reason
    for (const [reqId, waiter] of this.waiting) {
      clearTimeout(waiter.timer)
      waiter.reject(new Error(`request ${reqId}: ${reason}`))
    }
    this.waiting.clear()
  }

  /** Up to `max` consecutive headers from `block` (a number or a hash), ascending */
  headers(block: bigint | Uint8Array, max: number): Promise<BlockHeader[]> {
    if (this.closed !== undefined) return Promise.reject(new Error(this.closed))
    const reqId = this.nextId++
    const origin = typeof block === 'bigint' ? bigIntToUnpaddedBytes(block) : block
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(reqId)
        reject(new Error(`no BlockHeaders for request ${reqId} within ${this.timeoutMs} ms`))
      }, this.timeoutMs)
      this.waiting.set(reqId, { resolve, reject, timer })
      this.sender.sendMessage(GET_BLOCK_HEADERS, [
        bigIntToUnpaddedBytes(reqId),
        [origin, intToUnpaddedBytes(max), intToUnpaddedBytes(0), intToUnpaddedBytes(0)],
      ])
    })
  }

  private onMessage(code: number, payload: unknown): void {
    if (code !== BLOCK_HEADERS || !Array.isArray(payload) || !(payload[0] instanceof Uint8Array)) return
    const reqId = bytesToBigInt(payload[0])
    const waiter = this.waiting.get(reqId)
    if (waiter === undefined) return
    this.waiting.delete(reqId)
    clearTimeout(waiter.timer)
    try {
      const raw = payload[1] as NestedUint8Array
      waiter.resolve(
        raw.map((h) => createBlockHeaderFromBytesArray(h as Uint8Array[], { common: this.common, setHardfork: true })),
      )
    } catch (err) {
      waiter.reject(err as Error)
    }
  }
}
