/**
 * keccak256 for the hot paths of the trie layer.
 *
 * The client hashes with `@polkadot/wasm-crypto` unless started with `--useJsCrypto`; measured on this
 * machine kind it runs ~13x faster than `ethereum-cryptography`'s pure-JS keccak on 32-532 byte inputs,
 * and hashing is ~90% of a sorted-leaf build. The WASM module needs an async init, so callers run
 * `await initKeccak()` once at start; until then the pure-JS keccak is used (correct, only slower).
 */
import { isReady, keccak256 as wasmKeccak256, waitReady } from '@polkadot/wasm-crypto'
import { keccak256 as jsKeccak256 } from 'ethereum-cryptography/keccak.js'

/** A 32-byte hash function. */
export type HashFunction = (data: Uint8Array) => Uint8Array

// The one binding that `initKeccak` swaps: a capability chosen once at start, not a tunable
let impl: HashFunction = jsKeccak256

/** Loads the WASM keccak; resolves to true when the fast path is active. Idempotent. */
export async function initKeccak(): Promise<boolean> {
  if (impl === wasmKeccak256) return true
  const ready = isReady() || (await waitReady())
  if (ready) impl = wasmKeccak256
  return ready
}

/** keccak256 of `data` (WASM after `initKeccak()`, pure JS before). */
export function keccak256(data: Uint8Array): Uint8Array {
  return impl(data)
}
