/**
 * The client's state DB layout, and batched writes into it.
 *
 * Facts, read from the installed packages (`@ethereumjs/mpt` 10.1.3, `@ethereumjs/statemanager` 10.1.3,
 * `@ethereumjs/client` 0.10.5):
 * - The client opens `new Level(<dataDir>/<network>/state)` and wraps it in its `LevelDB`; the trie's
 *   `CheckpointDB` turns every key into an unprefixed lower-case hex string (`bytesToUnprefixedHex`)
 *   stored with `utf8` key encoding, and values as raw bytes (`valueEncoding: Bytes` -> level `view`,
 *   the default unless `--useStringValueTrieDB`).
 * - A trie node is stored under its keccak256 hash; nodes under 32 bytes are embedded in their parent
 *   and not stored, except the root, which is always stored by hash (`_formatNode(topLevel)`).
 * - Storage tries (`MerkleStateManager({ prefixStorageTrieKeys: true })`, the client's default) put a
 *   `keyPrefix` of the first 7 bytes of keccak256(address), i.e. of the account's trie key, before the
 *   node hash: key = hex(hashedAddress[0..7] ++ nodeHash).
 * - Code is stored in the same DB under `'c'` (0x63) ++ codeHash (`CODEHASH_PREFIX`, `prefixCodeHashes`).
 */
import { TrieVerifyError } from './errors.js'
import { toHex, toHex0x, toHexPrefixed } from './hex.js'
import { keccak256 } from './keccak.js'
import { compareBytes } from './nibbles.js'

import type { NodeRecord } from './rangeproof.js'
import type { NodeSink } from './stackbuilder.js'

/** Bytes of the hashed address that prefix a storage trie's node keys. */
export const STORAGE_PREFIX_LENGTH = 7

/** Hex of `'c'`, the prefix of code keys. */
const CODE_PREFIX_HEX = '63'

/** The level encodings every read and write here uses: hex string keys, raw byte values. */
export const STATE_ENCODINGS = { keyEncoding: 'utf8', valueEncoding: 'view' } as const

/** A put into the state DB. */
export interface StatePut {
  type: 'put'
  key: string
  value: Uint8Array
}

/** A delete from the state DB. */
export interface StateDel {
  type: 'del'
  key: string
}

/** The part of an abstract-level DB (the client's `state` Level) that the trie layer uses. */
export interface StateStore {
  batch(ops: (StatePut | StateDel)[], opts: typeof STATE_ENCODINGS): Promise<void>
  getMany(keys: string[], opts: typeof STATE_ENCODINGS): Promise<(Uint8Array | undefined)[]>
}

/**
 * The local state DB failed a read or a write. Not a peer's doing: a sync stops on it (and starts
 * again from its last progress record) rather than blaming the peer whose reply it was applying.
 */
export class LocalStateError extends Error {
  override name = 'LocalStateError'
}

/** `db`'s reads, their failures as {@link LocalStateError} */
export function localReads(db: Pick<StateStore, 'getMany'>): Pick<StateStore, 'getMany'> {
  return {
    getMany: (keys, opts) =>
      db.getMany(keys, opts).catch((err: unknown) => {
        throw new LocalStateError(`state DB read failed: ${(err as Error).message}`, { cause: err })
      }),
  }
}

/** The part of the state DB that `StateWriter` needs: batched writes only. */
export type StateBatchStore = Pick<StateStore, 'batch'>

/** DB key of a node: `owner` is the account hash for a storage-trie node, undefined for the account trie. */
export function nodeKey(hash: Uint8Array, owner?: Uint8Array): string {
  if (owner === undefined) return toHex(hash)
  return toHexPrefixed(owner, STORAGE_PREFIX_LENGTH, hash)
}

/** DB key of a bytecode. */
export function codeKey(codeHash: Uint8Array): string {
  return CODE_PREFIX_HEX + toHex(codeHash)
}

/** Options of a `StateWriter`. */
export interface StateWriterOptions {
  /**
   * Puts per batch. Why 10k: LevelDB batch writes measured ~290k keys/s at 10k-key batches on this
   * machine kind, and 10k nodes of ~150 B keep a pending batch near 2 MB.
   */
  batchSize?: number
}

/** Collects node and code puts and writes them to the state DB in batches. */
export class StateWriter {
  private readonly db: StateBatchStore
  private readonly batchSize: number
  private ops: StatePut[] = []
  /** Nodes queued so far. */
  nodes = 0
  /** Codes queued so far. */
  codes = 0

  constructor(db: StateBatchStore, opts: StateWriterOptions = {}) {
    this.db = db
    this.batchSize = opts.batchSize ?? 10_000
  }

  /** Queues one node of the account trie (`owner` undefined) or of `owner`'s storage trie. */
  putNode(hash: Uint8Array, rlp: Uint8Array, owner?: Uint8Array): void {
    this.ops.push({ type: 'put', key: nodeKey(hash, owner), value: rlp })
    this.nodes++
  }

  /**
   * Queues verified nodes, e.g. a range verdict's `nodes`; with `completeOnly`, only those whose whole
   * subtree is in the list (see `NodeRecord.complete`).
   */
  putNodes(nodes: NodeRecord[], owner?: Uint8Array, opts: { completeOnly?: boolean } = {}): void {
    for (const n of nodes) if (n.complete || opts.completeOnly !== true) this.putNode(n.hash, n.rlp, owner)
  }

  /** A sink that queues a `StackTrieBuilder`'s nodes for `owner`'s trie. */
  sink(owner?: Uint8Array): NodeSink {
    return (hash, rlp) => this.putNode(hash, rlp, owner)
  }

  /** Queues a bytecode after checking keccak(code) == hash; throws `BYTECODE_MISMATCH` otherwise. */
  putCode(hash: Uint8Array, code: Uint8Array): void {
    if (compareBytes(keccak256(code), hash) !== 0)
      throw new TrieVerifyError('BYTECODE_MISMATCH', `code does not hash to ${toHex0x(hash)}`)
    this.ops.push({ type: 'put', key: codeKey(hash), value: code })
    this.codes++
  }

  /** Puts waiting for a flush. */
  get pending(): number {
    return this.ops.length
  }

  /** Writes the queued puts if a batch is full; call it between ranges to keep memory bounded. */
  async flushIfFull(): Promise<void> {
    if (this.ops.length >= this.batchSize) await this.flush()
  }

  /** Writes all queued puts. */
  async flush(): Promise<void> {
    if (this.ops.length === 0) return
    const ops = this.ops
    this.ops = []
    try {
      await this.db.batch(ops, STATE_ENCODINGS)
    } catch (err) {
      // Kept for the next flush: a progress record written later must not claim puts that were lost
      this.ops = ops.concat(this.ops)
      throw new LocalStateError(`state DB write failed: ${(err as Error).message}`, { cause: err })
    }
  }
}
