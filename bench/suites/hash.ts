/**
 * keccak256 throughput: the client's WASM keccak against the pure-JS one, on the input sizes
 * snap sync hashes most (32 B keys, ~110 B leaf nodes, 532 B full branch nodes).
 */
import { getCryptoFunctions } from '@ethereumjs/client/dist/esm/bin/utils.js'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

type Hash = (data: Uint8Array) => Uint8Array

function hashesPerSec(hash: Hash, size: number, seconds = 1): number {
  const input = new Uint8Array(size).map((_, i) => i & 0xff)
  let count = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) hash(input)
    count += 1000
  }
  return Math.round(count / ((performance.now() - start) / 1000))
}

export async function hashSuite(): Promise<{ [name: string]: number }> {
  const { keccak256: wasmKeccak } = await getCryptoFunctions(false)
  const figures: { [name: string]: number } = {}
  for (const size of [32, 110, 532]) {
    const wasm = hashesPerSec(wasmKeccak as Hash, size)
    const js = hashesPerSec(keccak256, size)
    figures[`keccakWasm${size}PerSec`] = wasm
    figures[`keccakJs${size}PerSec`] = js
    figures[`keccakWasmOverJs${size}`] = wasm / js
  }
  return figures
}
