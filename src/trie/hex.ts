/**
 * Fast hex encoding for DB keys. The client's trie DB keys are unprefixed lower-case hex strings
 * (`CheckpointDB` runs `bytesToUnprefixedHex` on every key), and the builder makes one per node.
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/**
 * Bytes copied here are hex-encoded by Node's native encoder: one string and no other allocation
 * (a Buffer view of each input was ~5% of a sync's allocations). Keys are 32-39 bytes.
 */
const SCRATCH = Buffer.allocUnsafe(64)

/** Lower-case hex of `bytes`, without `0x`. */
export function toHex(bytes: Uint8Array): string {
  if (bytes.length >= 16 && bytes.length <= SCRATCH.length) {
    SCRATCH.set(bytes)
    return SCRATCH.toString('hex', 0, bytes.length)
  }
  // Node's native encoder over the same memory (no copy) beats building the string in JS
  if (bytes.length >= 16) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]]
  return s
}

/** Lower-case hex of the first `prefixLength` bytes of `prefix` then `bytes`, without `0x`: one string. */
export function toHexPrefixed(prefix: Uint8Array, prefixLength: number, bytes: Uint8Array): string {
  const n = prefixLength + bytes.length
  if (n > SCRATCH.length || prefix.length < prefixLength) return toHex(prefix.subarray(0, prefixLength)) + toHex(bytes)
  for (let i = 0; i < prefixLength; i++) SCRATCH[i] = prefix[i]
  SCRATCH.set(bytes, prefixLength)
  return SCRATCH.toString('hex', 0, n)
}

/** Lower-case hex of `bytes`, with `0x`. */
export function toHex0x(bytes: Uint8Array): string {
  return `0x${toHex(bytes)}`
}

/** Bytes of a hex string, with or without `0x`; throws on odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array {
  const body = hex.startsWith('0x') ? hex.slice(2) : hex
  if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body)) throw new Error(`bad hex: ${hex}`)
  const out = new Uint8Array(body.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(body.substr(2 * i, 2), 16)
  return out
}
