/**
 * Decoding of Merkle-Patricia trie nodes as stored in the state DB, into a small tagged form
 * the walkers share. A child is referenced by hash (a node of 32+ bytes, stored under its hash)
 * or embedded (a node shorter than 32 bytes, inlined in its parent).
 */
import { RLP } from '@ethereumjs/rlp'

import type { NestedUint8Array } from '@ethereumjs/rlp'

/** Reference from a parent to a child node */
export type ChildRef =
  | { readonly kind: 'hash'; readonly hash: Uint8Array }
  | { readonly kind: 'inline'; readonly node: TrieNode; readonly raw: NestedUint8Array }

export type TrieNode =
  | { readonly kind: 'branch'; readonly children: (ChildRef | undefined)[] }
  | { readonly kind: 'extension'; readonly path: Uint8Array; readonly child: ChildRef }
  | { readonly kind: 'leaf'; readonly path: Uint8Array; readonly value: Uint8Array }

/** Thrown for bytes that are not a trie node: the DB is corrupt or a key hit the wrong kind */
export class BadNodeError extends Error {}

/** Hex-prefix (compact) decoding, yellow paper appendix C: returns nibbles and the leaf flag */
export function decodeCompact(compact: Uint8Array): { nibbles: Uint8Array; leaf: boolean } | undefined {
  if (compact.length === 0) return undefined
  const flag = compact[0] >> 4
  if (flag > 3) return undefined
  const odd = (flag & 1) === 1
  const nibbles = new Uint8Array(compact.length * 2 - (odd ? 1 : 2))
  let n = 0
  if (odd) nibbles[n++] = compact[0] & 0x0f
  for (let i = 1; i < compact.length; i++) {
    nibbles[n++] = compact[i] >> 4
    nibbles[n++] = compact[i] & 0x0f
  }
  return { nibbles, leaf: (flag & 2) === 2 }
}

function childRef(item: NestedUint8Array[number] | undefined): ChildRef | undefined {
  if (item === undefined) return undefined
  if (Array.isArray(item)) return { kind: 'inline', node: fromDecoded(item), raw: item }
  if (item.length === 0) return undefined
  if (item.length === 32) return { kind: 'hash', hash: item }
  throw new BadNodeError(`child reference of ${item.length} bytes`)
}

function fromDecoded(raw: NestedUint8Array): TrieNode {
  if (raw.length === 17) {
    const children: (ChildRef | undefined)[] = new Array(16)
    for (let i = 0; i < 16; i++) children[i] = childRef(raw[i])
    return { kind: 'branch', children }
  }
  if (raw.length === 2 && raw[0] instanceof Uint8Array) {
    const key = decodeCompact(raw[0])
    if (key === undefined) throw new BadNodeError('bad compact key')
    if (key.leaf) {
      if (!(raw[1] instanceof Uint8Array)) throw new BadNodeError('leaf value is a list')
      return { kind: 'leaf', path: key.nibbles, value: raw[1] }
    }
    const child = childRef(raw[1])
    if (child === undefined) throw new BadNodeError('extension without child')
    return { kind: 'extension', path: key.nibbles, child }
  }
  throw new BadNodeError(`node of ${raw.length} items`)
}

/** Decodes the RLP of a stored trie node */
export function decodeNode(encoded: Uint8Array): TrieNode {
  const raw = RLP.decode(encoded)
  if (!Array.isArray(raw)) throw new BadNodeError('node is not a list')
  return fromDecoded(raw)
}

/** RLP of an embedded node, as the parent holds it (GetTrieNodes may address one) */
export function encodeInline(raw: NestedUint8Array): Uint8Array {
  return RLP.encode(raw)
}
