/**
 * The leaf-level difference between two versions of one trie, read from the DB. Nodes are
 * content-addressed, so two subtrees at the same path with the same ref hold the same leaves: the diff
 * descends only where the refs differ, and the cost follows the size of the change, not of the trie.
 * That lets a caller that holds a derived view of a trie (e.g. a flat key-ordered table) move it from
 * one root to the next by applying the changes instead of rebuilding it.
 *
 * Two differently shaped nodes at the same depth are compared nibble by nibble, each seen as a
 * "virtual branch" (see {@link expand}): an extension or a leaf is a branch with one child whose path
 * is one nibble shorter. A side with nothing at a nibble makes the other side's whole subtree added
 * or removed.
 */
import { toHex } from './hex.js'
import { KEY_NIBBLES, compareBytes, nibblesToBytes } from './nibbles.js'
import { NodeDecodeError } from './node.js'
import { MissingNodeError, isHashRef } from './reader.js'
import { EMPTY_ROOT } from './stackbuilder.js'

import type { TrieNode } from './node.js'
import type { TrieReader } from './reader.js'

/**
 * Receives each leaf whose value differs between the two tries, in increasing key order.
 * `before` undefined: the key is new; `after` undefined: the key was removed.
 */
export type DiffVisitor = (key: Uint8Array, before: Uint8Array | undefined, after: Uint8Array | undefined) => void

/** A child position: a ref (hash or embedded RLP), a decoded virtual node, or nothing */
type Slot = Uint8Array | TrieNode | undefined

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0
}

/** Equal leaves or extensions; branches compare by ref only, as a branch is never virtual */
function sameNode(a: TrieNode, b: TrieNode): boolean {
  if (a.kind === 'leaf' && b.kind === 'leaf') return sameBytes(a.path, b.path) && sameBytes(a.value, b.value)
  if (a.kind === 'extension' && b.kind === 'extension') return sameBytes(a.path, b.path) && sameBytes(a.child, b.child)
  return false
}

function sameSlot(a: Slot, b: Slot): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && sameBytes(a, b)
  }
  return sameNode(a, b)
}

function checkLeaf(rest: Uint8Array, depth: number): void {
  if (depth + rest.length !== KEY_NIBBLES) throw new NodeDecodeError('leaf key is not 32 bytes')
}

function checkInner(node: TrieNode, depth: number): void {
  const end = node.kind === 'extension' ? depth + node.path.length : depth
  if (end >= KEY_NIBBLES) throw new NodeDecodeError(`${node.kind} below key length`)
}

/**
 * The 16 children of `node` (at `depth` < 64) one nibble down. An extension or a leaf has one: the
 * same node with its path one nibble shorter (an extension of one nibble gives its child ref).
 */
function expand(node: TrieNode, depth: number): Slot[] {
  if (node.kind === 'branch') {
    checkInner(node, depth)
    return node.children
  }
  const slots = new Array<Slot>(16).fill(undefined)
  if (node.kind === 'leaf') {
    checkLeaf(node.path, depth)
    slots[node.path[0]] = { kind: 'leaf', path: node.path.subarray(1), value: node.value }
  } else {
    checkInner(node, depth)
    const rest = node.path.subarray(1)
    slots[node.path[0]] = rest.length > 0 ? { kind: 'extension', path: rest, child: node.child } : node.child
  }
  return slots
}

class Diff {
  // Path of the nodes being compared; complete (64 nibbles) when a leaf is reported
  private readonly path = new Uint8Array(KEY_NIBBLES)
  private changes = 0

  constructor(
    private readonly reader: TrieReader,
    private readonly visit: DiffVisitor,
    private readonly maxChanges: number,
  ) {}

  /** Reports the leaf at the current path; false once the change cap is exceeded */
  private report(before: Uint8Array | undefined, after: Uint8Array | undefined): boolean {
    if (++this.changes > this.maxChanges) return false
    this.visit(nibblesToBytes(this.path), before, after)
    return true
  }

  /** Decodes slots, reading every hashed one in a single batch (one DB round-trip per level) */
  async resolve(slots: Slot[]): Promise<(TrieNode | undefined)[]> {
    const hashes = slots.filter((s): s is Uint8Array => s instanceof Uint8Array && isHashRef(s))
    const loaded = await this.reader.load(hashes)
    let next = 0
    const out: (TrieNode | undefined)[] = []
    for (const slot of slots) {
      if (!(slot instanceof Uint8Array)) {
        out.push(slot)
      } else if (isHashRef(slot)) {
        const node = loaded[next++]
        if (node === undefined) throw new MissingNodeError(`trie node ${toHex(slot)}`)
        out.push(node.node)
      } else {
        out.push((await this.reader.resolve(slot))?.node)
      }
    }
    return out
  }

  /** Reports the differing leaves under `a` (before) and `b` (after), both at `depth` */
  async pair(a: TrieNode | undefined, b: TrieNode | undefined, depth: number): Promise<boolean> {
    if (a === undefined) return b === undefined || this.whole(b, depth, false)
    if (b === undefined) return this.whole(a, depth, true)
    if (sameNode(a, b)) return true
    if (depth === KEY_NIBBLES) {
      // Only a leaf with nothing left of its path ends at full key length; sameNode saw the values differ
      if (a.kind !== 'leaf' || b.kind !== 'leaf') {
        throw new NodeDecodeError(`${a.kind === 'leaf' ? b.kind : a.kind} at key length`)
      }
      checkLeaf(a.path, depth)
      checkLeaf(b.path, depth)
      return this.report(a.value, b.value)
    }
    const before = expand(a, depth)
    const after = expand(b, depth)
    const differ: number[] = []
    for (let i = 0; i < 16; i++) if (!sameSlot(before[i], after[i])) differ.push(i)
    const nodes = await this.resolve(differ.flatMap((i) => [before[i], after[i]]))
    for (let j = 0; j < differ.length; j++) {
      this.path[depth] = differ[j]
      if (!(await this.pair(nodes[2 * j], nodes[2 * j + 1], depth + 1))) return false
    }
    return true
  }

  /** Reports every leaf under `node` (at `depth`) as removed or added */
  private async whole(node: TrieNode, depth: number, removed: boolean): Promise<boolean> {
    if (node.kind === 'leaf') {
      checkLeaf(node.path, depth)
      this.path.set(node.path, depth)
      return removed ? this.report(node.value, undefined) : this.report(undefined, node.value)
    }
    checkInner(node, depth)
    if (node.kind === 'extension') {
      const [child] = await this.resolve([node.child])
      this.path.set(node.path, depth)
      return this.whole(child as TrieNode, depth + node.path.length, removed)
    }
    const children = await this.resolve(node.children)
    for (let i = 0; i < 16; i++) {
      const child = children[i]
      if (child === undefined) continue
      this.path[depth] = i
      if (!(await this.whole(child, depth + 1, removed))) return false
    }
    return true
  }
}

/**
 * Visits the leaves (32-byte keys) that differ between the trie at `from` and the trie at `to`, both
 * read with `reader` (one trie namespace: the account trie, or one owner's storage trie), in key order.
 * Descends only where the two tries' node references differ (content-addressed: equal refs mean equal
 * subtrees), so the cost is proportional to the changes times the depth, not the trie size.
 * Either root may be {@link EMPTY_ROOT} (the empty trie, which has no stored node). Throws
 * {@link MissingNodeError} when a node it needs is not in the DB, {@link NodeDecodeError} for a node
 * that cannot be in a trie of 32-byte keys.
 * `maxChanges`: when more than this many differing leaves are found, stops and returns false (the
 * caller then rebuilds instead), having visited exactly `maxChanges`; returns true when the whole diff
 * was visited.
 */
export async function diffTries(
  reader: TrieReader,
  from: Uint8Array,
  to: Uint8Array,
  visit: DiffVisitor,
  maxChanges?: number,
): Promise<boolean> {
  if (sameBytes(from, to)) return true
  const diff = new Diff(reader, visit, maxChanges ?? Infinity)
  // The empty trie has no stored node: it is "nothing" on its side
  const roots = [from, to].map((r) => (sameBytes(r, EMPTY_ROOT) ? undefined : r))
  const [a, b] = await diff.resolve(roots)
  return diff.pair(a, b, 0)
}
