/**
 * A devnet's genesis state in memory, in the client's own DB layout, built with the repo's sorted-leaf
 * builder: a 120k-leaf alloc takes seconds this way, where the state manager's `generateCanonicalGenesis`
 * (what the client runs at start) takes ~40 s. Blocks are then built on it offline (`chain.ts`), and
 * the in-memory state is walked to count what a synced node must hold.
 */
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, hexToBytes, setLengthLeft } from '@ethereumjs/util'
import { MemoryLevel } from 'memory-level'

import type { AbstractLevel } from 'abstract-level'

import { EMPTY_CODE_HASH, encodeFullAccount } from '../../src/trie/account.js'
import { initKeccak, keccak256 } from '../../src/trie/keccak.js'
import { compareBytes } from '../../src/trie/nibbles.js'
import { EMPTY_ROOT, StackTrieBuilder } from '../../src/trie/stackbuilder.js'
import { STATE_ENCODINGS, StateWriter } from '../../src/trie/statedb.js'
import { StateWalker } from '../../src/trie/walker.js'

import type { GenesisAccount } from './genesis.js'
import type { WalkStats } from '../../src/trie/walker.js'

/** A state DB as the client's `state` Level holds it: hex string keys, byte values (in memory, or a LevelDB) */
export type StateLevel = AbstractLevel<string | Uint8Array, string, Uint8Array>

const h = (hex: string) => hexToBytes(hex as `0x${string}`)

/** Builds one storage trie into the writer; returns its root */
function buildStorage(writer: StateWriter, owner: Uint8Array, storage: { [slot: string]: string }): Uint8Array {
  const leaves: { key: Uint8Array; value: Uint8Array }[] = []
  for (const [slot, value] of Object.entries(storage)) {
    const word = bigIntToUnpaddedBytes(BigInt(value))
    // A zero word is no slot at all
    if (word.length > 0) leaves.push({ key: keccak256(setLengthLeft(h(slot), 32)), value: RLP.encode(word) })
  }
  leaves.sort((a, b) => compareBytes(a.key, b.key))
  const builder = new StackTrieBuilder({ sink: writer.sink(owner) })
  for (const leaf of leaves) builder.addLeaf(leaf.key, leaf.value)
  return builder.finish()
}

/**
 * Writes a geth-style `alloc` into a state DB, a new in-memory one unless given (opened with
 * `STATE_ENCODINGS`); returns the DB and the state root
 */
export async function buildAllocState(
  alloc: { [address: string]: GenesisAccount },
  into?: StateLevel,
): Promise<{ level: StateLevel; root: Uint8Array }> {
  await initKeccak()
  const level: StateLevel = into ?? (new MemoryLevel(STATE_ENCODINGS) as unknown as StateLevel)
  const writer = new StateWriter(level)
  const accounts: { key: Uint8Array; value: Uint8Array }[] = []
  for (const [address, account] of Object.entries(alloc)) {
    const key = keccak256(h(address))
    const storageRoot = account.storage === undefined ? EMPTY_ROOT : buildStorage(writer, key, account.storage)
    let codeHash = EMPTY_CODE_HASH
    if (account.code !== undefined && account.code !== '0x') {
      const code = h(account.code)
      codeHash = keccak256(code)
      writer.putCode(codeHash, code)
    }
    accounts.push({
      key,
      value: encodeFullAccount({ nonce: 0n, balance: BigInt(account.balance), storageRoot, codeHash }),
    })
    await writer.flushIfFull()
  }
  accounts.sort((a, b) => compareBytes(a.key, b.key))
  const builder = new StackTrieBuilder({ sink: writer.sink() })
  for (const account of accounts) builder.addLeaf(account.key, account.value)
  const root = builder.finish()
  await writer.flush()
  return { level, root }
}

/** Walks a complete state: its counts, as `verify-state` prints them for a node holding it */
export async function countState(level: StateLevel, root: Uint8Array): Promise<WalkStats> {
  const walker = new StateWalker(level)
  for await (const finding of walker.walk(root)) {
    throw new Error(
      `the built state is not complete: ` +
        `${JSON.stringify(finding, (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))}`,
    )
  }
  return walker.stats
}
