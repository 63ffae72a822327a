/**
 * Raw reads of the client's state database in its own key layout (`@ethereumjs/mpt` with
 * `useKeyHashing`, `@ethereumjs/statemanager` with `prefixStorageTrieKeys`):
 * - trie node: key `hex(keccak(node))`
 * - storage-trie node: key `hex(accountHash[0..7] ++ keccak(node))`
 * - contract code: key `hex('c' ++ codeHash)`
 * Keys are unprefixed lower-case hex strings because mpt's CheckpointDB writes them that way.
 */
import { bytesToUnprefixedHex, unprefixedHexToBytes } from '@ethereumjs/util'

import type { AbstractLevel } from 'abstract-level'

/** Batched key-value reads; `undefined` for a missing key */
export interface StateDB {
  getMany(keys: string[]): Promise<(Uint8Array | undefined)[]>
}

/** Length of the storage-trie key prefix: the first 7 bytes of the hashed address (statemanager) */
export const STORAGE_PREFIX_LENGTH = 7

/** `'c'`: the code-hash key prefix of `@ethereumjs/statemanager` (CODEHASH_PREFIX) */
const CODE_PREFIX_HEX = '63'

/** DB key of a trie node of the account trie (`prefix` undefined) or of a storage trie */
export function nodeKey(hash: Uint8Array, prefixHex = ''): string {
  return prefixHex + bytesToUnprefixedHex(hash)
}

/** DB key of contract code */
export function codeKey(codeHash: Uint8Array): string {
  return CODE_PREFIX_HEX + bytesToUnprefixedHex(codeHash)
}

/** Hex key prefix of the storage trie of the account with this hash */
export function storagePrefixHex(accountHash: Uint8Array): string {
  return bytesToUnprefixedHex(accountHash.subarray(0, STORAGE_PREFIX_LENGTH))
}

type StringKeyedLevel = AbstractLevel<string | Uint8Array, string | Uint8Array, string | Uint8Array>

/**
 * A {@link StateDB} over the client's `state` LevelDB. `stringValues` mirrors the client's
 * `useStringValueTrieDB` (values stored as hex strings instead of bytes).
 */
export class LevelStateDB implements StateDB {
  constructor(
    private readonly db: StringKeyedLevel,
    private readonly stringValues = false,
  ) {}

  async getMany(keys: string[]): Promise<(Uint8Array | undefined)[]> {
    if (this.stringValues) {
      const values = await this.db.getMany<string, string>(keys, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
      return values.map((v) => (v === undefined || v === null ? undefined : unprefixedHexToBytes(v)))
    }
    const values = await this.db.getMany<string, Uint8Array>(keys, { keyEncoding: 'utf8', valueEncoding: 'view' })
    return values.map((v) => (v === undefined || v === null ? undefined : v))
  }
}
