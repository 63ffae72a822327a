/**
 * Generates a clique (PoA) devnet in geth's genesis format: a signer, and an `alloc` with a chosen
 * number of plain accounts, contracts (each with its own code) and storage slots, and optionally a
 * few large contracts (thousands of slots each). Deterministic for a seed, so a failing test can be
 * reproduced.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { bytesToHex, bytesToUnprefixedHex, concatBytes, intToBytes, privateToAddress } from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

export interface DevnetSpec {
  /** Accounts with a balance and nothing else */
  accounts: number
  /** Accounts with code (distinct per contract) */
  contracts: number
  /** Storage slots per contract */
  slotsPerContract: number
  /**
   * Slot counts of further contracts, one contract each (storage tries that a snap syncer must
   * split into several ranges when over a few thousand slots)
   */
  largeContracts?: number[]
  /** Seconds between blocks */
  period?: number
  seed?: string
}

export interface GenesisAccount {
  balance: string
  code?: string
  storage?: { [slot: string]: string }
}

export interface Devnet {
  /** The seed every address, slot and value was derived from */
  seed: string
  genesis: { [key: string]: unknown; alloc: { [address: string]: GenesisAccount } }
  /** Signer private key, hex without 0x (the client's `--unlock` file format) */
  signerKey: string
  signerAddress: string
  /** Addresses by kind, in generation order */
  accounts: string[]
  contracts: string[]
  /** The `largeContracts`, in the order of their slot counts */
  largeContracts: string[]
}

export const DEVNET_CHAIN_ID = 61_234

/** The block-numbered forks of a geth genesis config, every one from Homestead to London at block 0 */
export const LONDON_AT_GENESIS = {
  homesteadBlock: 0,
  eip150Block: 0,
  eip155Block: 0,
  eip158Block: 0,
  byzantiumBlock: 0,
  constantinopleBlock: 0,
  petersburgBlock: 0,
  istanbulBlock: 0,
  berlinBlock: 0,
  londonBlock: 0,
}

/** 32 deterministic bytes for a seed, a label and an index */
export function derive(seed: string, label: string, index: number): Uint8Array {
  return keccak256(concatBytes(new TextEncoder().encode(`${seed}/${label}/`), intToBytes(index)))
}

function word(bytes: Uint8Array): string {
  return bytesToHex(bytes)
}

/** Runtime code unique to a contract: PUSH32 <tag> POP, then SLOAD/return of slot 0 */
function contractCode(tag: Uint8Array): string {
  // 7f<32 bytes> PUSH32, 50 POP, 6000 PUSH1 0, 54 SLOAD, 6000 PUSH1 0, 52 MSTORE, 6020 6000 f3 RETURN
  return `0x7f${bytesToUnprefixedHex(tag)}5060005460005260206000f3`
}

/** `slots` storage slots (slot 0 and derived ones) with derived values */
function storage(seed: string, label: string, slots: number): { [slot: string]: string } {
  const result: { [slot: string]: string } = {}
  for (let s = 0; s < slots; s++) {
    const slot = s === 0 ? new Uint8Array(32) : derive(seed, `slot${label}`, s)
    result[word(slot)] = word(derive(seed, `value${label}`, s))
  }
  return result
}

export function generateDevnet(spec: DevnetSpec): Devnet {
  const seed = spec.seed ?? 'ethereumjs-snap'
  const signerKeyBytes = derive(seed, 'signer', 0)
  const signerAddress = bytesToHex(privateToAddress(signerKeyBytes))
  const alloc: Devnet['genesis']['alloc'] = {
    [signerAddress]: { balance: `0x${(10n ** 24n).toString(16)}` },
  }
  const accounts: string[] = []
  const contracts: string[] = []
  for (let i = 0; i < spec.accounts; i++) {
    const address = bytesToHex(derive(seed, 'account', i).subarray(12))
    alloc[address] = { balance: `0x${(BigInt(i + 1) * 10n ** 15n).toString(16)}` }
    accounts.push(address)
  }
  for (let i = 0; i < spec.contracts; i++) {
    const address = bytesToHex(derive(seed, 'contract', i).subarray(12))
    alloc[address] = {
      balance: '0x1',
      code: contractCode(derive(seed, 'code', i)),
      storage: storage(seed, `${i}`, spec.slotsPerContract),
    }
    contracts.push(address)
  }
  const largeContracts: string[] = []
  for (const [i, slots] of (spec.largeContracts ?? []).entries()) {
    const address = bytesToHex(derive(seed, 'large', i).subarray(12))
    alloc[address] = {
      balance: '0x2',
      code: contractCode(derive(seed, 'largeCode', i)),
      storage: storage(seed, `large${i}`, slots),
    }
    largeContracts.push(address)
  }
  const signer = signerAddress.slice(2)
  const genesis = {
    config: {
      chainId: DEVNET_CHAIN_ID,
      ...LONDON_AT_GENESIS,
      clique: { period: spec.period ?? 1, epoch: 30000 },
    },
    nonce: '0x0',
    timestamp: '0x0',
    // clique: 32 bytes vanity, the signers, 65 bytes for the (absent) seal
    extraData: `0x${'00'.repeat(32)}${signer}${'00'.repeat(65)}`,
    gasLimit: '0x1c9c380',
    difficulty: '0x1',
    mixHash: `0x${'00'.repeat(32)}`,
    coinbase: `0x${'00'.repeat(20)}`,
    baseFeePerGas: '0x7',
    alloc,
  }
  return {
    seed,
    genesis,
    signerKey: bytesToUnprefixedHex(signerKeyBytes),
    signerAddress,
    accounts,
    contracts,
    largeContracts,
  }
}

/** Where a devnet was written: the `--gethGenesis` file and the signer's `--unlock` key file */
export interface DevnetFiles {
  genesisFile: string
  keyFile: string
}

/** Writes `<name>.json` and `<name>.key` into dir; returns their paths */
export function writeDevnet(devnet: Devnet, dir: string, name = 'devnet'): DevnetFiles {
  const genesisFile = join(dir, `${name}.json`)
  const keyFile = join(dir, `${name}.key`)
  writeFileSync(genesisFile, JSON.stringify(devnet.genesis))
  writeFileSync(keyFile, devnet.signerKey)
  return { genesisFile, keyFile }
}
