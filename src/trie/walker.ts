/**
 * The completeness walker: from a state root, visits every account-trie node, every storage trie and
 * every code reference in the DB, and yields what is missing (node by owner, path and hash; code by
 * hash) or wrong (a stored value that does not hash to its key, or does not decode).
 *
 * It never assumes that a stored node's subtree is complete: range building stores a range's edge
 * nodes before their neighbours' subtrees arrive, so presence says nothing about descendants.
 * Memory is bounded by the depth-first stack (at most 16 loaded siblings per level, 64 levels),
 * and a walk can resume from an account-trie path, e.g. the `cursor` of an interrupted walk.
 */
import { decodeFullAccount, hasCode, hasStorage } from './account.js'
import { toHex } from './hex.js'
import { keccak256 } from './keccak.js'
import { NodeDecodeError, decodeNode } from './node.js'
import { compareBytes, compareNibbles, nibblesToBytes } from './nibbles.js'
import { EMPTY_ROOT } from './stackbuilder.js'
import { STATE_ENCODINGS, codeKey, nodeKey } from './statedb.js'

import type { StateStore } from './statedb.js'

/** Something the state lacks or holds wrongly. `owner` is the account hash of a storage trie. */
export type WalkFinding =
  | { kind: 'node'; owner: Uint8Array | undefined; path: Uint8Array; hash: Uint8Array }
  | { kind: 'code'; account: Uint8Array; codeHash: Uint8Array }
  | { kind: 'corrupt'; owner: Uint8Array | undefined; path: Uint8Array; hash: Uint8Array | undefined; reason: string }

/** Counts of what a walk saw. */
export interface WalkStats {
  /** Account leaves visited. */
  accounts: number
  /** Storage leaves visited. */
  slots: number
  /** Code references (accounts with code) found present. */
  codes: number
  /** Stored trie nodes read and checked (account and storage tries). */
  nodes: number
  missingNodes: number
  missingCodes: number
  corrupt: number
}

/** Options of a `StateWalker`, fixed at construction. */
export interface WalkOptions {
  /**
   * Resume: skip account-trie subtrees wholly before this nibble path; an account whose key equals
   * it is walked (again), so passing an interrupted walk's `cursor` repeats at most one account.
   */
  from?: Uint8Array
  /** Recently seen code hashes remembered to skip re-reading shared code. Why 4096: ~300 KB of keys. */
  codeCacheSize?: number
}

interface Entry {
  path: Uint8Array
  // Hash under which the node is stored; undefined for a node embedded in its parent
  hash: Uint8Array | undefined
  rlp: Uint8Array | undefined
}

type LeafVisitor = (key: Uint8Array, value: Uint8Array, path: Uint8Array) => AsyncGenerator<WalkFinding>

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** Walks a state in the DB; see the module comment. One walker per walk. */
export class StateWalker {
  private readonly db: StateStore
  private readonly from: Uint8Array | undefined
  private readonly codeCacheSize: number
  private readonly seenCodes = new Set<string>()
  /** What the walk has seen so far. */
  readonly stats: WalkStats = {
    accounts: 0,
    slots: 0,
    codes: 0,
    nodes: 0,
    missingNodes: 0,
    missingCodes: 0,
    corrupt: 0,
  }
  /** Account-trie path (64 nibbles) of the last account fully walked, storage and code included. */
  cursor: Uint8Array | undefined

  constructor(db: StateStore, opts: WalkOptions = {}) {
    this.db = db
    this.from = opts.from
    this.codeCacheSize = opts.codeCacheSize ?? 4096
  }

  /** Yields every missing or corrupt item of the state under `root`, in key order. */
  async *walk(root: Uint8Array): AsyncGenerator<WalkFinding> {
    yield* this.walkTrie(root, undefined, this.from, (key, value, path) => this.visitAccount(key, value, path))
  }

  /** True when nothing was found missing or corrupt so far. */
  get complete(): boolean {
    const s = this.stats
    return s.missingNodes === 0 && s.missingCodes === 0 && s.corrupt === 0
  }

  private async *visitAccount(key: Uint8Array, value: Uint8Array, path: Uint8Array): AsyncGenerator<WalkFinding> {
    this.stats.accounts++
    let account: ReturnType<typeof decodeFullAccount>
    try {
      account = decodeFullAccount(value)
    } catch (err) {
      this.stats.corrupt++
      yield {
        kind: 'corrupt',
        owner: undefined,
        path,
        hash: undefined,
        reason: `account body: ${(err as Error).message}`,
      }
      return
    }
    if (hasStorage(account)) {
      yield* this.walkTrie(account.storageRoot, key, undefined, () => this.visitSlot())
    }
    if (hasCode(account)) yield* this.checkCode(key, account.codeHash)
    this.cursor = path
  }

  /* biome-ignore lint/correctness/useYield: walkTrie's leaf visitors may yield findings; a slot has none,
     it is only counted */
  private async *visitSlot(): AsyncGenerator<WalkFinding> {
    this.stats.slots++
  }

  private async *checkCode(account: Uint8Array, codeHash: Uint8Array): AsyncGenerator<WalkFinding> {
    const key = codeKey(codeHash)
    if (!this.seenCodes.has(key)) {
      const [code] = await this.db.getMany([key], STATE_ENCODINGS)
      if (code === undefined) {
        this.stats.missingCodes++
        yield { kind: 'code', account, codeHash }
        return
      }
      if (compareBytes(keccak256(code), codeHash) !== 0) {
        this.stats.corrupt++
        yield {
          kind: 'corrupt',
          owner: account,
          path: new Uint8Array(0),
          hash: codeHash,
          reason: 'code does not hash to its key',
        }
        return
      }
      // A bounded set: forget everything when full rather than track recency (cheap, still bounded)
      if (this.seenCodes.size >= this.codeCacheSize) this.seenCodes.clear()
      this.seenCodes.add(key)
    }
    this.stats.codes++
  }

  private async *walkTrie(
    root: Uint8Array,
    owner: Uint8Array | undefined,
    from: Uint8Array | undefined,
    visit: LeafVisitor,
  ): AsyncGenerator<WalkFinding> {
    if (compareBytes(root, EMPTY_ROOT) === 0) return
    const [rlp] = await this.db.getMany([nodeKey(root, owner)], STATE_ENCODINGS)
    const stack: Entry[] = [{ path: new Uint8Array(0), hash: root, rlp }]
    for (let e = stack.pop(); e !== undefined; e = stack.pop()) {
      yield* this.visitEntry(e, owner, from, visit, stack)
    }
  }

  // Checks one node and pushes its children (loaded, in one read) for the depth-first loop
  private async *visitEntry(
    e: Entry,
    owner: Uint8Array | undefined,
    from: Uint8Array | undefined,
    visit: LeafVisitor,
    stack: Entry[],
  ): AsyncGenerator<WalkFinding> {
    const found = this.checkEntry(e, owner)
    if (found !== undefined) {
      yield found
      return
    }
    let node: ReturnType<typeof decodeNode>
    try {
      node = decodeNode(e.rlp as Uint8Array)
    } catch (err) {
      if (!(err instanceof NodeDecodeError)) throw err
      this.stats.corrupt++
      yield { kind: 'corrupt', owner, path: e.path, hash: e.hash, reason: err.message }
      return
    }
    if (node.kind === 'leaf') {
      const path = join(e.path, node.path)
      if (path.length !== 64) {
        this.stats.corrupt++
        yield { kind: 'corrupt', owner, path: e.path, hash: e.hash, reason: `leaf at depth ${path.length}` }
      } else if (from === undefined || compareNibbles(path, from) >= 0) {
        yield* visit(nibblesToBytes(path), node.value, path)
      }
      return
    }
    const children: { path: Uint8Array; ref: Uint8Array }[] = []
    if (node.kind === 'extension') {
      children.push({ path: join(e.path, node.path), ref: node.child })
    } else {
      node.children.forEach((ref, i) => {
        if (ref !== undefined) children.push({ path: join(e.path, Uint8Array.of(i)), ref })
      })
    }
    await this.pushChildren(children, owner, from, stack)
  }

  // undefined when the entry is present and hashes right; otherwise the finding to report
  private checkEntry(e: Entry, owner: Uint8Array | undefined): WalkFinding | undefined {
    if (e.hash === undefined) return undefined
    if (e.rlp === undefined) {
      this.stats.missingNodes++
      return { kind: 'node', owner, path: e.path, hash: e.hash }
    }
    this.stats.nodes++
    if (compareBytes(keccak256(e.rlp), e.hash) === 0) return undefined
    this.stats.corrupt++
    return {
      kind: 'corrupt',
      owner,
      path: e.path,
      hash: e.hash,
      reason: `stored node does not hash to its key ${toHex(e.hash)}`,
    }
  }

  private async pushChildren(
    children: { path: Uint8Array; ref: Uint8Array }[],
    owner: Uint8Array | undefined,
    from: Uint8Array | undefined,
    stack: Entry[],
  ): Promise<void> {
    // Subtrees wholly before the resume point are skipped; one read loads all hashed siblings
    const kept =
      from === undefined
        ? children
        : children.filter((c) => compareNibbles(c.path, from.subarray(0, c.path.length)) >= 0)
    const hashed = kept.filter((c) => c.ref.length === 32)
    const loaded =
      hashed.length === 0
        ? []
        : await this.db.getMany(
            hashed.map((c) => nodeKey(c.ref, owner)),
            STATE_ENCODINGS,
          )
    let h = hashed.length - 1
    for (let i = kept.length - 1; i >= 0; i--) {
      const c = kept[i]
      if (c.ref.length === 32) stack.push({ path: c.path, hash: c.ref, rlp: loaded[h--] })
      else stack.push({ path: c.path, hash: undefined, rlp: c.ref })
    }
  }
}
