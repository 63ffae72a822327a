/**
 * What `@ethereumjs/*` 10.1.3 and the client (with our patches) do with Amsterdam (EIP-7928 block-level
 * access lists), measured on a small devnet in memory; the findings are in docs/forks.md § Amsterdam.
 *
 *   npx tsx scripts/amsterdam-probe.ts
 *
 * It prints one line per question and exits 0; it asserts nothing (a measurement, not a test).
 * 1. Does a geth genesis schedule Amsterdam (`amsterdamTime`)?
 * 2. Does the block builder produce a header with a `blockAccessListHash`, and is it the hash of the
 *    access list the execution recorded?
 * 3. Does execution, called as the client calls it (no access list passed), check the header's hash?
 * 4. Can a node that holds only the state of a pivot (what snap sync leaves) execute the next
 *    Amsterdam block?
 * 5. Which engine API methods does the client have for Amsterdam?
 */
import { createBlock } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet, createCommonFromGethGenesis } from '@ethereumjs/common'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import {
  Account,
  Address,
  bigIntToBytes,
  bytesToHex,
  createAddressFromPrivateKey,
  createAddressFromString,
  hexToBytes,
  setLengthLeft,
} from '@ethereumjs/util'
import { buildBlock, createVM, runBlock } from '@ethereumjs/vm'

import { LONDON_AT_GENESIS } from '../integration/harness/genesis.js'

import type { Block } from '@ethereumjs/block'
import type { VM } from '@ethereumjs/vm'

const KEY = hexToBytes(`0x${'42'.repeat(32)}`)
const SENDER = createAddressFromPrivateKey(KEY)
const GAS_LIMIT = 30_000_000n
/** EIP-4788's beacon roots contract */
const BEACON_ROOTS = 0x000f3df6d732807ef1319fb7b8bb8522d0beac02n

/** Whether two byte strings are present and equal */
const same = (x: Uint8Array | undefined, y: Uint8Array | undefined) =>
  x !== undefined && y !== undefined && bytesToHex(x) === bytesToHex(y)

function say(question: string, answer: string): void {
  console.log(`${question}\n  -> ${answer}`)
}

/** The system contracts a Prague/Amsterdam block calls; STOP as their code is enough for this probe */
const SYSTEM_CONTRACTS = [
  'historyStorageAddress',
  'withdrawalRequestPredeployAddress',
  'consolidationRequestPredeployAddress',
  'builderDepositContractAddress',
  'builderExitContractAddress',
]

/** A VM on an Amsterdam common whose state is the funded sender and the system contracts */
async function amsterdamVM(common: Common): Promise<VM> {
  const vm = await createVM({ common: common.copy() })
  await vm.stateManager.putAccount(SENDER, new Account(0n, 10n ** 21n))
  const addresses = SYSTEM_CONTRACTS.map((name) => vm.common.param(name)).concat([BEACON_ROOTS])
  for (const address of addresses) {
    const at = new Address(setLengthLeft(bigIntToBytes(address), 20))
    await vm.stateManager.putAccount(at, new Account(0n, 0n))
    await vm.stateManager.putCode(at, new Uint8Array([0x00]))
  }
  return vm
}

async function main(): Promise<void> {
  // 1. the geth genesis format
  const gethGenesis = {
    config: {
      chainId: 61234,
      ...LONDON_AT_GENESIS,
      mergeNetsplitBlock: 0,
      terminalTotalDifficulty: 0,
      shanghaiTime: 0,
      cancunTime: 0,
      pragueTime: 0,
      osakaTime: 0,
      amsterdamTime: 100,
    },
    timestamp: '0x0',
    gasLimit: '0x1c9c380',
    difficulty: '0x0',
    extraData: '0x',
    nonce: '0x0',
    mixHash: `0x${'00'.repeat(32)}`,
    coinbase: `0x${'00'.repeat(20)}`,
    alloc: {},
  }
  const fromGeth = createCommonFromGethGenesis(gethGenesis as never, { chain: 'probe' })
  fromGeth.setHardforkBy({ blockNumber: 1n, timestamp: 200n })
  const amsterdamRead = fromGeth.hardforks().some((h) => h.name === 'amsterdam' && h.timestamp != null)
  say(
    '1. A geth genesis with amsterdamTime=100: the fork at timestamp 200',
    `${fromGeth.hardfork()} (amsterdamTime is ${amsterdamRead ? 'read' : 'not read'}; ` +
      "Common's geth parser knows forks up to bpo5)",
  )

  // 2. build two Amsterdam blocks with a transfer each
  const common = new Common({ chain: Mainnet, hardfork: Hardfork.Amsterdam })
  const builder = await amsterdamVM(common)
  const genesis = createBlock({ header: { gasLimit: GAS_LIMIT, baseFeePerGas: 7n, timestamp: 0n } }, { common })
  const blocks: Block[] = []
  const pivotRoot: Uint8Array[] = [await builder.stateManager.getStateRoot()]
  let parent = genesis
  for (let n = 1; n <= 2; n++) {
    const b = await buildBlock(builder, {
      parentBlock: parent,
      headerData: {
        timestamp: BigInt(12 * n),
        gasLimit: GAS_LIMIT,
        slotNumber: BigInt(n),
        parentBeaconBlockRoot: new Uint8Array(32),
      },
      blockOpts: { putBlockIntoBlockchain: false },
    })
    const tx = createFeeMarket1559Tx(
      {
        nonce: BigInt(n - 1),
        maxFeePerGas: 10n ** 10n,
        maxPriorityFeePerGas: 1n,
        gasLimit: 21_000n,
        to: createAddressFromString(`0x${String(n).repeat(40)}`),
        value: 1000n,
      },
      { common },
    ).sign(KEY)
    await b.addTransaction(tx)
    const { block } = await b.build()
    const recorded = builder.evm.blockLevelAccessList?.hash()
    say(
      `2. Block ${n} built on an Amsterdam common: its blockAccessListHash`,
      `${bytesToHex(block.header.blockAccessListHash ?? new Uint8Array())}, ` +
        (same(recorded, block.header.blockAccessListHash)
          ? 'the hash of the access list execution recorded'
          : 'NOT it'),
    )
    blocks.push(block)
    pivotRoot.push(await builder.stateManager.getStateRoot())
    parent = block
  }

  // 3. execution as the client calls it: no access list passed
  const lying = createBlock(
    {
      header: { ...blocks[0].header.toJSON(), blockAccessListHash: `0x${'ab'.repeat(32)}` },
      transactions: blocks[0].transactions,
    },
    { common },
  )
  const run = async (block: Block, blockAccessList?: unknown) => {
    const vm = await amsterdamVM(common)
    try {
      await runBlock(vm, {
        block,
        root: pivotRoot[0],
        skipBlockValidation: true,
        skipHeaderValidation: true,
        ...(blockAccessList === undefined ? {} : { blockAccessList: blockAccessList as never }),
      })
      return 'accepted'
    } catch (err) {
      return `refused (${(err as Error).message.split('\n')[0].slice(0, 90)})`
    }
  }
  say('3a. Block 1 as built, executed as the client executes it', await run(blocks[0]))
  say('3b. Block 1 with a wrong blockAccessListHash, executed as the client executes it', await run(lying))
  const recordedOfBlock1 = await (async () => {
    const vm = await amsterdamVM(common)
    await runBlock(vm, { block: blocks[0], root: pivotRoot[0], skipBlockValidation: true, skipHeaderValidation: true })
    return vm.evm.blockLevelAccessList
  })()
  say('3c. The same wrong header, with the real access list passed in', await run(lying, recordedOfBlock1))

  // 4. a node with only the state of block 1 (a snap-synced pivot): no blocks, receipts or history
  const state = builder.stateManager.shallowCopy()
  await state.setStateRoot(pivotRoot[1])
  const synced = await createVM({ common: common.copy(), stateManager: state })
  const root = pivotRoot[1]
  try {
    const result = await runBlock(synced, {
      block: blocks[1],
      root,
      skipBlockValidation: true,
      skipHeaderValidation: true,
    })
    const bal = synced.evm.blockLevelAccessList?.hash()
    say(
      '4. Block 2 executed on the pivot state alone',
      `state root ${same(result.stateRoot, blocks[1].header.stateRoot) ? 'matches' : 'DIFFERS'}, ` +
        `access list hash ${same(bal, blocks[1].header.blockAccessListHash) ? 'matches the header' : 'differs'}`,
    )
  } catch (err) {
    say('4. Block 2 executed on the pivot state alone', `failed: ${(err as Error).message.split('\n')[0]}`)
  }

  // 5. the client's engine API
  const { Engine } = await import('../node_modules/@ethereumjs/client/dist/esm/src/rpc/modules/engine/engine.js')
  const methods = Object.getOwnPropertyNames(Engine.prototype).filter((m) => /V\d+$/.test(m))
  const highest = (prefix: string) =>
    methods
      .filter((m) => m.startsWith(prefix))
      .sort()
      .at(-1)
  say(
    '5. The engine API methods of the (patched) client',
    `newPayload up to ${highest('newPayload')}, getPayload up to ${highest('getPayload')}, ` +
      `forkchoiceUpdated up to ${highest('forkchoiceUpdated')}, ` +
      `getPayloadBodies* ${methods.filter((m) => m.startsWith('getPayloadBodies')).join('/')}; Amsterdam needs ` +
      'newPayloadV5 (with blockAccessList), getPayloadV6, forkchoiceUpdatedV4 (slotNumber), getPayloadBodies*V2',
  )
}

await main()
