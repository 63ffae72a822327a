/**
 * A post-merge devnet in geth's genesis format, proof-of-stake from genesis with Prague, then Osaka
 * and the blob-parameter-only forks BPO1 and BPO2 by timestamp (EIP-7892), with a `blobSchedule`
 * as go-ethereum's devnets write it. The state is a generated devnet's alloc plus the four system
 * contracts Prague needs (EIP-4788 beacon roots, EIP-2935 history, EIP-7002 withdrawal and EIP-7251
 * consolidation requests), copied from go-ethereum's devp2p test chain.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import type { Devnet } from './genesis.js'

const ETHTEST_GENESIS = join(import.meta.dirname, '../../../shared/data/ethtest/genesis.json')
const SYSTEM_CONTRACTS = [
  '0x000f3df6d732807ef1319fb7b8bb8522d0beac02', // EIP-4788
  '0x0000f90827f1c53a10cb7a02335b175320002935', // EIP-2935
  '0x00000961ef480eb55e80d19ad83579a64c007002', // EIP-7002
  '0x0000bbddc7ce488642fb579f8b00f3a590007251', // EIP-7251
]

export interface ForkTimes {
  /** Genesis timestamp (seconds); Prague and everything before it are active from genesis */
  genesis: number
  osaka: number
  bpo1: number
  bpo2: number
}

/** A blob schedule entry as geth's genesis writes it */
export interface BlobSchedule {
  target: number
  max: number
  baseFeeUpdateFraction: number
}

/**
 * The blob schedule of the devnet. BPO1 and BPO2 lower the blob counts far below Common's built-in
 * values (10/15, 14/21), so that two blobs in a block move the excess blob gas: a node that ignored the
 * genesis would build and accept other headers.
 */
export const DEVNET_BLOB_SCHEDULE: { [fork: string]: BlobSchedule } = {
  cancun: { target: 3, max: 6, baseFeeUpdateFraction: 3338477 },
  prague: { target: 6, max: 9, baseFeeUpdateFraction: 5007716 },
  osaka: { target: 6, max: 9, baseFeeUpdateFraction: 5007716 },
  bpo1: { target: 1, max: 2, baseFeeUpdateFraction: 5007716 },
  bpo2: { target: 2, max: 3, baseFeeUpdateFraction: 5007716 },
}

/** `devnet` (a clique devnet from generateDevnet) made proof-of-stake from genesis with `times` */
export function postMergeDevnet(devnet: Devnet, times: ForkTimes): Devnet['genesis'] {
  const { clique: _clique, ...config } = devnet.genesis.config as { [key: string]: unknown }
  const ethtest = JSON.parse(readFileSync(ETHTEST_GENESIS, 'utf8')) as {
    alloc: { [address: string]: { code: string; balance: string } }
  }
  const alloc = { ...devnet.genesis.alloc }
  for (const address of SYSTEM_CONTRACTS) {
    const account = ethtest.alloc[address.slice(2)] ?? ethtest.alloc[address]
    if (account === undefined) throw new Error(`${ETHTEST_GENESIS} has no ${address}`)
    alloc[address] = { balance: account.balance, code: account.code }
  }
  return {
    ...devnet.genesis,
    config: {
      ...config,
      mergeNetsplitBlock: 0,
      terminalTotalDifficulty: 0,
      shanghaiTime: 0,
      cancunTime: 0,
      pragueTime: 0,
      osakaTime: times.osaka,
      bpo1Time: times.bpo1,
      bpo2Time: times.bpo2,
      depositContractAddress: '0x0000000000000000000000000000000000000000',
      blobSchedule: DEVNET_BLOB_SCHEDULE,
    },
    timestamp: `0x${times.genesis.toString(16)}`,
    extraData: '0x',
    difficulty: '0x0',
    alloc,
  }
}
