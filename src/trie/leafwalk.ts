/**
 * Walks the leaves of a trie in key order from an origin key, reading nodes from the DB as it goes
 * (never the whole trie): the children of a branch are fetched in one batched read, which is what
 * makes the walk competitive with a flat key-ordered table (see docs/serving.md).
 */
import { KEY_NIBBLES, bytesToNibbles, nibblesToBytes } from './nibbles.js'
import { NodeDecodeError } from './node.js'
import { MissingNodeError, isHashRef } from './reader.js'

import type { TrieNode } from './node.js'
import type { TrieReader } from './reader.js'

/**
 * Receives each leaf; returns false to refuse it and stop. A visitor that is full refuses the
 * next leaf rather than stopping after the last one it takes, so that an `end` result proves
 * no leaf is left (the "whole trie, no proof" rule of snap/1 needs that).
 */
export type LeafVisitor = (key: Uint8Array, value: Uint8Array) => boolean

/** How a walk ended: `end` when no leaf remains after the last one visited */
export type WalkEnd = 'end' | 'stopped'

/** Compares `a` with `b[offset .. offset + a.length]` */
function compareAt(a: Uint8Array, b: Uint8Array, offset: number): number {
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[offset + i]
    if (d !== 0) return d
  }
  return 0
}

class Walk {
  // Path of the current node; a key is 64 nibbles, leaf paths never extend beyond
  private readonly path = new Uint8Array(KEY_NIBBLES)

  constructor(
    private readonly reader: TrieReader,
    private readonly origin: Uint8Array,
    private readonly visit: LeafVisitor,
  ) {}

  /** Visits the leaves under `node` (at `depth`); `onEdge`: the path so far equals the origin's */
  async node(node: TrieNode, depth: number, onEdge: boolean): Promise<boolean> {
    switch (node.kind) {
      case 'leaf':
        return this.leaf(node.path, node.value, depth, onEdge)
      case 'extension':
        return this.extension(node.path, node.child, depth, onEdge)
      case 'branch':
        return this.branch(node.children, depth, onEdge)
    }
  }

  private leaf(rest: Uint8Array, value: Uint8Array, depth: number, onEdge: boolean): boolean {
    if (depth + rest.length !== KEY_NIBBLES) throw new NodeDecodeError('leaf key is not 32 bytes')
    if (onEdge && compareAt(rest, this.origin, depth) < 0) return true
    this.path.set(rest, depth)
    return this.visit(nibblesToBytes(this.path), value)
  }

  private async extension(rest: Uint8Array, ref: Uint8Array, depth: number, onEdge: boolean): Promise<boolean> {
    if (depth + rest.length >= KEY_NIBBLES) throw new NodeDecodeError('extension too long')
    const cmp = onEdge ? compareAt(rest, this.origin, depth) : 1
    if (cmp < 0) return true // whole subtree left of the origin
    const child = await this.reader.resolve(ref)
    if (child === undefined) throw new MissingNodeError('extension child')
    this.path.set(rest, depth)
    return this.node(child.node, depth + rest.length, cmp === 0)
  }

  private async branch(children: (Uint8Array | undefined)[], depth: number, onEdge: boolean): Promise<boolean> {
    if (depth >= KEY_NIBBLES) throw new NodeDecodeError('branch below key length')
    const start = onEdge ? this.origin[depth] : 0
    // Read every hashed child right of the origin in one batch
    const hashed: Uint8Array[] = []
    for (let i = start; i < 16; i++) {
      const ref = children[i]
      if (ref !== undefined && isHashRef(ref)) hashed.push(ref)
    }
    const loaded = await this.reader.load(hashed)
    let next = 0
    for (let i = start; i < 16; i++) {
      const ref = children[i]
      if (ref === undefined) continue
      const child = isHashRef(ref) ? loaded[next++] : await this.reader.resolve(ref)
      if (child === undefined) throw new MissingNodeError('branch child')
      this.path[depth] = i
      if (!(await this.node(child.node, depth + 1, onEdge && i === start))) return false
    }
    return true
  }
}

/**
 * Visits the leaves of the trie at `root` with keys >= `origin` (32 bytes) in key order until
 * `visit` returns false. Throws {@link MissingNodeError} when the root or a node is not in the DB.
 */
export async function walkLeaves(
  reader: TrieReader,
  root: Uint8Array,
  origin: Uint8Array,
  visit: LeafVisitor,
): Promise<WalkEnd> {
  const top = await reader.loadOne(root)
  if (top === undefined) throw new MissingNodeError('root')
  const ended = await new Walk(reader, bytesToNibbles(origin), visit).node(top.node, 0, true)
  return ended ? 'end' : 'stopped'
}
