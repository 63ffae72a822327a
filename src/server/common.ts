/**
 * Small helpers shared by the serving functions.
 */
import { bytesToUnprefixedHex } from '@ethereumjs/util'

/** True when every byte is zero (the all-zero origin asks for a trie from its start) */
export function isZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false
  return true
}

/** The request's soft byte limit, bounded by our own maximum (snap.md: "soft limit") */
export function softLimit(requested: bigint, max: number): number {
  return requested > BigInt(max) ? max : Number(requested)
}

/** Concatenates proofs, each node once (the origin and last-key paths share their top) */
export function mergeProofs(...proofs: Uint8Array[][]): Uint8Array[] {
  const seen = new Set<string>()
  const out: Uint8Array[] = []
  for (const proof of proofs) {
    for (const node of proof) {
      const key = bytesToUnprefixedHex(node)
      if (seen.has(key)) continue
      seen.add(key)
      out.push(node)
    }
  }
  return out
}
