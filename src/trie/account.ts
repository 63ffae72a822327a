/**
 * Account bodies: the "slim" form snap/1 sends (empty storage root and code hash as empty strings) and
 * the full form the state trie stores (`[nonce, balance, storageRoot, codeHash]`, 32-byte hashes).
 */
import { RLP } from '@ethereumjs/rlp'

import { TrieVerifyError } from './errors.js'
import { toHex } from './hex.js'
import { keccak256 } from './keccak.js'
import { encodeStringList } from './node.js'
import { EMPTY_ROOT } from './stackbuilder.js'

/** keccak256 of empty code. */
export const EMPTY_CODE_HASH = keccak256(new Uint8Array(0))

/** A decoded account. `storageRoot` and `codeHash` are always 32 bytes. */
export interface AccountBody {
  nonce: bigint
  balance: bigint
  storageRoot: Uint8Array
  codeHash: Uint8Array
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** True when the account has a non-empty storage trie. */
export function hasStorage(account: AccountBody): boolean {
  return !bytesEqual(account.storageRoot, EMPTY_ROOT)
}

/** True when the account has code. */
export function hasCode(account: AccountBody): boolean {
  return !bytesEqual(account.codeHash, EMPTY_CODE_HASH)
}

function uint(bytes: Uint8Array, what: string, index: number | undefined): bigint {
  if (bytes.length > 32) throw new TrieVerifyError('BAD_ACCOUNT', `${what} longer than 32 bytes`, index)
  // RLP integers are minimal: a leading zero byte means a non-canonical encoding
  if (bytes.length > 0 && bytes[0] === 0) throw new TrieVerifyError('BAD_ACCOUNT', `${what} has a leading zero`, index)
  if (bytes.length <= 6) {
    // Within 2^53: plain number arithmetic, one BigInt at the end
    let n = 0
    for (const b of bytes) n = n * 256 + b
    return BigInt(n)
  }
  return BigInt(`0x${toHex(bytes)}`)
}

function hashField(bytes: Uint8Array, empty: Uint8Array, what: string, slim: boolean, index?: number): Uint8Array {
  if (slim && bytes.length === 0) return empty
  if (bytes.length !== 32) throw new TrieVerifyError('BAD_ACCOUNT', `${what} of ${bytes.length} bytes`, index)
  return bytes
}

function decodeBody(rlp: Uint8Array, slim: boolean, index?: number): AccountBody {
  return decodeWithFields(rlp, slim, index).body
}

function decodeWithFields(
  rlp: Uint8Array,
  slim: boolean,
  index?: number,
): { body: AccountBody; nonce: Uint8Array; balance: Uint8Array } {
  let items: unknown
  try {
    items = RLP.decode(rlp)
  } catch (err) {
    throw new TrieVerifyError('BAD_ACCOUNT', `bad RLP: ${(err as Error).message}`, index)
  }
  if (!Array.isArray(items) || items.length !== 4) throw new TrieVerifyError('BAD_ACCOUNT', 'not a 4-item list', index)
  if (!items.every((x) => x instanceof Uint8Array))
    throw new TrieVerifyError('BAD_ACCOUNT', 'nested list in account', index)
  const [nonce, balance, root, code] = items as Uint8Array[]
  const body = {
    nonce: uint(nonce, 'nonce', index),
    balance: uint(balance, 'balance', index),
    storageRoot: hashField(root, EMPTY_ROOT, 'storage root', slim, index),
    codeHash: hashField(code, EMPTY_CODE_HASH, 'code hash', slim, index),
  }
  return { body, nonce, balance }
}

/**
 * Decodes a slim body and returns it with the full RLP the trie stores, made from the validated
 * fields directly (one decode, no integer re-encoding: this runs once per account synced).
 */
export function slimToFull(rlp: Uint8Array, index?: number): { body: AccountBody; full: Uint8Array } {
  const { body, nonce, balance } = decodeWithFields(rlp, true, index)
  return { body, full: encodeStringList([nonce, balance, body.storageRoot, body.codeHash]) }
}

/** Decodes a snap/1 slim account body; throws `TrieVerifyError('BAD_ACCOUNT')` with `index` if malformed. */
export function decodeSlimAccount(rlp: Uint8Array, index?: number): AccountBody {
  return decodeBody(rlp, true, index)
}

/** Decodes a full account body as the state trie stores it. */
export function decodeFullAccount(rlp: Uint8Array, index?: number): AccountBody {
  return decodeBody(rlp, false, index)
}

// Minimal big-endian bytes of n (RLP integer form)
function uintBytes(n: bigint): Uint8Array {
  let len = 0
  for (let x = n; x > 0n; x >>= 8n) len++
  const out = new Uint8Array(len)
  let x = n
  for (let i = len - 1; i >= 0; i--, x >>= 8n) out[i] = Number(x & 0xffn)
  return out
}

/** The full RLP the state trie stores for `account`. */
export function encodeFullAccount(account: AccountBody): Uint8Array {
  return encodeStringList([uintBytes(account.nonce), uintBytes(account.balance), account.storageRoot, account.codeHash])
}

/** The slim RLP snap/1 sends for `account`. */
export function encodeSlimAccount(account: AccountBody): Uint8Array {
  const root = hasStorage(account) ? account.storageRoot : new Uint8Array(0)
  const code = hasCode(account) ? account.codeHash : new Uint8Array(0)
  return encodeStringList([uintBytes(account.nonce), uintBytes(account.balance), root, code])
}
