/**
 * The flat state: every leaf of one state root (accounts and storage slots) in key order, in chunks
 * (chunk.ts), kept in the client's state DB beside the trie. Range requests for that root are read
 * from it in sequence instead of walking the trie node by node; proofs still come from the trie.
 * This is go-ethereum's snapshot idea (its disk layer) in its simplest form: one root at a time,
 * moved to the root that peers ask for (follower.ts), never trusted for a root it does not hold.
 *
 * The marker records the root and whether the flat state is complete. A generation in progress
 * records how far it got, so that a restart resumes it (generator.ts). Every change of root is one
 * atomic batch with its marker, so a crash leaves either the old root or the new one.
 */
import { RLP } from '@ethereumjs/rlp'
import { equalsBytes } from '@ethereumjs/util'

import { compareBytes } from '../../trie/nibbles.js'
import { STATE_ENCODINGS } from '../../trie/statedb.js'
import { isZero } from '../common.js'

import { FLAT_RANGE, FlatStateError, MARKER_KEY, chunkKey, decodeChunk, trieRange } from './chunk.js'

import type { LeafVisitor, WalkEnd } from '../../trie/leafwalk.js'
import type { AbstractLevel } from 'abstract-level'

/** The client's state DB as the flat state uses it: utf8 keys, byte values, ranges */
export type FlatLevel = AbstractLevel<string | Uint8Array, string | Uint8Array, string | Uint8Array>

/** What the marker says */
export interface FlatMarker {
  /** The state root the flat state is (or is being generated) for */
  readonly root: Uint8Array
  /** Every leaf of `root` is stored */
  readonly complete: boolean
  /** While generating: accounts below this key (and their storage) are stored */
  readonly next: Uint8Array
}

/** A write into the state DB's flat-state range */
export type FlatOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }

const MARKER_VERSION = 1
/** Chunks read per DB call in a walk: a 500 KiB reply needs ~125 */
const CHUNKS_PER_READ = 32

export function encodeMarker(m: FlatMarker): Uint8Array {
  return RLP.encode([MARKER_VERSION, m.root, m.complete ? 1 : 0, m.next])
}

/** Decodes a marker; `undefined` for one of another version or shape (the flat state is then rebuilt) */
export function decodeMarker(bytes: Uint8Array): FlatMarker | undefined {
  try {
    const fields = RLP.decode(bytes) as Uint8Array[]
    if (!Array.isArray(fields) || fields.length !== 4 || fields.some((f) => !(f instanceof Uint8Array)))
      return undefined
    const [version, root, complete, next] = fields
    if (version.length !== 1 || version[0] !== MARKER_VERSION || root.length !== 32 || next.length !== 32)
      return undefined
    return { root, complete: complete.length === 1 && complete[0] === 1, next }
  } catch {
    return undefined
  }
}

/**
 * Shared reads, exclusive root changes: a walk that started on root D must not see the chunks of
 * the next root, so a change of root waits for the walks in progress and holds new ones back.
 */
class ReadWriteLock {
  private readers = 0
  private writing: Promise<void> | undefined
  private drained: (() => void) | undefined

  async read<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writing !== undefined) await this.writing
    this.readers++
    try {
      return await fn()
    } finally {
      if (--this.readers === 0) this.drained?.()
    }
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writing !== undefined) await this.writing
    let done!: () => void
    this.writing = new Promise((resolve) => (done = resolve))
    try {
      if (this.readers > 0) await new Promise<void>((resolve) => (this.drained = resolve))
      this.drained = undefined
      return await fn()
    } finally {
      this.writing = undefined
      done()
    }
  }
}

/** The flat state of one client state DB (see the module comment) */
export class FlatState {
  private current: FlatMarker | undefined
  private readonly lock = new ReadWriteLock()

  private constructor(readonly db: FlatLevel) {}

  /** Opens the flat state in `db`; an unreadable marker counts as none */
  static async open(db: FlatLevel): Promise<FlatState> {
    const flat = new FlatState(db)
    const stored = await db.get(MARKER_KEY, STATE_ENCODINGS)
    flat.current = stored === undefined ? undefined : decodeMarker(stored as Uint8Array)
    return flat
  }

  /** The marker as stored, `undefined` when there is no flat state */
  get marker(): FlatMarker | undefined {
    return this.current
  }

  /** True when every leaf of `root` is here */
  holds(root: Uint8Array): boolean {
    return this.current?.complete === true && equalsBytes(this.current.root, root)
  }

  /**
   * Runs `fn` with this flat state's walk when it holds `root`, under the read lock (the root cannot
   * change meanwhile); returns `undefined` without running it otherwise
   */
  async read<T>(root: Uint8Array, fn: (walk: FlatWalk) => Promise<T>): Promise<{ result: T } | undefined> {
    if (!this.holds(root)) return undefined
    return this.lock.read(async () => {
      // The root may have changed while this waited for a writer
      if (!this.holds(root)) return undefined
      return { result: await fn((owner, origin, visit) => this.walk(owner, origin, visit)) }
    })
  }

  /** Writes `ops` and the new marker in one batch, while no walk runs */
  async commit(ops: FlatOp[], marker: FlatMarker | undefined): Promise<void> {
    await this.lock.write(async () => {
      const all =
        marker === undefined
          ? [...ops, { type: 'del' as const, key: MARKER_KEY }]
          : [...ops, { type: 'put' as const, key: MARKER_KEY, value: encodeMarker(marker) }]
      await this.db.batch(all, STATE_ENCODINGS)
      this.current = marker
    })
  }

  /** Removes every flat-state entry from `range` (all of them by default), after the marker says so */
  async clear(range: { gte: string; lt: string } = FLAT_RANGE): Promise<void> {
    await this.db.clear({ ...range, keyEncoding: 'utf8' })
  }

  /**
   * Forgets the flat state: the marker first, so that a crash in the middle leaves none claimed. The
   * clear is not one write with the marker: no move or generation may run beside it (the follower's rule)
   */
  async drop(): Promise<void> {
    await this.commit([], undefined)
    await this.clear()
  }

  /** The leaves of one trie from `origin` in key order, with {@link walkLeaves}' contract */
  private async walk(owner: Uint8Array | undefined, origin: Uint8Array, visit: LeafVisitor): Promise<WalkEnd> {
    const range = trieRange(owner)
    let start = range.gte
    if (!isZero(origin)) {
      // The chunk holding `origin` starts at or before it
      const before = await this.db
        .keys({ gte: range.gte, lte: chunkKey(origin, owner), reverse: true, limit: 1, keyEncoding: 'utf8' })
        .all()
      if (before.length > 0) start = before[0] as string
    }
    const it = this.db.iterator({ gte: start, lt: range.lt, ...STATE_ENCODINGS })
    try {
      for (;;) {
        const entries = await it.nextv(CHUNKS_PER_READ)
        if (entries.length === 0) return 'end'
        for (const [, value] of entries) {
          if (!(value instanceof Uint8Array)) throw new FlatStateError('chunk is not bytes')
          for (const leaf of decodeChunk(value)) {
            if (compareBytes(leaf.key, origin) < 0) continue
            if (!visit(leaf.key, leaf.value)) return 'stopped'
          }
        }
      }
    } finally {
      await it.close()
    }
  }
}

/** A walk over the flat state's leaves: the account trie's when `owner` is undefined */
export type FlatWalk = (owner: Uint8Array | undefined, origin: Uint8Array, visit: LeafVisitor) => Promise<WalkEnd>
