/**
 * Nibble paths: the trie addresses nodes by sequences of 4-bit nibbles. A path is a `Uint8Array` whose
 * elements are 0..15; a 32-byte key is a 64-nibble path.
 */

/** Nibbles in a path to a leaf: state and storage trie keys are 32-byte hashes. */
export const KEY_NIBBLES = 64

/** The 64 nibbles of a key (or any byte string), high nibble first. */
export function bytesToNibbles(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length * 2)
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = bytes[i] >> 4
    out[2 * i + 1] = bytes[i] & 0x0f
  }
  return out
}

/** Packs an even-length nibble path back into bytes; an odd path gets a zero low nibble appended. */
export function nibblesToBytes(nibbles: Uint8Array): Uint8Array {
  const out = new Uint8Array((nibbles.length + 1) >> 1)
  for (let i = 0; i < nibbles.length; i++) out[i >> 1] |= (i & 1) === 0 ? nibbles[i] << 4 : nibbles[i]
  return out
}

/** Length of the common prefix of two paths. */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a[i] === b[i]) i++
  return i
}

/** Lexicographic order of two paths (a proper prefix sorts first): negative, zero or positive. */
export function compareNibbles(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

/** Lexicographic order of two byte strings. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

/** Hex form of a nibble path (one hex digit per nibble), used in logs and reports. */
export function nibblesToHex(nibbles: Uint8Array): string {
  let s = ''
  for (const n of nibbles) s += n.toString(16)
  return s
}

/** Parses a hex nibble path (one digit per nibble, optional `0x`). */
export function hexToNibbles(hex: string): Uint8Array {
  const body = hex.startsWith('0x') ? hex.slice(2) : hex
  if (!/^[0-9a-fA-F]*$/.test(body)) throw new Error(`not a hex nibble path: ${hex}`)
  return Uint8Array.from(body, (c) => parseInt(c, 16))
}

/**
 * Hex-prefix ("compact") encoding of a path, as leaf and extension nodes store it (Yellow Paper
 * appendix C): the first nibble carries the leaf flag (2) and the odd-length flag (1).
 */
export function encodeCompact(nibbles: Uint8Array, start: number, isLeaf: boolean): Uint8Array {
  const len = nibbles.length - start
  const odd = len & 1
  const out = new Uint8Array((len >> 1) + 1)
  const flag = (isLeaf ? 2 : 0) + odd
  let i = start
  if (odd === 1) {
    out[0] = (flag << 4) | nibbles[i++]
  } else {
    out[0] = flag << 4
  }
  for (let o = 1; i < nibbles.length; i += 2, o++) out[o] = (nibbles[i] << 4) | nibbles[i + 1]
  return out
}

/** Decodes a hex-prefix path into its nibbles and leaf flag; throws on a malformed flag nibble. */
export function decodeCompact(bytes: Uint8Array): { nibbles: Uint8Array; isLeaf: boolean } {
  if (bytes.length === 0) throw new Error('empty compact path')
  const flag = bytes[0] >> 4
  if (flag > 3) throw new Error(`bad compact path flag ${flag}`)
  const odd = flag & 1
  if (odd === 0 && (bytes[0] & 0x0f) !== 0) throw new Error('bad compact path padding')
  const all = bytesToNibbles(bytes)
  return { nibbles: all.subarray(odd === 1 ? 1 : 2), isLeaf: flag >= 2 }
}
