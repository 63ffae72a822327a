/**
 * Hostile inputs shared by unit and integration tests.
 */

/** `[[[...[0x80]...]]]` nested `depth` deep as raw RLP, built without recursion (RLP.encode would overflow) */
export function nestedRlp(depth: number): Uint8Array {
  let inner = new Uint8Array([0x80])
  for (let i = 0; i < depth; i++) {
    const len = inner.length
    const lenBytes: number[] = []
    for (let l = len; l > 0; l = Math.floor(l / 256)) lenBytes.unshift(l & 0xff)
    const head = len <= 55 ? [0xc0 + len] : [0xf7 + lenBytes.length, ...lenBytes]
    const out = new Uint8Array(head.length + len)
    out.set(head)
    out.set(inner, head.length)
    inner = out
  }
  return inner
}

/** A flat RLP list of `items` one-byte strings: cheap to send, slow to decode (a few µs per item) */
export function wideRlp(items: number): Uint8Array {
  const lenBytes: number[] = []
  for (let l = items; l > 0; l = Math.floor(l / 256)) lenBytes.unshift(l & 0xff)
  const head = items <= 55 ? [0xc0 + items] : [0xf7 + lenBytes.length, ...lenBytes]
  const out = new Uint8Array(head.length + items).fill(0x01)
  out.set(head)
  return out
}
