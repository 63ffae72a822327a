/**
 * A source state for sync tests: plain accounts, contracts with distinct code and a few slots, and a
 * few large contracts (thousands of slots, so one storage trie needs several requests), all from a
 * seed. It is written with the repo's own sorted-leaf builder straight into a MemoryLevel in the
 * client's key layout (the state manager is two orders of magnitude slower): each storage trie is
 * built first, then the account body that carries its root.
 */
import { RLP } from '@ethereumjs/rlp'
import { MemoryLevel } from 'memory-level'

import { DBStateView } from '../../src/server/stateview.js'
import { EMPTY_CODE_HASH, encodeFullAccount, encodeSlimAccount } from '../../src/trie/account.js'
import { toHex } from '../../src/trie/hex.js'
import { initKeccak, keccak256 } from '../../src/trie/keccak.js'
import { compareBytes } from '../../src/trie/nibbles.js'
import { EMPTY_ROOT, StackTrieBuilder } from '../../src/trie/stackbuilder.js'
import { STATE_ENCODINGS, StateWriter } from '../../src/trie/statedb.js'
import { rng } from '../helpers/rng.js'

import type { ServedRoots, StateView } from '../../src/server/stateview.js'
import type { AccountBody } from '../../src/trie/account.js'
import type { StateReadStore } from '../../src/trie/reader.js'
import type { AbstractLevel } from 'abstract-level'

/** The state DB the fakes use: string (hex) keys, byte values, as the client's `state` Level (any backend) */
export type StateLevel = AbstractLevel<string | Uint8Array, string, Uint8Array>

/** What a fake state holds; every field has a small default (the whole state builds in ~0.1 s) */
export interface FakeStateSpec {
  /** Seed of every random choice: hashes, balances, slots, code. Default 1 */
  readonly seed?: number
  /** Accounts without code or storage. Default 100 */
  readonly accounts?: number
  /** Contracts with distinct code and `slots` slots each. Default 20 */
  readonly contracts?: number
  /** Slots of each small contract. Default 8 */
  readonly slots?: number
  /** Contracts with distinct code and `largeSlots` slots each. Default 2 */
  readonly largeContracts?: number
  /** Slots of each large contract. Default 3000 */
  readonly largeSlots?: number
  /** Write into this DB (it may hold other states: their roots can be served too) */
  readonly level?: StateLevel
}

/** One storage slot as the trie holds it */
export interface FakeSlot {
  /** keccak of the slot key (the trie key) */
  readonly hash: Uint8Array
  /** RLP of the value word, leading zeros trimmed (the trie value) */
  readonly value: Uint8Array
}

/** One account of a fake state */
export interface FakeAccount {
  /** keccak of the address (the trie key) */
  readonly hash: Uint8Array
  readonly body: AccountBody
  /** Full (consensus) RLP body, the account-trie value */
  readonly full: Uint8Array
  /** Slim RLP body, as snap/1 sends it */
  readonly slim: Uint8Array
  /** Storage slots in hash order; empty for an account without storage */
  readonly slots: readonly FakeSlot[]
  readonly code: Uint8Array | undefined
}

/** What a complete copy of a state must hold (the walker's counts) */
export interface StateCounts {
  readonly accounts: number
  readonly slots: number
  /** Accounts with code (the walker counts one code per such account) */
  readonly codeAccounts: number
  /** Distinct codes */
  readonly codes: number
}

/** The roots a fake peer serves; change them at any time (e.g. the peer "forgets" an old pivot) */
export class ServedRootSet implements ServedRoots {
  private readonly roots = new Set<string>()

  constructor(roots: Uint8Array[] = []) {
    for (const r of roots) this.add(r)
  }

  has(root: Uint8Array): boolean {
    return this.roots.has(toHex(root))
  }

  add(root: Uint8Array): void {
    this.roots.add(toHex(root))
  }

  delete(root: Uint8Array): void {
    this.roots.delete(toHex(root))
  }

  /** Serves exactly `roots` from now on */
  set(roots: Uint8Array[]): void {
    this.roots.clear()
    for (const r of roots) this.add(r)
  }
}

/** Reads of the state DB in the client's encodings, for the server's trie readers */
export function stateReader(level: StateLevel): StateReadStore {
  return { getMany: (keys) => level.getMany(keys, STATE_ENCODINGS) }
}

/** An empty state DB, e.g. a syncer's target */
export function emptyStateLevel(): StateLevel {
  return new MemoryLevel<string, Uint8Array>(STATE_ENCODINGS)
}

/** A state written into a MemoryLevel, with everything a test compares against */
export class FakeState {
  /** Roots the {@link view} serves: this state's root at first */
  readonly served: ServedRootSet
  /** The server's view of {@link level} */
  readonly view: StateView
  readonly counts: StateCounts
  private readonly byHash = new Map<string, FakeAccount>()

  constructor(
    /** The state root */
    readonly root: Uint8Array,
    /** The DB holding this state (and maybe others) */
    readonly level: StateLevel,
    /** Accounts in hash order */
    readonly accounts: readonly FakeAccount[],
    /** Codes by hex code hash (no 0x) */
    readonly codes: ReadonlyMap<string, Uint8Array>,
  ) {
    this.served = new ServedRootSet([root])
    this.view = new DBStateView(stateReader(level), this.served)
    for (const a of accounts) this.byHash.set(toHex(a.hash), a)
    this.counts = {
      accounts: accounts.length,
      slots: accounts.reduce((n, a) => n + a.slots.length, 0),
      codeAccounts: accounts.filter((a) => a.code !== undefined).length,
      codes: codes.size,
    }
  }

  /** The account with this hash */
  account(hash: Uint8Array): FakeAccount | undefined {
    return this.byHash.get(toHex(hash))
  }

  /** Account hashes in order */
  accountHashes(): Uint8Array[] {
    return this.accounts.map((a) => a.hash)
  }

  /** Accounts with storage, in hash order; `minSlots` picks the large ones */
  contracts(minSlots = 1): FakeAccount[] {
    return this.accounts.filter((a) => a.slots.length >= minSlots)
  }

  /** Code hashes of the accounts with code, in account order */
  codeHashes(): Uint8Array[] {
    return this.accounts.filter((a) => a.code !== undefined).map((a) => a.body.codeHash)
  }
}

/** Account data before its storage root is known */
interface Draft {
  hash: Uint8Array
  nonce: bigint
  balance: bigint
  slots: FakeSlot[]
  code: Uint8Array | undefined
}

function bytes(random: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256)
  return out
}

function byHash<T extends { hash: Uint8Array }>(list: T[]): T[] {
  list.sort((a, b) => compareBytes(a.hash, b.hash))
  return list.filter((x, i) => i === 0 || compareBytes(list[i - 1].hash, x.hash) !== 0)
}

function randomSlots(random: () => number, n: number): FakeSlot[] {
  return byHash(
    Array.from({ length: n }, () => {
      const word = bytes(random, 1 + Math.floor(random() * 32))
      // A stored word has no leading zero byte
      word[0] = 1 + Math.floor(random() * 255)
      return { hash: bytes(random, 32), value: RLP.encode(word) }
    }),
  )
}

function randomDraft(random: () => number, index: number, slots: number, withCode: boolean): Draft {
  // Distinct by construction: the index is part of every code
  const code = withCode
    ? Uint8Array.from([...bytes(random, 16 + Math.floor(random() * 200)), 0xfe, index >> 8, index & 0xff])
    : undefined
  return {
    hash: bytes(random, 32),
    nonce: BigInt(Math.floor(random() * 1000)),
    // Above 2^32: several bytes, so a changed low byte stays canonical RLP
    balance: 2n ** 40n + BigInt(Math.floor(random() * 2 ** 48)),
    slots: randomSlots(random, slots),
    code,
  }
}

/** Writes the drafts' storage tries, codes and account trie; returns the state */
async function writeDrafts(level: StateLevel, drafts: Draft[]): Promise<FakeState> {
  const writer = new StateWriter(level)
  const accountTrie = new StackTrieBuilder({ sink: writer.sink() })
  const accounts: FakeAccount[] = []
  const codes = new Map<string, Uint8Array>()
  for (const d of drafts) {
    let storageRoot = EMPTY_ROOT
    if (d.slots.length > 0) {
      const storage = new StackTrieBuilder({ sink: writer.sink(d.hash) })
      for (const s of d.slots) storage.addLeaf(s.hash, s.value)
      storageRoot = storage.finish()
    }
    let codeHash = EMPTY_CODE_HASH
    if (d.code !== undefined) {
      codeHash = keccak256(d.code)
      writer.putCode(codeHash, d.code)
      codes.set(toHex(codeHash), d.code)
    }
    const body: AccountBody = { nonce: d.nonce, balance: d.balance, storageRoot, codeHash }
    const full = encodeFullAccount(body)
    accountTrie.addLeaf(d.hash, full)
    accounts.push({ hash: d.hash, body, full, slim: encodeSlimAccount(body), slots: d.slots, code: d.code })
    await writer.flushIfFull()
  }
  const root = accountTrie.finish()
  await writer.flush()
  return new FakeState(root, level, accounts, codes)
}

/** Builds a state from `spec` (see {@link FakeStateSpec} for the defaults) */
export async function buildFakeState(spec: FakeStateSpec = {}): Promise<FakeState> {
  await initKeccak()
  const random = rng(spec.seed ?? 1)
  const drafts: Draft[] = []
  for (let i = 0; i < (spec.accounts ?? 100); i++) drafts.push(randomDraft(random, drafts.length, 0, false))
  for (let i = 0; i < (spec.contracts ?? 20); i++)
    drafts.push(randomDraft(random, drafts.length, spec.slots ?? 8, true))
  for (let i = 0; i < (spec.largeContracts ?? 2); i++)
    drafts.push(randomDraft(random, drafts.length, spec.largeSlots ?? 3000, true))
  return writeDrafts(spec.level ?? emptyStateLevel(), byHash(drafts))
}

/** What {@link evolveFakeState} changes */
export interface StateChanges {
  /** Seed of the changes. Default 2 */
  readonly seed?: number
  /** Accounts whose balance changes. Default 5 */
  readonly balances?: number
  /** Contracts of which one slot value changes. Default 3 */
  readonly slots?: number
  /** New plain accounts. Default 2 */
  readonly newAccounts?: number
}

/**
 * A later state of `base` (a moved pivot), written into the same DB: unchanged subtries are shared,
 * so a peer over the result can serve both roots (`state.served.add(base.root)`).
 */
export async function evolveFakeState(base: FakeState, changes: StateChanges = {}): Promise<FakeState> {
  const random = rng(changes.seed ?? 2)
  const pick = (n: number) => Math.floor(random() * n)
  const drafts: Draft[] = base.accounts.map((a) => ({
    hash: a.hash,
    nonce: a.body.nonce,
    balance: a.body.balance,
    slots: [...a.slots],
    code: a.code,
  }))
  for (let i = 0; i < (changes.balances ?? 5); i++) drafts[pick(drafts.length)].balance += 1n + BigInt(pick(1000))
  const withSlots = drafts.filter((d) => d.slots.length > 0)
  for (let i = 0; i < (changes.slots ?? 3) && withSlots.length > 0; i++) {
    const d = withSlots[pick(withSlots.length)]
    const at = pick(d.slots.length)
    d.slots[at] = { hash: d.slots[at].hash, value: RLP.encode(Uint8Array.of(1 + pick(255), pick(256))) }
  }
  for (let i = 0; i < (changes.newAccounts ?? 2); i++) drafts.push(randomDraft(random, drafts.length, 0, false))
  return writeDrafts(base.level, byHash(drafts))
}
