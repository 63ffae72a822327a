/**
 * Merkle-Patricia trie node encoding, hand-rolled for the builder's hot path, and decoding for the
 * proof walker and the completeness walker.
 *
 * A child reference ("ref") is either the 32-byte keccak of the child's RLP, or, when that RLP is
 * shorter than 32 bytes, the RLP itself, embedded in the parent. A ref's length tells which.
 */
import { RLP } from '@ethereumjs/rlp'

import { decodeCompact } from './nibbles.js'

/** A decoded node. Branch children are refs (`undefined` for an empty slot). */
export type TrieNode =
  | { kind: 'branch'; children: (Uint8Array | undefined)[]; value: Uint8Array | undefined }
  | { kind: 'extension'; path: Uint8Array; child: Uint8Array }
  | { kind: 'leaf'; path: Uint8Array; value: Uint8Array }

/** RLP of the empty string: the empty trie's root node. */
export const EMPTY_NODE = Uint8Array.of(0x80)

function headerLength(len: number): number {
  if (len < 56) return 1
  let n = 1
  for (let l = len; l >= 256; l = Math.floor(l / 256)) n++
  return 1 + n
}

function writeHeader(out: Uint8Array, pos: number, len: number, short: number, long: number): number {
  if (len < 56) {
    out[pos] = short + len
    return pos + 1
  }
  const size = headerLength(len) - 1
  out[pos++] = long + size
  for (let i = size - 1; i >= 0; i--) out[pos++] = Math.floor(len / 256 ** i) & 0xff
  return pos
}

/** Encoded length of a byte string as an RLP item. */
function stringLength(b: Uint8Array): number {
  if (b.length === 1 && b[0] < 0x80) return 1
  return headerLength(b.length) + b.length
}

function writeString(out: Uint8Array, pos: number, b: Uint8Array): number {
  if (b.length === 1 && b[0] < 0x80) {
    out[pos] = b[0]
    return pos + 1
  }
  pos = writeHeader(out, pos, b.length, 0x80, 0xb7)
  out.set(b, pos)
  return pos + b.length
}

/** Encoded length of a ref inside a parent: a hash is a 33-byte string, an embedded node is inlined. */
function refLength(ref: Uint8Array): number {
  return ref.length === 32 ? 33 : ref.length
}

function writeRef(out: Uint8Array, pos: number, ref: Uint8Array): number {
  if (ref.length === 32) return writeString(out, pos, ref)
  out.set(ref, pos)
  return pos + ref.length
}

/** RLP of a list of byte strings (faster than the generic encoder for account bodies). */
export function encodeStringList(items: Uint8Array[]): Uint8Array {
  let payload = 0
  for (const item of items) payload += stringLength(item)
  const out = new Uint8Array(headerLength(payload) + payload)
  let pos = writeHeader(out, 0, payload, 0xc0, 0xf7)
  for (const item of items) pos = writeString(out, pos, item)
  return out
}

// Length of the hex-prefix path nibbles[start..end) as an RLP string item
function compactItemLength(start: number, end: number): number {
  const len = end - start
  const bytes = (len >> 1) + 1
  // A single byte below 0x80 is its own RLP: an odd one-nibble leaf path (0x3n) or an empty path
  return bytes === 1 ? 1 : bytes + 1
}

// Writes the hex-prefix path nibbles[start..end) as an RLP string item, without a temporary array
function writeCompact(
  out: Uint8Array,
  pos: number,
  nibbles: Uint8Array,
  start: number,
  end: number,
  isLeaf: boolean,
): number {
  const len = end - start
  const odd = len & 1
  const bytes = (len >> 1) + 1
  if (bytes > 1) out[pos++] = 0x80 + bytes
  const flag = (isLeaf ? 2 : 0) + odd
  let i = start
  out[pos++] = odd === 1 ? (flag << 4) | nibbles[i++] : flag << 4
  for (; i < end; i += 2) out[pos++] = (nibbles[i] << 4) | nibbles[i + 1]
  return pos
}

/** RLP of a leaf node holding `value`, whose remaining path is `nibbles[start..]`. */
export function encodeLeaf(nibbles: Uint8Array, start: number, value: Uint8Array): Uint8Array {
  const payload = compactItemLength(start, nibbles.length) + stringLength(value)
  const out = new Uint8Array(headerLength(payload) + payload)
  let pos = writeHeader(out, 0, payload, 0xc0, 0xf7)
  pos = writeCompact(out, pos, nibbles, start, nibbles.length, true)
  writeString(out, pos, value)
  return out
}

/** RLP of an extension node over path `nibbles[start..end)` pointing at `child` (a ref). */
export function encodeExtension(nibbles: Uint8Array, start: number, end: number, child: Uint8Array): Uint8Array {
  const payload = compactItemLength(start, end) + refLength(child)
  const out = new Uint8Array(headerLength(payload) + payload)
  let pos = writeHeader(out, 0, payload, 0xc0, 0xf7)
  pos = writeCompact(out, pos, nibbles, start, end, false)
  writeRef(out, pos, child)
  return out
}

/** RLP of a branch node with 16 child refs and an empty value slot (keys of a secure trie are fixed-length). */
export function encodeBranch(children: (Uint8Array | undefined)[]): Uint8Array {
  let payload = 1
  for (let i = 0; i < 16; i++) {
    const c = children[i]
    payload += c === undefined ? 1 : refLength(c)
  }
  const out = new Uint8Array(headerLength(payload) + payload)
  let pos = writeHeader(out, 0, payload, 0xc0, 0xf7)
  for (let i = 0; i < 16; i++) {
    const c = children[i]
    if (c === undefined) out[pos++] = 0x80
    else pos = writeRef(out, pos, c)
  }
  out[pos] = 0x80
  return out
}

/** Error thrown by `decodeNode` for bytes that are not a trie node. */
export class NodeDecodeError extends Error {
  override name = 'NodeDecodeError'
}

type Decoded = Uint8Array | Decoded[]

function toRef(item: Decoded): Uint8Array | undefined {
  if (item instanceof Uint8Array) {
    if (item.length === 0) return undefined
    if (item.length !== 32) throw new NodeDecodeError(`child reference of ${item.length} bytes`)
    return item
  }
  // An embedded child: keep its RLP as the ref, as a parent stores it
  const raw = RLP.encode(item)
  if (raw.length >= 32) throw new NodeDecodeError('embedded child of 32 bytes or more')
  return raw
}

/** Decodes a node's RLP (or an embedded ref); throws `NodeDecodeError` if it is not a valid node. */
export function decodeNode(rlp: Uint8Array): TrieNode {
  let items: Decoded
  try {
    items = RLP.decode(rlp) as Decoded
  } catch (err) {
    throw new NodeDecodeError(`bad RLP: ${(err as Error).message}`)
  }
  if (!Array.isArray(items)) throw new NodeDecodeError('node is not a list')
  if (items.length === 17) {
    const children = items.slice(0, 16).map(toRef)
    const value = items[16]
    if (!(value instanceof Uint8Array)) throw new NodeDecodeError('branch value is a list')
    return { kind: 'branch', children, value: value.length === 0 ? undefined : value }
  }
  if (items.length !== 2) throw new NodeDecodeError(`node of ${items.length} items`)
  const [pathItem, second] = items
  if (!(pathItem instanceof Uint8Array)) throw new NodeDecodeError('node path is a list')
  let decoded: { nibbles: Uint8Array; isLeaf: boolean }
  try {
    decoded = decodeCompact(pathItem)
  } catch (err) {
    throw new NodeDecodeError((err as Error).message)
  }
  if (decoded.isLeaf) {
    if (!(second instanceof Uint8Array)) throw new NodeDecodeError('leaf value is a list')
    return { kind: 'leaf', path: decoded.nibbles, value: second }
  }
  const child = toRef(second)
  if (child === undefined || decoded.nibbles.length === 0) throw new NodeDecodeError('empty extension')
  return { kind: 'extension', path: decoded.nibbles, child }
}
