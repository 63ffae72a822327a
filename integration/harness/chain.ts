/**
 * Blocks with transactions, built and sealed offline on a devnet and loaded into the source node
 * with `--loadBlocksFromRlp`: a state that exists only after genesis (new accounts and changed
 * balances), ready when the source starts. Offline because it is fast: a thousand transfers sealed
 * in seconds, where the miner would take a block per second. Transactions sent while the source
 * mines (txload.ts) need the patched client (stock bug 1, DESIGN.md: its miner sealed none).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { cliqueSigner, createBlock, createSealedCliqueBlock, genTransactionsTrieRoot } from '@ethereumjs/block'
import { createBlockchain } from '@ethereumjs/blockchain'
import { LevelDB } from '@ethereumjs/client/dist/esm/src/execution/level.js'
import { createCommonFromGethGenesis } from '@ethereumjs/common'
import { createMPT } from '@ethereumjs/mpt'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { ValueEncoding, bytesToHex, concatBytes, hexToBytes } from '@ethereumjs/util'
import { createVM, runBlock } from '@ethereumjs/vm'

import { keccak256 } from '../../src/trie/keccak.js'

import { derive } from './genesis.js'
import { buildAllocState, countState } from './state.js'

import type { Devnet } from './genesis.js'
import type { Block } from '@ethereumjs/block'
import type { Common, GethGenesis } from '@ethereumjs/common'
import type { FeeMarket1559Tx } from '@ethereumjs/tx'
import type { VM } from '@ethereumjs/vm'
import type { StateLevel } from './state.js'
import type { WalkStats } from '../../src/trie/walker.js'

/** What the blocks do: transfers from the signer */
export interface ChainPlan {
  /** Accounts that did not exist at genesis, each paid a distinct amount */
  newAccounts: number
  /** Plain genesis accounts paid too (their balance changes), spread over the devnet's accounts */
  touchedAccounts: number
  /** Transfers per block (at most 1,400 fit in the devnet's 30M gas); default 500 */
  txsPerBlock?: number
}

/** A block of the built chain */
export interface ChainBlock {
  number: bigint
  hash: string
  stateRoot: string
  txs: number
  /** Accounts in the state after this block */
  accounts: number
}

/** The built chain and what its head state holds */
export interface BuiltChain {
  /** The blocks' RLP, one after another (`--loadBlocksFromRlp`) */
  rlpFile: string
  genesisHash: string
  /** Blocks 1 … head */
  blocks: ChainBlock[]
  head: ChainBlock
  newAccounts: string[]
  touchedAccounts: string[]
  /** What the head state holds, counted as `verify-state` counts */
  counts: WalkStats
  /** Accounts in the state of block `number` (blocks after the chain's change nothing) */
  accountsAt(number: bigint): number
}

const TRANSFER_GAS = 21_000n
// No tip: on clique the tip goes to the signer recovered from the seal, which a block being built
// does not have yet (the builder would pay the zero address and compute another state root)
const MAX_FEE = 10n ** 9n

/**
 * Seals one block on `parent` per group of transactions: each block is run once with `generate`
 * (the VM's block builder re-creates the block for every transaction it adds, quadratic in the
 * transactions), then sealed with the fields the run produced. `sealed` hears each block.
 */
export async function sealBlocks(
  vm: VM,
  parent: Block,
  groups: FeeMarket1559Tx[][],
  signerKey: Uint8Array,
  period: bigint,
  sealed: (block: Block) => void = () => {},
): Promise<Block[]> {
  const common = vm.common
  const blocks: Block[] = []
  for (const transactions of groups) {
    const header = {
      parentHash: parent.hash(),
      number: parent.header.number + 1n,
      timestamp: parent.header.timestamp + period,
      gasLimit: parent.header.gasLimit,
      baseFeePerGas: parent.header.calcNextBaseFee(),
      // clique: one signer, always in turn; 32 bytes vanity + 65 bytes seal (filled when sealed)
      difficulty: 2n,
      extraData: new Uint8Array(97),
      transactionsTrie: await genTransactionsTrieRoot(transactions),
    }
    const unsealed = createBlock({ header, transactions }, { common, skipConsensusFormatValidation: true })
    const run = await runBlock(vm, {
      block: unsealed,
      generate: true,
      skipBlockValidation: true,
      skipHeaderValidation: true,
    })
    const generated = {
      stateRoot: run.stateRoot,
      receiptTrie: run.receiptsRoot,
      logsBloom: run.logsBloom,
      gasUsed: run.gasUsed,
    }
    const block = createSealedCliqueBlock({ header: { ...header, ...generated }, transactions }, signerKey, { common })
    blocks.push(block)
    sealed(block)
    parent = block
  }
  return blocks
}

/** A VM on the devnet's genesis state (in memory unless `into` is given), to build blocks on, and that state's DB */
export async function createChainVM(
  devnet: Devnet,
  into?: StateLevel,
): Promise<{ vm: VM; genesis: Block; level: StateLevel; common: Common; signerKey: Uint8Array; period: bigint }> {
  const { level, root } = await buildAllocState(devnet.genesis.alloc, into)
  const common = createCommonFromGethGenesis(devnet.genesis as unknown as GethGenesis, {
    chain: 'devnet',
    customCrypto: { keccak256 },
  })
  const blockchain = await createBlockchain({
    common,
    genesisStateRoot: root,
    validateBlocks: false,
    validateConsensus: false,
  })
  const trie = await createMPT({
    db: new LevelDB(level as never),
    useKeyHashing: true,
    common,
    valueEncoding: ValueEncoding.Bytes,
    root,
  })
  // The EVM asks clique chains for this before it runs any code (COINBASE is the block's signer)
  // (typed for a full header, which the EVM's narrower header type is at run time)
  const evmOpts = { cliqueSigner: cliqueSigner as never }
  const vm = await createVM({
    common,
    blockchain,
    evmOpts,
    stateManager: new MerkleStateManager({ trie, common, prefixStorageTrieKeys: true }),
  })
  const signerKey = hexToBytes(`0x${devnet.signerKey}`)
  const period = BigInt((devnet.genesis.config as { clique: { period: number } }).clique.period)
  return { vm, genesis: blockchain.genesisBlock, level, common, signerKey, period }
}

/** Transactions in groups of `size` */
export function chunk<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))
}

/**
 * Builds and seals the blocks of `plan` on the devnet's genesis as its clique signer, and writes
 * them to `<dir>/chain.rlp`. Deterministic for a devnet and a plan.
 */
export async function buildChain(devnet: Devnet, plan: ChainPlan, dir: string): Promise<BuiltChain> {
  const { vm, genesis, level, common, signerKey, period } = await createChainVM(devnet)
  const newAccounts = Array.from({ length: plan.newAccounts }, (_, i) =>
    bytesToHex(derive(devnet.seed, 'chainAccount', i).subarray(12)),
  )
  const touchedAccounts = Array.from(
    { length: plan.touchedAccounts },
    (_, i) => devnet.accounts[Math.floor((i * devnet.accounts.length) / plan.touchedAccounts)],
  )
  const txs = [...newAccounts, ...touchedAccounts].map((to, i) =>
    createFeeMarket1559Tx(
      {
        nonce: BigInt(i),
        maxFeePerGas: MAX_FEE,
        maxPriorityFeePerGas: 0n,
        gasLimit: TRANSFER_GAS,
        to: to as `0x${string}`,
        value: BigInt(i + 1) * 10n ** 12n,
      },
      { common },
    ).sign(signerKey),
  )
  const sealed = await sealBlocks(vm, genesis, chunk(txs, plan.txsPerBlock ?? 500), signerKey, period)

  const rlpFile = join(dir, 'chain.rlp')
  writeFileSync(rlpFile, concatBytes(...sealed.map((b) => b.serialize())))
  // The first `newAccounts` transfers each create an account, the others pay existing ones
  const genesisAccounts = Object.keys(devnet.genesis.alloc).length
  let sent = 0
  const blocks = sealed.map((b) => {
    sent += b.transactions.length
    const accounts = genesisAccounts + Math.min(sent, plan.newAccounts)
    return {
      number: b.header.number,
      hash: bytesToHex(b.hash()),
      stateRoot: bytesToHex(b.header.stateRoot),
      txs: b.transactions.length,
      accounts,
    }
  })
  return {
    rlpFile,
    genesisHash: bytesToHex(genesis.hash()),
    blocks,
    head: blocks[blocks.length - 1],
    newAccounts,
    touchedAccounts,
    counts: await countState(level, sealed[sealed.length - 1].header.stateRoot),
    accountsAt: (number) =>
      number === 0n ? genesisAccounts : blocks[Math.min(Number(number), blocks.length) - 1].accounts,
  }
}
