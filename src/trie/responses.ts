/**
 * Verification of the three snap/1 data responses, in the forms the syncer holds them: account ranges
 * (slim bodies), storage ranges (trie values) and bytecodes. Nothing here touches the network or the DB;
 * a verified result carries the nodes to store.
 */
import { slimToFull } from './account.js'
import { TrieVerifyError } from './errors.js'
import { toHex0x } from './hex.js'
import { keccak256 } from './keccak.js'
import { compareBytes } from './nibbles.js'
import { verifyRange } from './rangeproof.js'

import type { AccountBody } from './account.js'
import type { NodeRecord } from './rangeproof.js'

/** An AccountRange response (snap/1 `AccountRange`, 0x01) for a request against `root`. */
export interface AccountRangeInput {
  root: Uint8Array
  origin: Uint8Array
  limit?: Uint8Array
  /** Account hashes, as sent. */
  hashes: Uint8Array[]
  /** Slim account bodies, as sent. */
  bodies: Uint8Array[]
  proof: Uint8Array[]
  /** See `RangeInput.ignoreUnusedProof`. */
  ignoreUnusedProof?: boolean
}

/** A verified account range. */
export interface AccountRangeResult {
  more: boolean
  /** Decoded bodies (full form), one per hash. */
  accounts: AccountBody[]
  /** Account-trie nodes to store. */
  nodes: NodeRecord[]
}

/** Verifies an account range: slim bodies well-formed, and keys + full bodies + proof hash to `root`. */
export function verifyAccountRange(input: AccountRangeInput): AccountRangeResult {
  if (input.hashes.length !== input.bodies.length) {
    throw new TrieVerifyError('LENGTH_MISMATCH', `${input.hashes.length} hashes, ${input.bodies.length} bodies`)
  }
  const accounts: AccountBody[] = []
  const values: Uint8Array[] = []
  for (let i = 0; i < input.bodies.length; i++) {
    const { body, full } = slimToFull(input.bodies[i], i)
    accounts.push(body)
    values.push(full)
  }
  const { more, nodes } = verifyRange({ ...input, keys: input.hashes, values })
  return { more, accounts, nodes }
}

/** One storage range (snap/1 `StorageRanges`, 0x03, one of its slot lists) of an account's storage trie. */
export interface StorageRangeInput {
  /** The account's storage root. */
  root: Uint8Array
  origin: Uint8Array
  limit?: Uint8Array
  /** Slot hashes, as sent. */
  hashes: Uint8Array[]
  /** Slot values, as sent: the trie value, RLP of the value with leading zeros trimmed. */
  slots: Uint8Array[]
  /** The proof; only the last slot list of a response may carry one. */
  proof: Uint8Array[]
  /** See `RangeInput.ignoreUnusedProof`. */
  ignoreUnusedProof?: boolean
}

/** A verified storage range. */
export interface StorageRangeResult {
  more: boolean
  /** Storage-trie nodes to store (under the account's key prefix). */
  nodes: NodeRecord[]
}

/**
 * A stored slot is a non-zero word, 1..32 bytes with no leading zero, as a canonical RLP string: one
 * byte 0x01..0x7f as itself, else 0x80 + length then the bytes. Checked on the bytes (a storage reply
 * carries thousands of slots; decoding and re-encoding each cost ~5% of a sync's CPU).
 */
export function checkSlotValue(value: Uint8Array, index: number): void {
  const n = value.length
  if (n === 1) {
    if (value[0] === 0 || value[0] >= 0x80)
      throw new TrieVerifyError('BAD_VALUE', 'slot value is not a trimmed non-zero word', index)
    return
  }
  if (n < 2 || n > 33 || value[0] !== 0x80 + n - 1)
    throw new TrieVerifyError('BAD_VALUE', 'slot value is not an RLP string of up to 32 bytes', index)
  if (value[1] === 0) throw new TrieVerifyError('BAD_VALUE', 'slot value is not a trimmed non-zero word', index)
  if (n === 2 && value[1] < 0x80) throw new TrieVerifyError('BAD_VALUE', 'non-canonical slot RLP', index)
}

/** Verifies a storage range against the account's storage root. */
export function verifyStorageRange(input: StorageRangeInput): StorageRangeResult {
  if (input.hashes.length !== input.slots.length) {
    throw new TrieVerifyError('LENGTH_MISMATCH', `${input.hashes.length} hashes, ${input.slots.length} slots`)
  }
  input.slots.forEach(checkSlotValue)
  return verifyRange({ ...input, keys: input.hashes, values: input.slots })
}

/** A verified bytecode. */
export interface VerifiedCode {
  hash: Uint8Array
  code: Uint8Array
}

/**
 * Matches a ByteCodes response (snap/1 0x05) to the requested hashes. A server returns codes in request
 * order and may leave some out; a code that matches no remaining requested hash is rejected.
 */
export function verifyBytecodes(requested: Uint8Array[], codes: Uint8Array[]): VerifiedCode[] {
  const out: VerifiedCode[] = []
  let next = 0
  for (let i = 0; i < codes.length; i++) {
    const hash = keccak256(codes[i])
    while (next < requested.length && compareBytes(requested[next], hash) !== 0) next++
    if (next === requested.length)
      throw new TrieVerifyError('BYTECODE_UNREQUESTED', `code ${toHex0x(hash)} not requested`, i)
    out.push({ hash: requested[next], code: codes[i] })
    next++
  }
  return out
}

/** Throws `BYTECODE_MISMATCH` unless keccak(code) equals `hash`. */
export function checkBytecode(hash: Uint8Array, code: Uint8Array): void {
  if (compareBytes(keccak256(code), hash) !== 0)
    throw new TrieVerifyError('BYTECODE_MISMATCH', `code does not hash to ${toHex0x(hash)}`)
}
