/**
 * The source side of a snap sync scenario, shared by the snap specs and the demo: a generated devnet,
 * blocks with transactions built on it, and a mining node A that has executed them.
 */
import { strict as assert } from 'node:assert'
import { cpSync, rmSync } from 'node:fs'
import { basename, join } from 'node:path'

import { buildChain } from './chain.js'
import { generateDevnet, writeDevnet } from './genesis.js'
import { ClientNode, makeTempDir } from './node.js'

import type { BuiltChain, ChainPlan } from './chain.js'
import type { Devnet, DevnetFiles, DevnetSpec } from './genesis.js'
import type { NodeOptions } from './node.js'
import { compareNodes, verifyState } from './snap.js'

import type { StateSample, VerifyResult } from './snap.js'

/** A running source: the devnet, its chain, and node A mining on top of it */
export interface Source {
  /** Temporary dir with the genesis, key and chain files */
  dir: string
  devnet: Devnet
  files: DevnetFiles
  chain: BuiltChain
  node: ClientNode
  /**
   * A copy of A's data dir once it loaded the chain, without its node key, logs and peers: a node started
   * with it as `seedDir` has the genesis state and the chain's blocks at once
   */
  seedDir: string
  /** Stops A and removes every file of the source */
  destroy(): Promise<void>
}

/**
 * Generates the devnet, builds its chain and starts A on it. `step` hears what is being done (the
 * demo shows it). A loads the chain in a first run without mining and is restarted as the miner:
 * the stock miner starts sealing on the loaded head before the client has executed the loaded
 * blocks, fails on the missing state ("State trie does not contain state root") and the client exits.
 * `db`: A's storage backend (`--db`); the client's default when unset.
 */
export async function startSource(spec: {
  devnet: DevnetSpec
  plan: ChainPlan
  name?: string
  db?: NodeOptions['db']
  /** Further flags of A as the miner (e.g. `--ethVersions=69,70`) */
  args?: string[]
  step?: (what: string) => void
}): Promise<Source> {
  const step = spec.step ?? (() => {})
  const dir = makeTempDir('ejs-snap-source-')
  let node: ClientNode | undefined
  const destroy = async () => {
    await node?.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    step('generating the devnet')
    const devnet = generateDevnet(spec.devnet)
    const files = writeDevnet(devnet, dir)
    step(`building ${spec.plan.newAccounts + spec.plan.touchedAccounts} transfers into blocks`)
    const chain = await buildChain(devnet, spec.plan, dir)
    step(
      `starting A on ${Object.keys(devnet.genesis.alloc).length} genesis accounts ` +
        `and loading ${chain.blocks.length} blocks`,
    )
    const name = spec.name ?? 'A'
    const loading = Date.now()
    node = await ClientNode.start({
      name,
      genesisFile: files.genesisFile,
      sync: 'none',
      db: spec.db,
      args: [`--loadBlocksFromRlp=${chain.rlpFile}`],
    })
    step(`A built its genesis state and executed the blocks in ${((Date.now() - loading) / 1000).toFixed(0)} s`)
    const head = await node.rpc<{ hash: string } | null>('eth_getBlockByNumber', [
      `0x${chain.head.number.toString(16)}`,
      false,
    ])
    if (head?.hash !== chain.head.hash)
      throw new Error(`${name} did not load the chain: block ${chain.head.number} is ${head?.hash}\n${node.logTail()}`)
    await node.stop()
    const seedDir = join(dir, 'seed')
    // Not the config DB (it holds the node key: each node has its own), nor the peer DB and the logs; a
    // LevelDB write-ahead log (000123.log) is the DB's newest writes: without it the chain DB lost its blocks
    const isLevelLog = (path: string) => /^\d+\.log$/.test(basename(path))
    const seeded = (path: string) =>
      !['config', 'rlpx'].includes(basename(path)) && (!path.endsWith('.log') || isLevelLog(path))
    cpSync(node.dataDir, seedDir, { recursive: true, filter: seeded })
    step('restarting A as the clique signer')
    node = await node.restart({ signerKeyFile: files.keyFile, sync: 'full', args: spec.args ?? [] })
    return { dir, devnet, files, chain, node, seedDir, destroy }
  } catch (err) {
    await destroy()
    throw err
  }
}

/**
 * Addresses and slots to compare between nodes: every `every`-th genesis and new account, the
 * touched ones, some contracts, every large contract, and slots of each, with one slot no contract has.
 */
export function sampleState(devnet: Devnet, chain: BuiltChain, every = 100): StateSample {
  const pick = <T>(items: T[], n: number) => items.filter((_, i) => i % n === 0)
  const contracts = [...pick(devnet.contracts, Math.max(1, Math.floor(every / 10))), ...devnet.largeContracts]
  const accounts = [
    devnet.signerAddress,
    ...pick(devnet.accounts, every),
    ...pick(chain.newAccounts, Math.max(1, Math.floor(every / 10))),
    ...pick(chain.touchedAccounts, Math.max(1, Math.floor(every / 10))),
    ...contracts,
  ]
  const slots = contracts.flatMap((address) => {
    const keys = Object.keys(devnet.genesis.alloc[address].storage ?? {})
    const n = devnet.largeContracts.includes(address)
      ? Math.max(1, Math.floor(keys.length / 40))
      : Math.max(1, Math.floor(keys.length / 2))
    return [...pick(keys, n), `0x${'de'.repeat(32)}`].map((slot) => ({ address, slot }))
  })
  return { accounts, slots }
}

/**
 * Starts a node with `--sync=snap` on the source's devnet, with Prometheus metrics, whose one
 * bootnode is A (or `bootnode`, e.g. A through a proxy)
 */
export async function startSnapNode(
  source: Source,
  opts: { pivotDistance: number; name?: string; bootnode?: string; db?: NodeOptions['db']; args?: string[] },
): Promise<ClientNode> {
  return ClientNode.start({
    name: opts.name ?? 'B',
    genesisFile: source.files.genesisFile,
    sync: 'snap',
    db: opts.db,
    bootnodes: [opts.bootnode ?? (await source.node.enode())],
    prometheus: true,
    args: [`--snapPivotDistance=${opts.pivotDistance}`, ...(opts.args ?? [])],
  })
}

/**
 * Asserts that `node` has the source's state: the same answers as A (`every`: see sampleState) at A's
 * head once `node` executed it, then, with `node` stopped, a complete state of the chain's head root.
 * Returns the `verify-state` result for further checks.
 */
export async function assertSameStateAsSource(source: Source, node: ClientNode, every: number): Promise<VerifyResult> {
  const common = await source.node.blockNumber()
  await node.waitForExecuted(common)
  const { differences } = await compareNodes(source.node, node, common, sampleState(source.devnet, source.chain, every))
  assert.deepEqual(differences, [], `answers at block ${common}`)
  await node.stop()
  const result = await verifyState(node.dataDir)
  assert.equal(result.code, 0, result.output)
  assert.equal(result.stateRoot, source.chain.head.stateRoot, result.output)
  return result
}
