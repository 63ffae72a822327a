/**
 * Fast hex encoding for DB keys. The client's trie DB keys are unprefixed lower-case hex strings
 * (`CheckpointDB` runs `bytesToUnprefixedHex` on every key), and the builder makes one per node.
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Lower-case hex of `bytes`, without `0x`. */
export function toHex(bytes: Uint8Array): string {
  // Node's native encoder over the same memory (no copy) beats building the string in JS
  if (bytes.length >= 16) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]]
  return s
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
