/**
 * The ethtest chain's head state (block 600) as sorted trie leaves: accounts by hashed address, each with
 * its full body, code and storage leaves (by hashed slot, RLP-encoded trimmed value).
 */
import { readFileSync } from 'node:fs'

import { RLP } from '@ethereumjs/rlp'

import { keccak256 } from '../../src/trie/keccak.js'
import { fromHex } from '../../src/trie/hex.js'
import { compareBytes } from '../../src/trie/nibbles.js'

import type { AccountBody } from '../../src/trie/account.js'

export const ETHTEST_DIR = new URL('../../../shared/data/ethtest/', import.meta.url).pathname
/** State root of block 600 (headblock.json). */
export const ETHTEST_ROOT = '0x8fcfb02cfca007773bd55bc1c3e50a3c8612a59c87ce057e5957e8bf17c1728b'

export interface Leaf {
  key: Uint8Array
  value: Uint8Array
}

export interface EthtestAccount {
  address: Uint8Array
  hash: Uint8Array
  body: AccountBody
  code: Uint8Array | undefined
  /** raw slot key (hex) to value bytes, for reading back through the state manager */
  rawStorage: Map<string, Uint8Array>
  storage: Leaf[]
}

function trim(bytes: Uint8Array): Uint8Array {
  let i = 0
  while (i < bytes.length && bytes[i] === 0) i++
  return bytes.subarray(i)
}

interface DumpAccount {
  balance: string
  nonce: number
  root: string
  codeHash: string
  code?: string
  address: string
  key: string
  storage?: { [slot: string]: string }
}

/** Loads headstate.json; accounts sorted by hashed address, storage leaves sorted by hashed slot. */
export function loadEthtestState(): EthtestAccount[] {
  const dump = JSON.parse(readFileSync(`${ETHTEST_DIR}headstate.json`, 'utf8')) as {
    accounts: { [a: string]: DumpAccount }
  }
  const accounts = Object.values(dump.accounts).map((a): EthtestAccount => {
    const rawStorage = new Map<string, Uint8Array>()
    const storage: Leaf[] = []
    for (const [slot, value] of Object.entries(a.storage ?? {})) {
      const v = trim(fromHex(value.length % 2 === 1 ? `0${value}` : value))
      rawStorage.set(slot, v)
      storage.push({ key: keccak256(fromHex(slot)), value: RLP.encode(v) })
    }
    storage.sort((x, y) => compareBytes(x.key, y.key))
    return {
      address: fromHex(a.address),
      hash: fromHex(a.key),
      body: {
        nonce: BigInt(a.nonce),
        balance: BigInt(a.balance),
        storageRoot: fromHex(a.root),
        codeHash: fromHex(a.codeHash),
      },
      code: a.code !== undefined ? fromHex(a.code) : undefined,
      rawStorage,
      storage,
    }
  })
  return accounts.sort((x, y) => compareBytes(x.hash, y.hash))
}
