/**
 * Stock bug 1 (DESIGN.md), fixed in the patches: the clique miner sealed no transaction, and a clique
 * node could not run contract code. The block builder ran each transaction in an unsealed block (whose
 * header a clique chain refuses: "extraData must be 97 bytes"), and the client built its EVM without
 * the `cliqueSigner` a clique EVM needs ("Must include cliqueSigner function").
 */
import { strict as assert } from 'node:assert'

import { cliqueVerifySignature } from '@ethereumjs/block'
import { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { VMExecution } from '@ethereumjs/client/dist/esm/src/execution/vmexecution.js'
import { createCommonFromGethGenesis } from '@ethereumjs/common'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bytesToHex, createAddressFromPrivateKey, createAddressFromString, hexToBytes } from '@ethereumjs/util'
import { buildBlock, runBlock } from '@ethereumjs/vm'
import { MemoryLevel } from 'memory-level'

import { LONDON_AT_GENESIS } from '../../integration/harness/genesis.js'

import type { GethGenesis } from '@ethereumjs/common'

const SIGNER_KEY = hexToBytes(`0x${'11'.repeat(32)}`)
const SIGNER = createAddressFromPrivateKey(SIGNER_KEY)
// Runtime code: SSTORE(0, CALLER), STOP. CALLER, so that a run that did not happen leaves slot 0 empty
const CONTRACT = '0x1000000000000000000000000000000000000001'
const WRITER_CODE = '0x33600055' + '00'

function cliqueCommon() {
  const genesis = {
    config: {
      chainId: 61_999,
      ...LONDON_AT_GENESIS,
      clique: { period: 1, epoch: 30000 },
    },
    nonce: '0x0',
    timestamp: '0x0',
    gasLimit: '0x1c9c380',
    difficulty: '0x1',
    baseFeePerGas: '0x7',
    mixHash: `0x${'00'.repeat(32)}`,
    coinbase: `0x${'00'.repeat(20)}`,
    extraData: `0x${'00'.repeat(32)}${SIGNER.toString().slice(2)}${'00'.repeat(65)}`,
    alloc: {
      [SIGNER.toString()]: { balance: `0x${(10n ** 21n).toString(16)}` },
      [CONTRACT]: { balance: '0x0', code: WRITER_CODE },
    },
  }
  const common = createCommonFromGethGenesis(genesis as unknown as GethGenesis, { chain: 'clique-test' })
  const state = {
    [SIGNER.toString()]: [genesis.alloc[SIGNER.toString()].balance, '0x', [], '0x0'],
    [CONTRACT]: ['0x0', WRITER_CODE, [], '0x0'],
  }
  return { common, state }
}

/** A call of the writer contract with a tip (the tip goes to the signer recovered from the seal) */
function callWriter(common: ReturnType<typeof cliqueCommon>['common'], nonce: bigint) {
  return createFeeMarket1559Tx(
    {
      nonce,
      maxFeePerGas: 10n ** 10n,
      maxPriorityFeePerGas: 10n ** 9n,
      gasLimit: 100_000n,
      to: createAddressFromString(CONTRACT),
    },
    { common: common as never },
  ).sign(SIGNER_KEY)
}

describe('[clique] transactions in sealed blocks (stock bug 1)', () => {
  it("the client's VM runs contract code on a clique chain, and the miner's builder seals it", async () => {
    const { common, state } = cliqueCommon()
    const config = new Config({ common, accountCache: 1000, storageCache: 1000 })
    const chain = await Chain.create({ config, genesisState: state as never })
    const execution = new VMExecution({
      config,
      chain,
      stateDB: new MemoryLevel() as never,
      metaDB: new MemoryLevel() as never,
    })
    await chain.open()
    await execution.open()

    // The miner's path (miner.ts): a copy of the client's VM on the parent state, the builder with the signer key
    const parent = chain.genesis
    const vm = await execution.vm.shallowCopy()
    await vm.stateManager.setStateRoot(parent.header.stateRoot)
    const builder = await buildBlock(vm, {
      parentBlock: parent,
      headerData: { number: 1n, difficulty: 2n, timestamp: parent.header.timestamp + 1n },
      blockOpts: { cliqueSigner: SIGNER_KEY, setHardfork: true, putBlockIntoBlockchain: false },
    })
    const result = await builder.addTransaction(callWriter(common, 0n))
    assert.equal(result.execResult.exceptionError, undefined, 'the contract ran')
    const { block } = await builder.build()
    assert.equal(block.transactions.length, 1)
    assert.ok(cliqueVerifySignature(block.header, [SIGNER]), 'sealed by the signer')

    // Another node runs the sealed block from the parent state and gets the block's state root
    const fresh = await execution.vm.shallowCopy()
    await fresh.stateManager.setStateRoot(parent.header.stateRoot)
    const run = await runBlock(fresh, { block, skipBlockValidation: true, skipHeaderValidation: true })
    assert.deepEqual(bytesToHex(run.stateRoot), bytesToHex(block.header.stateRoot))
    assert.equal(
      bytesToHex(await fresh.stateManager.getStorage(createAddressFromString(CONTRACT), new Uint8Array(32))),
      SIGNER.toString(),
    )
    await chain.close()
  })
})
