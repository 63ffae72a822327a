/**
 * A devnet genesis in geth's format with Osaka and the blob-parameter-only forks (EIP-7892) and a
 * `blobSchedule` for each, through `@ethereumjs/common` 10.1.3 as the client reads it
 * (`createCommonFromGethGenesis`, patched: patches/@ethereumjs+common+10.1.3.patch):
 * - the blob gas schedule of each fork is the genesis's, not Common's built-in BPO values. Unpatched,
 *   any `blobSchedule.bpo1` made `getBlobGasSchedule()` throw "Missing parameter value for target"
 *   from BPO1 on, so the client could not build or check a BPO block of a devnet;
 * - the eth Status's fork id at each fork is EIP-2124's CRC32 over the genesis hash and every fork
 *   time passed, computed here independently of Common.
 */
import { strict as assert } from 'node:assert'
import { crc32 } from 'node:zlib'

import { paramsBlock } from '@ethereumjs/block'
import { createCommonFromGethGenesis } from '@ethereumjs/common'
import { concatBytes, hexToBytes, intToBytes, setLengthLeft } from '@ethereumjs/util'

import { LONDON_AT_GENESIS } from '../../integration/harness/genesis.js'
import { statusForkId } from '../helpers/statusforkid.js'

import type { GethGenesis } from '@ethereumjs/common'

const GENESIS_HASH = hexToBytes(`0x${'5a'.repeat(32)}`)
const TIMES = { osaka: 1_000, bpo1: 2_000, bpo2: 3_000 }
const SCHEDULE = {
  cancun: { target: 3, max: 6, baseFeeUpdateFraction: 3338477 },
  prague: { target: 6, max: 9, baseFeeUpdateFraction: 5007716 },
  osaka: { target: 6, max: 9, baseFeeUpdateFraction: 5007716 },
  bpo1: { target: 9, max: 12, baseFeeUpdateFraction: 5007716 },
  bpo2: { target: 12, max: 16, baseFeeUpdateFraction: 6000000 },
}
const BLOB_GAS = 131072n

function devnetCommon(blobSchedule: object = SCHEDULE, forks: object = {}) {
  const genesis = {
    config: {
      chainId: 61234,
      ...LONDON_AT_GENESIS,
      mergeNetsplitBlock: 0,
      terminalTotalDifficulty: 0,
      shanghaiTime: 0,
      cancunTime: 0,
      pragueTime: 0,
      osakaTime: TIMES.osaka,
      bpo1Time: TIMES.bpo1,
      bpo2Time: TIMES.bpo2,
      depositContractAddress: `0x${'00'.repeat(20)}`,
      blobSchedule,
      ...forks,
    },
    nonce: '0x0',
    timestamp: '0x0',
    extraData: '0x',
    gasLimit: '0x1c9c380',
    difficulty: '0x0',
    mixHash: `0x${'00'.repeat(32)}`,
    coinbase: `0x${'00'.repeat(20)}`,
    alloc: {},
  }
  const common = createCommonFromGethGenesis(genesis as unknown as GethGenesis, {
    chain: 'devnet',
    genesisHash: GENESIS_HASH,
  })
  // the block library's parameters (blobGasPerBlob and others), as every block the client makes adds them
  common.updateParams(paramsBlock)
  return common
}

/** EIP-2124: CRC32 of the genesis hash, then of each fork time passed as a big-endian uint64 */
function forkHash(passed: number[]): string {
  const bytes = concatBytes(GENESIS_HASH, ...passed.map((t) => setLengthLeft(intToBytes(t), 8)))
  return `0x${crc32(bytes).toString(16).padStart(8, '0')}`
}

describe('[common 10.1.3] a geth genesis with a blobSchedule for Osaka, BPO1 and BPO2', () => {
  it("each fork's blob gas schedule is the genesis's (BPO1 9/12, BPO2 12/16), not the built-in one", () => {
    const common = devnetCommon()
    const expected: [number, string, number, number, number][] = [
      [0, 'prague', 6, 9, 5007716],
      [TIMES.osaka, 'osaka', 6, 9, 5007716],
      [TIMES.bpo1, 'bpo1', 9, 12, 5007716],
      [TIMES.bpo2 - 1, 'bpo1', 9, 12, 5007716],
      [TIMES.bpo2, 'bpo2', 12, 16, 6000000],
    ]
    for (const [timestamp, fork, target, max, fraction] of expected) {
      common.setHardforkBy({ blockNumber: 1n, timestamp })
      assert.equal(common.hardfork(), fork)
      assert.deepEqual(
        common.getBlobGasSchedule(),
        {
          targetBlobGasPerBlock: BigInt(target) * BLOB_GAS,
          maxBlobGasPerBlock: BigInt(max) * BLOB_GAS,
          blobGasPriceUpdateFraction: BigInt(fraction),
        },
        `${fork} at ${timestamp}`,
      )
      // the client's block builder and transaction pool read the maximum as a parameter
      assert.equal(common.param('maxBlobGasPerBlock'), BigInt(max) * BLOB_GAS, fork)
    }
  })

  it('without a BPO entry in the blobSchedule, the BPO forks keep the built-in values (10/15, 14/21)', () => {
    const { bpo1: _1, bpo2: _2, ...rest } = SCHEDULE
    const common = devnetCommon(rest)
    for (const [timestamp, target, max] of [
      [TIMES.bpo1, 10, 15],
      [TIMES.bpo2, 14, 21],
    ]) {
      common.setHardforkBy({ blockNumber: 1n, timestamp })
      const schedule = common.getBlobGasSchedule()
      assert.deepEqual(
        [schedule.targetBlobGasPerBlock, schedule.maxBlobGasPerBlock],
        [BigInt(target) * BLOB_GAS, BigInt(max) * BLOB_GAS],
      )
    }
  })

  it("the eth Status's fork id at each fork is EIP-2124's, BPO forks included", () => {
    const cases: [number, number[], number][] = [
      [0, [], TIMES.osaka],
      [TIMES.osaka - 1, [], TIMES.osaka],
      [TIMES.osaka, [TIMES.osaka], TIMES.bpo1],
      [TIMES.bpo1, [TIMES.osaka, TIMES.bpo1], TIMES.bpo2],
      [TIMES.bpo2, [TIMES.osaka, TIMES.bpo1, TIMES.bpo2], 0],
    ]
    for (const [timestamp, passed, next] of cases) {
      const common = devnetCommon()
      common.setHardforkBy({ blockNumber: 1n, timestamp })
      const got = statusForkId(common, GENESIS_HASH)
      assert.deepEqual([got.hash, got.next], [forkHash(passed), next], `at ${timestamp}`)
    }
  })

  it('BPO3–BPO5, which Common names but does not define, are defined by their blobSchedule entry', () => {
    const bpo3 = { target: 15, max: 20, baseFeeUpdateFraction: 7000000 }
    const common = devnetCommon({ ...SCHEDULE, bpo3 }, { bpo3Time: 4_000 })
    common.setHardforkBy({ blockNumber: 1n, timestamp: 4_000 })
    assert.equal(common.hardfork(), 'bpo3')
    assert.equal(common.getBlobGasSchedule().maxBlobGasPerBlock, 20n * BLOB_GAS)
    assert.equal(common.forkHash('bpo3'), forkHash([TIMES.osaka, TIMES.bpo1, TIMES.bpo2, 4_000]))
    // a scheduled BPO fork without an entry: a clear error at start, not a failure deep in Common
    assert.throws(() => devnetCommon(SCHEDULE, { bpo4Time: 5_000 }), /bpo4Time is set but bpo4 has no parameters/)
  })
})
