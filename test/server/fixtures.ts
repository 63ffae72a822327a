/**
 * A known state built through the client's own state manager (same DB key layout as a running
 * node), and a requester-side check of range replies.
 */
import { LevelDB } from '@ethereumjs/client/dist/esm/src/execution/level.js'
import { createMPT, verifyMerkleRangeProof } from '@ethereumjs/mpt'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import {
  Address,
  bigIntToBytes,
  bytesToHex,
  bytesToUnprefixedHex,
  createAccount,
  setLengthLeft,
  ValueEncoding,
} from '@ethereumjs/util'
import { RLP } from '@ethereumjs/rlp'
import { keccak256 } from 'ethereum-cryptography/keccak.js'
import { MemoryLevel } from 'memory-level'

import { LevelStateReader } from '../../src/trie/reader.js'
import { verifyRange as verifyTrieRange } from '../../src/trie/rangeproof.js'
import { DBStateView } from '../../src/server/stateview.js'

import type { StateView } from '../../src/server/stateview.js'

export interface AccountSpec {
  slots?: number
  code?: Uint8Array
}

export interface TestState {
  root: Uint8Array
  view: StateView
  level: MemoryLevel<string, Uint8Array>
  /** Account hashes in key order */
  accountHashes: Uint8Array[]
  /** Storage slot hashes in key order, by account hash hex */
  slotHashes: Map<string, Uint8Array[]>
  /** Code hashes of accounts with code */
  codeHashes: Uint8Array[]
  codes: Map<string, Uint8Array>
  /** Full account bodies by account hash hex (before storage and code are set) */
  bodies: Map<string, Uint8Array>
}

function address(i: number): Address {
  return new Address(setLengthLeft(bigIntToBytes(BigInt(i) + 0x1000n), 20))
}

const sortBytes = (list: Uint8Array[]) =>
  list.sort((a, b) => (bytesToHex(a) < bytesToHex(b) ? -1 : bytesToHex(a) > bytesToHex(b) ? 1 : 0))

/** Builds accounts 0..n-1 (balance i+1, nonce i) plus the given storage and code, and commits */
export async function buildState(specs: AccountSpec[], servedRoots?: Uint8Array[]): Promise<TestState> {
  const level = new MemoryLevel<string, Uint8Array>()
  // As the client creates it (vmexecution.ts setupMerkleVM, useStringValueTrieDB false)
  const trie = await createMPT({
    db: new LevelDB(level as never),
    useKeyHashing: true,
    valueEncoding: ValueEncoding.Bytes,
  })
  const sm = new MerkleStateManager({ trie, prefixStorageTrieKeys: true })
  const slotHashes = new Map<string, Uint8Array[]>()
  const codes = new Map<string, Uint8Array>()
  const bodies = new Map<string, Uint8Array>()
  await sm.checkpoint()
  for (const [i, spec] of specs.entries()) {
    const addr = address(i)
    const account = createAccount({ nonce: BigInt(i), balance: BigInt(i + 1) })
    await sm.putAccount(addr, account)
    bodies.set(bytesToUnprefixedHex(keccak256(addr.bytes)), account.serialize())
    if (spec.code !== undefined) {
      await sm.putCode(addr, spec.code)
      codes.set(bytesToUnprefixedHex(keccak256(spec.code)), spec.code)
    }
    const hashes: Uint8Array[] = []
    for (let s = 0; s < (spec.slots ?? 0); s++) {
      const key = setLengthLeft(bigIntToBytes(BigInt(s)), 32)
      await sm.putStorage(addr, key, bigIntToBytes(BigInt(s * 7 + i + 1)))
      hashes.push(keccak256(key))
    }
    if (hashes.length > 0) slotHashes.set(bytesToUnprefixedHex(keccak256(addr.bytes)), sortBytes(hashes))
  }
  await sm.commit()
  await sm.flush()
  const root = await sm.getStateRoot()
  const accountHashes = sortBytes(specs.map((_, i) => keccak256(address(i).bytes)))
  const served = new Set((servedRoots ?? [root]).map(bytesToUnprefixedHex))
  const view = new DBStateView(new LevelStateReader(level as never), {
    has: (r: Uint8Array) => served.has(bytesToUnprefixedHex(r)),
  })
  const codeHashes = [...codes.keys()].map((h) => Uint8Array.from(Buffer.from(h, 'hex')))
  return { root, view, level, accountHashes, slotHashes, codeHashes, codes, bodies }
}

/**
 * Requester-side verification of a range reply with the project's verifier (`src/trie/rangeproof.ts`,
 * issue 4), cross-checked by `@ethereumjs/mpt`'s `verifyMerkleRangeProof` when the range is small
 * enough for it (it `put`s every leaf). Throws unless the reply is exactly the trie's keys from the
 * origin on; returns whether more keys follow.
 */
export async function verifyRange(
  root: Uint8Array,
  origin: Uint8Array,
  keys: Uint8Array[],
  values: Uint8Array[],
  proof: Uint8Array[],
  limit?: Uint8Array,
): Promise<boolean> {
  const { more } = verifyTrieRange({ root, origin, limit, keys, values, proof })
  if (keys.length <= 2000) {
    const mptMore =
      proof.length === 0
        ? await verifyMerkleRangeProof(root, null, null, keys, values, null)
        : keys.length === 0
          ? await verifyMerkleRangeProof(root, origin, null, [], [], proof)
          : await verifyMerkleRangeProof(root, origin, keys[keys.length - 1], keys, values, proof)
    if (mptMore !== more) throw new Error(`verifiers disagree on more: ours ${more}, mpt ${mptMore}`)
  }
  return more
}

/** Storage root of a full account body */
export function storageRootOfBody(body: Uint8Array): Uint8Array {
  return (RLP.decode(body) as Uint8Array[])[2]
}

export const ZERO = new Uint8Array(32)
export const MAX = new Uint8Array(32).fill(0xff)

/** The hash one above `h` (as a 256-bit number) */
export function plusOne(h: Uint8Array): Uint8Array {
  const out = Uint8Array.from(h)
  for (let i = 31; i >= 0; i--) {
    if (out[i] === 0xff) {
      out[i] = 0
      continue
    }
    out[i]++
    break
  }
  return out
}

export const hex = (list: Uint8Array[]) => list.map(bytesToUnprefixedHex)
