/**
 * The 2^256 key space of the account and storage tries as bigint ranges: splitting it into chunks
 * that are downloaded concurrently, and stepping past a received key. geth's `range.go` does the same.
 */
import { bigIntToBytes, bytesToBigInt, setLengthLeft } from '@ethereumjs/util'

/** The largest 32-byte key */
export const MAX_HASH = (1n << 256n) - 1n

/** A key as 32 big-endian bytes */
export function hashBytes(n: bigint): Uint8Array {
  return setLengthLeft(bigIntToBytes(n), 32)
}

/** A 32-byte key as a bigint */
export function hashNumber(bytes: Uint8Array): bigint {
  return bytesToBigInt(bytes)
}

/** An inclusive key range [first, last] */
export interface HashRange {
  readonly first: bigint
  readonly last: bigint
}

/**
 * Splits [first, last] into `parts` contiguous ranges of equal width (the last takes the rest).
 * Fewer parts when the range is narrower than `parts` keys.
 */
export function splitRange(first: bigint, last: bigint, parts: number): HashRange[] {
  const width = last - first + 1n
  const n = BigInt(Math.max(1, Math.min(parts, Number(width < 1_000_000n ? width : 1_000_000n))))
  const step = width / n
  const out: HashRange[] = []
  for (let i = 0n; i < n; i++) {
    const start = first + i * step
    out.push({ first: start, last: i === n - 1n ? last : start + step - 1n })
  }
  return out
}

/** How much of [first, last] lies at or before `key`, as a fraction 0..1 */
export function fractionDone(range: HashRange, next: bigint): number {
  const width = range.last - range.first + 1n
  const done = next - range.first
  if (done <= 0n) return 0
  if (done >= width) return 1
  // 53 bits of precision are plenty for a percentage
  return Number((done << 20n) / width) / 2 ** 20
}
