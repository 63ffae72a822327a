/**
 * The chains of the full-versus-snap benchmark (chainsync.ts): one whose transactions create 100k
 * accounts, 2k contracts and 500k slots, and one twice as large in every part.
 */
import type { ChainSpec } from './chain.js'

/** Contract sizes: a few with 60k slots, many small ones (about 500k slots in 2,000 contracts) */
const CONTRACTS = [
  { count: 4, slots: 60_000 },
  { count: 40, slots: 2_500 },
  { count: 400, slots: 300 },
  { count: 1_556, slots: 26 },
]

/** The benchmark chain: see the module comment */
export const BENCH_CHAIN: ChainSpec = {
  newAccounts: 100_000,
  contracts: CONTRACTS,
  distinctCodes: 200,
  // Mainnet's long-run gas per block: the EIP-1559 target, half the 30M limit
  blockGas: 15_000_000,
  seed: 'bench-chain',
}

/** Twice the state of `BENCH_CHAIN`: twice the accounts, and twice the contracts of each size */
export const BENCH_CHAIN_2X: ChainSpec = {
  ...BENCH_CHAIN,
  newAccounts: 2 * BENCH_CHAIN.newAccounts,
  contracts: CONTRACTS.map((c) => ({ ...c, count: 2 * c.count })),
  distinctCodes: 2 * BENCH_CHAIN.distinctCodes,
  seed: 'bench-chain-2x',
}
