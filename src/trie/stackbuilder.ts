/**
 * A sorted-item ("stack") trie builder: items arrive in strictly increasing key order and every node
 * is encoded and hashed exactly once, at the moment the next item proves it complete. Memory is a
 * stack of at most 64 open branches, whatever the trie size.
 *
 * Items are leaves (a 32-byte key and its value) or refs: a subtree known only by its reference
 * (hash), at a given nibble path. Refs let a range proof's sibling hashes stand in for the parts of
 * the trie left and right of a range, so that a range plus its proof rebuilds the full root, and
 * every node built is a real node of that trie (see `rangeproof.ts`). The same idea is Erigon's and
 * reth's "hash builder"; geth's `StackTrie` handles leaves only.
 */
import { keccak256 } from './keccak.js'
import { bytesToNibbles, commonPrefixLength } from './nibbles.js'
import { EMPTY_NODE, encodeBranch, encodeExtension, encodeLeaf } from './node.js'

/**
 * Receives each finished node that is stored under its hash (RLP of 32 bytes or more, and the root).
 * `complete` is true when no ref lies below the node: its whole subtree was built here and emitted, so
 * a writer that stores only complete nodes keeps "a stored node has its whole subtree stored" true.
 */
export type NodeSink = (hash: Uint8Array, rlp: Uint8Array, complete: boolean) => void

/** Options of a `StackTrieBuilder`, fixed at construction. */
export interface StackTrieOptions {
  /** Receives the nodes to store; without it the builder only computes the root. */
  sink?: NodeSink
  /**
   * The items start mid-trie and nothing left of the first item was given (no refs): the nodes on the
   * first item's path cannot be known yet, so they are hashed but not emitted. A neighbour chunk or
   * healing supplies them.
   */
  openLeft?: boolean
  /** As `openLeft`, for the nodes on the last item's path. */
  openRight?: boolean
}

/** Error for items given out of order or overlapping (one path a prefix of another). */
export class ItemOrderError extends Error {
  override name = 'ItemOrderError'
}

/** keccak256 of the empty trie's root node. */
export const EMPTY_ROOT = keccak256(EMPTY_NODE)

interface Item {
  path: Uint8Array
  value: Uint8Array | undefined
  ref: Uint8Array | undefined
  // Common prefix length with the previous item, -1 for the first
  cp: number
  first: boolean
}

interface Frame {
  depth: number
  children: (Uint8Array | undefined)[]
  first: boolean
  // A ref lies somewhere below
  refs: boolean
}

/** Builds a trie root from sorted leaves and refs, emitting finished nodes to a sink. */
export class StackTrieBuilder {
  private readonly opts: StackTrieOptions
  private readonly stack: Frame[] = []
  private readonly pool: Frame[] = []
  private pending: Item | undefined
  private root: Uint8Array | undefined
  /** Number of items (leaves and refs) added. */
  items = 0
  /** Number of nodes emitted to the sink. */
  emitted = 0

  constructor(opts: StackTrieOptions = {}) {
    this.opts = opts
  }

  /** Adds a leaf; `key` must be 32 bytes and greater than every key and ref path added before. */
  addLeaf(key: Uint8Array, value: Uint8Array): void {
    if (key.length !== 32) throw new ItemOrderError(`leaf key of ${key.length} bytes`)
    this.push(bytesToNibbles(key), value, undefined)
  }

  /** Adds a subtree known only by its ref (32-byte hash or embedded RLP) at nibble path `path`. */
  addRef(path: Uint8Array, ref: Uint8Array): void {
    this.push(path, undefined, ref)
  }

  /** Finishes the trie and returns its root hash; the builder cannot be used afterwards. */
  finish(): Uint8Array {
    if (this.root !== undefined) return this.root
    const item = this.pending
    if (item === undefined) {
      this.root = EMPTY_ROOT
    } else if (item.cp < 0) {
      this.root = this.finishSingle(item)
    } else {
      this.place(item, -1, true)
    }
    this.pending = undefined
    if (this.root === undefined) throw new Error('stack builder ended without a root')
    return this.root
  }

  private push(path: Uint8Array, value: Uint8Array | undefined, ref: Uint8Array | undefined): void {
    if (this.root !== undefined) throw new ItemOrderError('builder already finished')
    this.items++
    const prev = this.pending
    if (prev === undefined) {
      this.pending = { path, value, ref, cp: -1, first: true }
      return
    }
    const cp = commonPrefixLength(prev.path, path)
    if (cp === prev.path.length || cp === path.length || path[cp] < prev.path[cp]) {
      throw new ItemOrderError('items out of order or overlapping')
    }
    this.place(prev, cp, false)
    this.pending = { path, value, ref, cp, first: false }
  }

  // A trie of one item: the root is that leaf (or the ref, under an extension if it is deeper)
  private finishSingle(item: Item): Uint8Array {
    if (item.value !== undefined) return this.emit(encodeLeaf(item.path, 0, item.value), true, true, true, true)
    const ref = item.ref as Uint8Array
    if (item.path.length === 0) return ref.length === 32 ? ref : keccak256(ref)
    return this.emit(encodeExtension(item.path, 0, item.path.length, ref), true, true, true, false)
  }

  /**
   * Hangs `item` in the branch at depth max(its cp with the previous item, `nextCp`), then closes
   * every open branch deeper than `nextCp` (-1 when finishing), since no later item can reach it.
   */
  private place(item: Item, nextCp: number, final: boolean): void {
    const h = Math.max(item.cp, nextCp)
    let top = this.stack[this.stack.length - 1]
    if (top === undefined || top.depth < h) top = this.open(h)
    top.children[item.path[h]] = this.itemRef(item, h + 1, final)
    if (item.first) top.first = true
    if (item.ref !== undefined) top.refs = true
    while (top.depth > nextCp) {
      this.stack.pop()
      const below = this.stack[this.stack.length - 1]
      const parentDepth = Math.max(below?.depth ?? -1, nextCp)
      const isRoot = parentDepth < 0
      let ref = this.emit(encodeBranch(top.children), final, top.first, isRoot && top.depth === 0, !top.refs)
      if (parentDepth + 1 < top.depth) {
        const ext = encodeExtension(item.path, parentDepth + 1, top.depth, ref)
        ref = this.emit(ext, final, top.first, isRoot, !top.refs)
      }
      if (isRoot) {
        this.root = ref
        this.release(top)
        return
      }
      const parent = below !== undefined && below.depth === parentDepth ? below : this.open(parentDepth)
      parent.children[item.path[parentDepth]] = ref
      if (top.first) parent.first = true
      if (top.refs) parent.refs = true
      this.release(top)
      top = parent
    }
  }

  // The ref of an item hung at depth `start`: its leaf, its ref, or an extension down to its ref
  private itemRef(item: Item, start: number, final: boolean): Uint8Array {
    if (item.value !== undefined)
      return this.emit(encodeLeaf(item.path, start, item.value), final, item.first, false, true)
    const ref = item.ref as Uint8Array
    if (start === item.path.length) return ref
    return this.emit(encodeExtension(item.path, start, item.path.length, ref), final, item.first, false, false)
  }

  private emit(
    rlp: Uint8Array,
    onRightEdge: boolean,
    onLeftEdge: boolean,
    isRoot: boolean,
    complete: boolean,
  ): Uint8Array {
    // Nodes under 32 bytes live inside their parent; the root is always stored by hash, as mpt does
    if (rlp.length < 32 && !isRoot) return rlp
    const hash = keccak256(rlp)
    const sink = this.opts.sink
    if (
      sink !== undefined &&
      !(this.opts.openLeft === true && onLeftEdge) &&
      !(this.opts.openRight === true && onRightEdge)
    ) {
      sink(hash, rlp, complete)
      this.emitted++
    }
    return hash
  }

  private open(depth: number): Frame {
    const frame = this.pool.pop() ?? {
      depth,
      children: new Array<Uint8Array | undefined>(16),
      first: false,
      refs: false,
    }
    frame.depth = depth
    frame.first = false
    frame.refs = false
    this.stack.push(frame)
    return frame
  }

  private release(frame: Frame): void {
    frame.children.fill(undefined)
    this.pool.push(frame)
  }
}
