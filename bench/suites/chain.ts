/**
 * The benchmark chain: a clique devnet whose state is made by its blocks' transactions, for a full
 * sync and a snap sync of the same chain (fullsync.ts). One signer sends, in nonce order:
 * - a disperser contract, then calls of it that pay one wei to runs of fresh addresses (an account
 *   each),
 * - contracts with their own storage (creation code that fills their first slots), a few distinct
 *   codes shared by many contracts, as token clones share theirs,
 * - calls that fill the storage of the large contracts further (each call a block's worth of slots).
 * The three streams are interleaved over the chain and packed into blocks by gas up to `blockGas`
 * (mainnet's long-run average is its EIP-1559 target, half the gas limit). Deterministic per spec.
 *
 * Built once: the blocks are sealed offline (harness chain.ts), then a client process imports them
 * (`--loadBlocksFromRlp`) and its data dir is kept with them, under the OS temp dir keyed by the spec.
 */
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bytesToHex, concatBytes, createAddressFromString, createContractAddress } from '@ethereumjs/util'

import { createChainVM, sealBlocks } from '../../integration/harness/chain.js'
import { derive, generateDevnet, writeDevnet } from '../../integration/harness/genesis.js'
import { ClientNode } from '../../integration/harness/node.js'
import { countState } from '../../integration/harness/state.js'

import { openState } from './state.js'

import { GAS, disperserRuntime, fillerCall, fillerCreation, fillerRuntime, plainCreation } from './evmcode.js'

import type { Devnet } from '../../integration/harness/genesis.js'
import type { StateLevel } from '../../integration/harness/state.js'
import type { WalkStats } from '../../src/trie/walker.js'
import type { FeeMarket1559Tx } from '@ethereumjs/tx'
import type { Common } from '@ethereumjs/common'

/** What the chain's transactions create */
export interface ChainSpec {
  /** Fresh accounts paid by the disperser */
  readonly newAccounts: number
  /** Storage contracts by size, created in this order (the largest first, so their fills spread) */
  readonly contracts: readonly { readonly count: number; readonly slots: number }[]
  /** Distinct runtime codes the contracts share, round robin */
  readonly distinctCodes: number
  /** Gas a block carries at most */
  readonly blockGas: number
  readonly seed: string
}

/** A built chain, as cached */
export interface BenchChain {
  /** The cache dir: `devnet.json`, `chain.rlp`, `chain.json`, `node/` (a data dir that imported it) */
  dir: string
  genesisFile: string
  head: { number: number; hash: string; stateRoot: string }
  blocks: number
  transactions: number
  gasUsed: number
  /** The head state, counted as `verify-state` counts it */
  counts: WalkStats
  /** Seconds the offline build and the import took (0 when cached) */
  buildSeconds: number
  importSeconds: number
}

/** Slots a contract's creation fills itself at most; the rest come in fill calls */
const CREATION_SLOTS = 400
/** Bytes of the tag that makes a runtime code distinct: code sizes from 1 KB to ~5 KB */
const tagBytes = (k: number) => 1024 + ((k * 997) % 4096)
/** Bytes of the largest runtime code: the filler, its 32-byte tag and the largest padding */
const MAX_CODE = 5_200
// No tip (see harness chain.ts: the clique signer is not known while a block is built)
const MAX_FEE = 10n ** 9n
/** Where the disperser's accounts start: far from precompiles and from derived addresses */
const ACCOUNT_BASE = 0x5a1e0000n << 128n

/** A transaction of the plan, before its nonce and signature */
interface PlannedTx {
  /** Whom it calls: the disperser, or the contract a planned creation made; none: a creation */
  to?: 'disperser' | PlannedTx
  data: Uint8Array
  value: bigint
  gasLimit: bigint
}

const gasOf = (fixed: number, data: Uint8Array, perItem: number, items: number) =>
  BigInt(fixed + GAS.dataByte * data.length + perItem * items + GAS.margin)

/** The contracts' creations, each followed by the calls that fill its storage further */
function contractTxs(spec: ChainSpec, slotsPerTx: number): PlannedTx[] {
  // A creation, its largest code included, fits in a block
  const creationSlots = Math.min(
    CREATION_SLOTS,
    Math.floor((spec.blockGas - GAS.create - (GAS.codeByte + GAS.dataByte) * MAX_CODE - GAS.margin) / GAS.slot),
  )
  const runtimes = Array.from({ length: spec.distinctCodes }, (_, k) =>
    fillerRuntime(concatBytes(derive(spec.seed, 'code', k), new Uint8Array(tagBytes(k)))),
  )
  const txs: PlannedTx[] = []
  let n = 0
  for (const { count, slots } of spec.contracts) {
    for (let c = 0; c < count; c++, n++) {
      const runtime = runtimes[n % runtimes.length]
      const first = Math.min(slots, creationSlots)
      const data = fillerCreation(first, runtime)
      const creation: PlannedTx = {
        data,
        value: 0n,
        gasLimit: gasOf(GAS.create + GAS.codeByte * runtime.length, data, GAS.slot, first),
      }
      txs.push(creation)
      for (let start = first; start < slots; start += slotsPerTx) {
        const end = Math.min(slots, start + slotsPerTx)
        const call = fillerCall(start, end)
        txs.push({ to: creation, data: call, value: 0n, gasLimit: gasOf(GAS.call, call, GAS.slot, end - start) })
      }
    }
  }
  return txs
}

/** The disperser's calls: `perTx` fresh accounts each */
function accountTxs(spec: ChainSpec, perTx: number): PlannedTx[] {
  const txs: PlannedTx[] = []
  for (let start = 0; start < spec.newAccounts; start += perTx) {
    const end = Math.min(spec.newAccounts, start + perTx)
    const call = fillerCall(start, end)
    txs.push({
      to: 'disperser',
      data: call,
      value: BigInt(end - start),
      gasLimit: gasOf(GAS.call, call, GAS.newAccount, end - start),
    })
  }
  return txs
}

/** Interleaves two streams evenly (by their share done), keeping each stream's order */
function interleave<T>(a: T[], b: T[]): T[] {
  const out: T[] = []
  let [i, j] = [0, 0]
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && i / a.length <= j / b.length)) out.push(a[i++])
    else out.push(b[j++])
  }
  return out
}

/** The whole plan, in nonce order: the disperser first, then both streams interleaved */
function planChain(spec: ChainSpec): PlannedTx[] {
  // A fill call carries a block's worth of slots, an account call half that in gas
  const slotsPerTx = Math.floor((spec.blockGas - GAS.call - GAS.margin - 2048) / GAS.slot)
  const accountsPerTx = Math.floor((spec.blockGas / 2 - GAS.call - GAS.margin - 2048) / GAS.newAccount)
  const deploy = plainCreation(disperserRuntime(ACCOUNT_BASE))
  const disperser: PlannedTx = {
    data: deploy,
    value: 0n,
    gasLimit: gasOf(GAS.create + GAS.codeByte * deploy.length, deploy, 0, 0),
  }
  return [disperser, ...interleave(accountTxs(spec, accountsPerTx), contractTxs(spec, slotsPerTx))]
}

/**
 * Signs the plan in nonce order (a call's target is where its creation's nonce put it) and packs it into blocks
 * by gas limit
 */
function signAndPack(
  plan: PlannedTx[],
  spec: ChainSpec,
  signer: { key: Uint8Array; address: string },
  common: Common,
): FeeMarket1559Tx[][] {
  const from = createAddressFromString(signer.address)
  const nonces = new Map(plan.map((tx, nonce) => [tx, BigInt(nonce)]))
  const disperser = createContractAddress(from, 0n).toString()
  const groups: FeeMarket1559Tx[][] = [[]]
  let gas = 0n
  for (const [nonce, tx] of plan.entries()) {
    const to =
      tx.to === undefined
        ? undefined
        : tx.to === 'disperser'
          ? disperser
          : createContractAddress(from, nonces.get(tx.to)!).toString()
    const signed = createFeeMarket1559Tx(
      {
        nonce: BigInt(nonce),
        maxFeePerGas: MAX_FEE,
        maxPriorityFeePerGas: 0n,
        gasLimit: tx.gasLimit,
        to: to as `0x${string}` | undefined,
        value: tx.value,
        data: tx.data,
      },
      { common },
    ).sign(signer.key)
    if (gas + tx.gasLimit > BigInt(spec.blockGas)) {
      groups.push([])
      gas = 0n
    }
    groups[groups.length - 1].push(signed)
    gas += tx.gasLimit
  }
  return groups
}

/** A key for the cache dir: the spec and the generator's version */
const GENERATOR_VERSION = 1
function cacheKey(spec: ChainSpec): string {
  return createHash('sha256').update(JSON.stringify({ spec, GENERATOR_VERSION })).digest('hex').slice(0, 16)
}

/** Seals the chain offline into `dir`; returns what chain.json holds */
export async function sealChain(
  spec: ChainSpec,
  dir: string,
  say: (line: string) => void,
): Promise<Omit<BenchChain, 'dir' | 'genesisFile' | 'importSeconds'>> {
  const started = performance.now()
  const devnet = generateDevnet({ accounts: 0, contracts: 0, slotsPerContract: 0, period: 12, seed: spec.seed })
  writeDevnet(devnet, dir)
  // On disk: every block's new trie nodes stay (a few GB for the 2x chain, past V8's heap)
  const level = await openState(join(dir, 'build-state'))
  try {
    return await sealInto(spec, dir, devnet, level as never, started, say)
  } finally {
    await level.close()
    rmSync(join(dir, 'build-state'), { recursive: true, force: true })
  }
}

async function sealInto(
  spec: ChainSpec,
  dir: string,
  devnet: Devnet,
  into: StateLevel,
  started: number,
  say: (line: string) => void,
): Promise<Omit<BenchChain, 'dir' | 'genesisFile' | 'importSeconds'>> {
  const { vm, genesis, level, common, signerKey, period } = await createChainVM(devnet, into)
  const plan = planChain(spec)
  const groups = signAndPack(plan, spec, { key: signerKey, address: devnet.signerAddress }, common)
  say(`sealing ${groups.length} blocks of ${plan.length} transactions`)
  let gasUsed = 0n
  const sealed = await sealBlocks(vm, genesis, groups, signerKey, period, (block) => {
    gasUsed += block.header.gasUsed
    if (block.header.number % 100n === 0n) say(`sealed block ${block.header.number} of ${groups.length}`)
  })
  writeFileSync(join(dir, 'chain.rlp'), concatBytes(...sealed.map((b) => b.serialize())))
  const last = sealed[sealed.length - 1]
  const counts = await countState(level, last.header.stateRoot)
  return {
    head: {
      number: Number(last.header.number),
      hash: bytesToHex(last.hash()),
      stateRoot: bytesToHex(last.header.stateRoot),
    },
    blocks: sealed.length,
    transactions: plan.length,
    gasUsed: Number(gasUsed),
    counts,
    buildSeconds: (performance.now() - started) / 1000,
  }
}

/** The client answers JSON-RPC only once it has imported the blocks: an hour for the 2x chain on 2 cores */
const IMPORT_TIMEOUT_MS = 4 * 3600_000

/** A client process imports the chain; its data dir moves into the cache */
async function importChain(dir: string, head: BenchChain['head']): Promise<number> {
  const started = performance.now()
  mkdirSync(join(dir, 'node.tmp'))
  const node = await ClientNode.start({
    name: 'import',
    genesisFile: join(dir, 'devnet.json'),
    sync: 'none',
    dataDir: join(dir, 'node.tmp'),
    startTimeoutMs: IMPORT_TIMEOUT_MS,
    args: [`--loadBlocksFromRlp=${join(dir, 'chain.rlp')}`],
  })
  try {
    const block = await node.rpc<{ hash: string } | null>('eth_getBlockByNumber', [
      `0x${head.number.toString(16)}`,
      false,
    ])
    if (block?.hash !== head.hash)
      throw new Error(`the import did not end on the chain's head ${head.number}: ${block?.hash}\n${node.logTail()}`)
  } finally {
    await node.stop(120_000)
  }
  renameSync(join(dir, 'node.tmp'), join(dir, 'node'))
  return (performance.now() - started) / 1000
}

/** The chain of `spec`, built and imported on the first call, then read from the cache */
export async function cachedChain(spec: ChainSpec, say: (line: string) => void): Promise<BenchChain> {
  const dir = join(tmpdir(), `snap-bench-chain-${cacheKey(spec)}`)
  const info = join(dir, 'chain.json')
  if (existsSync(info) && existsSync(join(dir, 'node'))) {
    const cached = JSON.parse(readFileSync(info, 'utf8')) as Omit<BenchChain, 'dir' | 'genesisFile'>
    return { ...cached, dir, genesisFile: join(dir, 'devnet.json'), buildSeconds: 0, importSeconds: 0 }
  }
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  say(`building the chain into ${dir}`)
  const built = await sealChain(spec, dir, say)
  say(`built ${built.blocks} blocks in ${built.buildSeconds.toFixed(0)} s; a client imports them`)
  const importSeconds = await importChain(dir, built.head)
  writeFileSync(info, JSON.stringify({ ...built, importSeconds }, null, 2))
  return { ...built, dir, genesisFile: join(dir, 'devnet.json'), importSeconds }
}

/** A fresh copy of the data dir that imported the chain, for a source node to run on */
export function copySourceDataDir(chain: BenchChain, to: string): string {
  cpSync(join(chain.dir, 'node'), to, { recursive: true })
  return to
}
