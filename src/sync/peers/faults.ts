/**
 * How a reply can fail, as the scheduler sorts it: the peer sent wrong data (drop it), the peer does
 * not have the state asked for (ask someone else), or the request was lost (timeout, disconnect).
 */
import { TrieVerifyError } from '../../trie/index.js'
import { BadReplyError } from '../../wire/codec.js'
import { RequestLostError, RequestTimeoutError } from '../../wire/requester.js'

import type { DropReason } from './snappeer.js'

/** The peer sent data that fails verification or is not what was asked: drop it */
export class PeerFault extends Error {
  override name = 'PeerFault'
  constructor(
    readonly reason: DropReason,
    message: string,
  ) {
    super(message)
  }
}

/** The peer answered empty: it does not have the root (snap.md: an empty reply, not an error) */
export class RootUnavailable extends Error {
  override name = 'RootUnavailable'
}

/** What happened to a request, for the scheduler */
export type Failure =
  | { kind: 'fault'; reason: DropReason; detail: string }
  | { kind: 'unavailable' }
  | { kind: 'timeout' }
  | { kind: 'lost'; detail: string }

/**
 * Sorts an error from sending, decoding, verifying or applying a reply. Throws `err` itself when it is
 * none of these (a TypeError, say): a bug of this node, for which no peer may be blamed
 */
export function classify(err: unknown): Failure {
  if (err instanceof PeerFault) return { kind: 'fault', reason: err.reason, detail: err.message }
  if (err instanceof RootUnavailable) return { kind: 'unavailable' }
  if (err instanceof RequestTimeoutError) return { kind: 'timeout' }
  if (err instanceof BadReplyError) return { kind: 'fault', reason: 'garbage', detail: err.message }
  if (err instanceof TrieVerifyError) {
    if (err.code === 'EMPTY_RESPONSE') return { kind: 'unavailable' }
    const reason: DropReason =
      err.code === 'BYTECODE_MISMATCH' || err.code === 'BYTECODE_UNREQUESTED'
        ? 'bad_code'
        : err.code === 'KEY_OUT_OF_RANGE'
          ? 'oversized'
          : 'invalid_proof'
    return { kind: 'fault', reason, detail: err.message }
  }
  if (err instanceof RequestLostError) return { kind: 'lost', detail: err.message }
  throw err
}

/**
 * Slack over the bytes asked for that a reply may carry. Servers stop after the item that crosses
 * the limit, and may finish a storage trie 10% over it (geth's stateLookupSlack); 128 KiB covers one
 * maximal contract code or a long proof on top.
 */
export function maxReplyBytes(asked: number): number {
  return Math.floor(asked * 1.1) + 128 * 1024
}

/** Throws `oversized` when a reply is larger than asked */
export function checkReplySize(bytes: number, asked: number, what: string): void {
  if (bytes > maxReplyBytes(asked)) throw new PeerFault('oversized', `${what}: ${bytes} bytes for ${asked} asked`)
}

/** Total length of a list of byte strings */
export function byteLength(list: Uint8Array[]): number {
  let n = 0
  for (const b of list) n += b.length
  return n
}

/** Payload bytes of a decoded reply (every byte string in it), for the wasted-bytes counter */
export function payloadBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.length
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + payloadBytes(v), 0)
  if (typeof value === 'object' && value !== null)
    return Object.values(value).reduce((n: number, v) => n + payloadBytes(v), 0)
  return 0
}
