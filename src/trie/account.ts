/**
 * Account bodies: the "slim" form snap/1 sends (empty storage root and code hash as empty strings) and
 * the full form the state trie stores (`[nonce, balance, storageRoot, codeHash]`, 32-byte hashes).
 */
import { RLP } from '@ethereumjs/rlp'

import { TrieVerifyError } from './errors.js'
import { keccak256 } from './keccak.js'
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
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

function hashField(bytes: Uint8Array, empty: Uint8Array, what: string, slim: boolean, index?: number): Uint8Array {
  if (slim && bytes.length === 0) return empty
  if (bytes.length !== 32) throw new TrieVerifyError('BAD_ACCOUNT', `${what} of ${bytes.length} bytes`, index)
  return bytes
}

function decodeBody(rlp: Uint8Array, slim: boolean, index?: number): AccountBody {
  let items: unknown
  try {
    items = RLP.decode(rlp)
  } catch (err) {
    throw new TrieVerifyError('BAD_ACCOUNT', `bad RLP: ${(err as Error).message}`, index)
  }
  if (!Array.isArray(items) || items.length !== 4) throw new TrieVerifyError('BAD_ACCOUNT', 'not a 4-item list', index)
  if (!items.every((x) => x instanceof Uint8Array)) throw new TrieVerifyError('BAD_ACCOUNT', 'nested list in account', index)
  const [nonce, balance, root, code] = items as Uint8Array[]
  return {
    nonce: uint(nonce, 'nonce', index),
    balance: uint(balance, 'balance', index),
    storageRoot: hashField(root, EMPTY_ROOT, 'storage root', slim, index),
    codeHash: hashField(code, EMPTY_CODE_HASH, 'code hash', slim, index),
  }
}

/** Decodes a snap/1 slim account body; throws `TrieVerifyError('BAD_ACCOUNT')` with `index` if malformed. */
export function decodeSlimAccount(rlp: Uint8Array, index?: number): AccountBody {
  return decodeBody(rlp, true, index)
}

/** Decodes a full account body as the state trie stores it. */
export function decodeFullAccount(rlp: Uint8Array, index?: number): AccountBody {
  return decodeBody(rlp, false, index)
}

function uintBytes(n: bigint): Uint8Array {
  if (n === 0n) return new Uint8Array(0)
  let hex = n.toString(16)
  if (hex.length % 2 === 1) hex = '0' + hex
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16)
  return out
}

/** The full RLP the state trie stores for `account`. */
export function encodeFullAccount(account: AccountBody): Uint8Array {
  return RLP.encode([uintBytes(account.nonce), uintBytes(account.balance), account.storageRoot, account.codeHash])
}

/** The slim RLP snap/1 sends for `account`. */
export function encodeSlimAccount(account: AccountBody): Uint8Array {
  const root = hasStorage(account) ? account.storageRoot : new Uint8Array(0)
  const code = hasCode(account) ? account.codeHash : new Uint8Array(0)
  return RLP.encode([uintBytes(account.nonce), uintBytes(account.balance), root, code])
}
