/**
 * The fork id (EIP-2124, timestamp forks per EIP-6122, BPO forks per EIP-7892) that the eth Status
 * carries, computed by `@ethereumjs/devp2p` from the Common of `@ethereumjs/common` 10.1.3, against
 * go-ethereum's `core/forkid/forkid_test.go` (TestCreation, from Prague on), and the check of a
 * go-ethereum peer's fork id on the same chain (TestValidation's rules for a remote that is level,
 * syncing or stale). For these chains Common carries each fork's hash in its chain config, so this
 * checks those hashes and the next-fork times it computes; the CRC32 itself is checked on a devnet in
 * test/client/blobschedule.spec.ts.
 */
import { strict as assert } from 'node:assert'

import { Common, Hoodi, Holesky, Mainnet, Sepolia } from '@ethereumjs/common'
import { bigIntToUnpaddedBytes, hexToBytes } from '@ethereumjs/util'

import { statusForkId } from '../helpers/statusforkid.js'

import type { ChainConfig } from '@ethereumjs/common'

/** [head block, head time, fork hash, next fork (0: none)], go-ethereum's TestCreation cases */
type Case = [number, number, string, number]

const CHAINS: { name: string; chain: ChainConfig; cases: Case[] }[] = [
  {
    name: 'mainnet',
    chain: Mainnet,
    cases: [
      [30000000, 1746612311, '0xc376cf8b', 1764798551], // First Prague block
      [30000000, 1764798550, '0xc376cf8b', 1764798551], // Last Prague block
      [30000000, 1764798551, '0x5167e2a6', 1765290071], // First Osaka block
      [30000000, 1765290070, '0x5167e2a6', 1765290071], // Last Osaka block
      [30000000, 1765290071, '0xcba2a1c0', 1767747671], // First BPO1 block
      [30000000, 1767747670, '0xcba2a1c0', 1767747671], // Last BPO1 block
      [30000000, 1767747671, '0x07c9462e', 0], // First BPO2 block
      [50000000, 2000000000, '0x07c9462e', 0], // Future BPO2 block
    ],
  },
  {
    name: 'sepolia',
    chain: Sepolia,
    cases: [
      [1735372, 1741159776, '0xed88b5fd', 1760427360],
      [1735372, 1760427359, '0xed88b5fd', 1760427360],
      [1735372, 1760427360, '0xe2ae4999', 1761017184],
      [1735372, 1761017183, '0xe2ae4999', 1761017184],
      [1735372, 1761017184, '0x56078a1e', 1761607008],
      [1735372, 1761607007, '0x56078a1e', 1761607008],
      [1735372, 1761607008, '0x268956b6', 0],
      [1735372, 2000000000, '0x268956b6', 0],
    ],
  },
  {
    name: 'holesky',
    chain: Holesky,
    cases: [
      [123, 1740434112, '0xdfbd9bed', 1759308480],
      [123, 1759308479, '0xdfbd9bed', 1759308480],
      [123, 1759308480, '0x783def52', 1759800000],
      [123, 1759799999, '0x783def52', 1759800000],
      [123, 1759800000, '0xa280a45c', 1760389824],
      [123, 1760389823, '0xa280a45c', 1760389824],
      [123, 1760389824, '0x9bc6cb31', 0],
      [123, 2000000000, '0x9bc6cb31', 0],
    ],
  },
  {
    name: 'hoodi',
    chain: Hoodi,
    cases: [
      [123, 1742999832, '0x0929e24e', 1761677592],
      [123, 1761677591, '0x0929e24e', 1761677592],
      [123, 1761677592, '0xe7e0e7ff', 1762365720],
      [123, 1762365719, '0xe7e0e7ff', 1762365720],
      [123, 1762365720, '0x3893353e', 1762955544],
      [123, 1762955543, '0x3893353e', 1762955544],
      [123, 1762955544, '0x23aa1351', 0],
      [123, 2000000000, '0x23aa1351', 0],
    ],
  },
]

/** An eth/68 endpoint whose Common is at `head`/`time`, as the client sets it from its chain head */
function endpoint(chain: ChainConfig, head: number, time: number) {
  const common = new Common({ chain })
  common.setHardforkBy({ blockNumber: BigInt(head), timestamp: BigInt(time) })
  return { common, ...statusForkId(common, hexToBytes(`0x${'11'.repeat(32)}`), head) }
}

/** Runs the Status check of `local` on a remote fork id; the error message, or undefined if accepted */
function check(local: ReturnType<typeof endpoint>, hash: string, next: number): string | undefined {
  try {
    ;(local.eth as unknown as { _validateForkId(id: Uint8Array[]): void })._validateForkId([
      hexToBytes(hash as `0x${string}`),
      bigIntToUnpaddedBytes(BigInt(next)),
    ])
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

describe('[fork id] EIP-2124/6122 across Prague, Osaka, BPO1 and BPO2 (go-ethereum forkid_test.go)', () => {
  for (const { name, chain, cases } of CHAINS) {
    it(`${name}: the Status's fork id equals go-ethereum's at every transition`, () => {
      for (const [head, time, hash, next] of cases) {
        const got = endpoint(chain, head, time)
        assert.deepEqual(
          [got.hash, got.next],
          [hash, next],
          `${name} head=${head} time=${time} (${got.common.hardfork()})`,
        )
      }
    })

    it(`${name}: a go-ethereum peer's fork id is accepted when level or syncing, refused when stale`, () => {
      for (const [i, [head, time]] of cases.entries()) {
        const local = endpoint(chain, head, time)
        // level: the remote is at the same fork
        assert.equal(check(local, cases[i][2], cases[i][3]), undefined, `${name} level at ${time}`)
        // syncing: the remote is at an earlier fork and names the next one this chain has
        for (const [, , hash, next] of cases.slice(0, i)) {
          if (hash !== cases[i][2])
            assert.equal(check(local, hash, next), undefined, `${name} remote ${hash} at ${time}`)
        }
      }
      // stale: the remote is at Prague and knows no Osaka, while this node is past it
      const [head, time] = cases[cases.length - 1]
      assert.match(check(endpoint(chain, head, time), cases[0][2], 0) ?? '', /Outdated fork status/)
      // a fork hash of another chain
      assert.match(check(endpoint(chain, head, time), '0xdeadbeef', 0) ?? '', /Unknown fork hash/)
    })
  }
})
