/**
 * The flat state's storage format: the leaves of the account trie and of every storage trie, in key
 * order, packed into chunks of a few KiB under keys of the client's state DB.
 *
 * Why chunks: a range reply carries thousands of leaves; read one DB entry per leaf (or one trie node
 * per leaf, as a trie walk does) and the per-entry cost of the DB binding dominates serving. A chunk
 * holds ~40 accounts or ~60 slots, so a reply is a few dozen sequential reads.
 *
 * Keys are utf8 strings like the client's own, but start with a letter outside the hex digits, so they
 * never meet a trie node or code key (lower-case hex), and sort after all of them:
 * - `snapflat/m`: the marker (flatstate.ts);
 * - `snapflat/a/<hex first account hash>`: a chunk of accounts (full consensus bodies, the trie values);
 * - `snapflat/s/<hex account hash>/<hex first slot hash>`: a chunk of one account's slots (trie values).
 * A chunk holds the leaves from its key up to the next chunk's key of the same trie.
 */
import { toHex } from '../../trie/hex.js'

/** Key of the marker */
export const MARKER_KEY = 'snapflat/m'

/** First and after-last key of every flat-state entry */
export const FLAT_RANGE = { gte: 'snapflat/', lt: 'snapflat0' } as const

/** Why 4 KiB: LevelDB's block size; a reply of 500 KiB reads ~125 chunks, a change rewrites one */
export const CHUNK_TARGET_BYTES = 4096

const KEY_BYTES = 32
/** A value's length is written in two bytes: trie values here are at most ~120 bytes */
const MAX_VALUE_BYTES = 0xffff

/** Thrown when stored flat-state data does not decode: the flat state is then dropped and rebuilt */
export class FlatStateError extends Error {
  override name = 'FlatStateError'
}

/** One leaf: a 32-byte key and its trie value */
export interface FlatLeaf {
  readonly key: Uint8Array
  readonly value: Uint8Array
}

/** Key prefix of one trie's chunks: the account trie's when `owner` is undefined */
export function triePrefix(owner?: Uint8Array): string {
  return owner === undefined ? 'snapflat/a/' : `snapflat/s/${toHex(owner)}/`
}

/** Range covering one trie's chunks: the prefix up to its last character + 1 ('/' + 1 = '0') */
export function trieRange(owner?: Uint8Array): { gte: string; lt: string } {
  const prefix = triePrefix(owner)
  return { gte: prefix, lt: `${prefix.slice(0, -1)}0` }
}

/** Range covering the storage chunks of every account from `account` on */
export function storageFrom(account: Uint8Array): { gte: string; lt: string } {
  return { gte: triePrefix(account), lt: 'snapflat/t' }
}

/** DB key of the chunk of `owner`'s trie that starts at `first` */
export function chunkKey(first: Uint8Array, owner?: Uint8Array): string {
  return triePrefix(owner) + toHex(first)
}

/** Encoded size of a leaf inside a chunk */
export function leafBytes(leaf: FlatLeaf): number {
  return KEY_BYTES + 2 + leaf.value.length
}

/** Packs leaves (in key order) as `key ++ u16 length ++ value` each */
export function encodeChunk(leaves: readonly FlatLeaf[]): Uint8Array {
  let size = 0
  for (const leaf of leaves) {
    if (leaf.key.length !== KEY_BYTES || leaf.value.length === 0 || leaf.value.length > MAX_VALUE_BYTES) {
      throw new FlatStateError(
        `leaf of ${leaf.key.length}-byte key and ${leaf.value.length}-byte value cannot be stored`,
      )
    }
    size += leafBytes(leaf)
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const { key, value } of leaves) {
    out.set(key, at)
    out[at + KEY_BYTES] = value.length >> 8
    out[at + KEY_BYTES + 1] = value.length & 0xff
    out.set(value, at + KEY_BYTES + 2)
    at += KEY_BYTES + 2 + value.length
  }
  return out
}

/** Unpacks a chunk; the leaves are views into `bytes`. Throws {@link FlatStateError} on bad data */
export function decodeChunk(bytes: Uint8Array): FlatLeaf[] {
  const leaves: FlatLeaf[] = []
  let at = 0
  while (at < bytes.length) {
    if (at + KEY_BYTES + 2 > bytes.length) throw new FlatStateError('truncated chunk')
    const length = (bytes[at + KEY_BYTES] << 8) | bytes[at + KEY_BYTES + 1]
    const end = at + KEY_BYTES + 2 + length
    if (length === 0 || end > bytes.length) throw new FlatStateError('bad leaf length in chunk')
    leaves.push({ key: bytes.subarray(at, at + KEY_BYTES), value: bytes.subarray(at + KEY_BYTES + 2, end) })
    at = end
  }
  if (leaves.length === 0) throw new FlatStateError('empty chunk')
  return leaves
}

/** Splits leaves (in key order) into chunks of about {@link CHUNK_TARGET_BYTES} */
export function splitChunks(leaves: readonly FlatLeaf[]): FlatLeaf[][] {
  const chunks: FlatLeaf[][] = []
  let current: FlatLeaf[] = []
  let size = 0
  for (const leaf of leaves) {
    if (current.length > 0 && size + leafBytes(leaf) > CHUNK_TARGET_BYTES) {
      chunks.push(current)
      current = []
      size = 0
    }
    current.push(leaf)
    size += leafBytes(leaf)
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}
