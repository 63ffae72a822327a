/**
 * Two real client processes on loopback: B full-syncs a clique devnet from A through our entry
 * point (`--sync=full` must behave exactly as in the stock client), and B's state answers equal A's.
 * Then transactions sent to A (the miner) are sealed, and B executes them to the same state: stock
 * bug 1 in DESIGN.md (the clique miner sealed none, and no clique node could run contract code).
 */
import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { ClientNode, TxLoad, generateDevnet, writeDevnet } from './harness/index.js'

import type { DevnetFiles } from './harness/index.js'

describe('[full sync between two processes]', () => {
  const devnet = generateDevnet({ accounts: 200, contracts: 20, slotsPerContract: 5, period: 1 })
  let dir: string
  let files: DevnetFiles
  let a: ClientNode | undefined
  let b: ClientNode | undefined

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ejs-snap-fullsync-'))
    files = writeDevnet(devnet, dir)
  })

  after(async () => {
    await Promise.all([a?.destroy(), b?.destroy()])
    rmSync(dir, { recursive: true, force: true })
  })

  it('B syncs from A and answers balances, storage and code like A', async () => {
    a = await ClientNode.start({ name: 'A', genesisFile: files.genesisFile, signerKeyFile: files.keyFile })
    await a.waitForHeight(3n)
    b = await ClientNode.start({ name: 'B', genesisFile: files.genesisFile, bootnodes: [await a.enode()] })
    await b.waitForHeight(3n)

    const tag = `0x${(await b.blockNumber()).toString(16)}`
    const both = (method: string, params: string[]) =>
      Promise.all([a!.rpc<string>(method, params), b!.rpc<string>(method, params)])
    const sampledAccounts = devnet.accounts.filter((_, i) => i % 20 === 0)
    for (const address of [...sampledAccounts, ...devnet.contracts]) {
      for (const method of ['eth_getBalance', 'eth_getCode']) {
        const [fromA, fromB] = await both(method, [address, tag])
        assert.equal(fromB, fromA, `${method} ${address} at ${tag}`)
      }
    }
    for (const address of devnet.contracts) {
      const slots = Object.keys(devnet.genesis.alloc[address].storage ?? {})
      for (const slot of slots) {
        const params = [address, slot, tag]
        const [fromA, fromB] = await both('eth_getStorageAt', params)
        assert.equal(fromB, fromA, `slot ${slot} of ${address}`)
        assert.equal(fromB, devnet.genesis.alloc[address].storage![slot], 'the genesis value')
      }
    }
    assert.notEqual(await b.rpc('eth_getCode', [devnet.contracts[0], tag]), '0x', 'contracts have code')
  })

  it(
    'seals transactions sent to A: transfers, deployments, storage writes; ' + 'B executes them to the same state',
    async () => {
      const load = new TxLoad(a!, devnet, { transfers: 5, deployments: 2, writes: 6 })
      await load.sendRound()
      await load.sendRound()
      const sealedAt = await load.waitSealed()
      await b!.waitForExecuted(sealedAt, 120_000)
      const tag = `0x${sealedAt.toString(16)}`
      const [blockA, blockB] = await Promise.all(
        [a!, b!].map((n) =>
          n.rpc<{ hash: string; stateRoot: string; transactions: string[] }>('eth_getBlockByNumber', [tag, false]),
        ),
      )
      assert.equal(blockB.hash, blockA.hash, `block ${sealedAt}`)
      const both = async (method: string, params: string[]) => {
        const [fromA, fromB] = await Promise.all([a!.rpc<string>(method, params), b!.rpc<string>(method, params)])
        assert.equal(fromB, fromA, `${method} ${params.join(' ')}`)
        return fromA
      }
      for (const account of load.newAccounts)
        assert.notEqual(await both('eth_getBalance', [account, tag]), '0x0', `${account} was paid`)
      for (const contract of load.contracts)
        assert.notEqual(await both('eth_getCode', [contract, tag]), '0x', `${contract} was deployed`)
      for (const { contract, slot, value } of load.writes)
        assert.equal(await both('eth_getStorageAt', [contract, slot, tag]), value, `slot ${slot} of ${contract}`)
      // The signer is paid its tips: the block builder ran each transaction in a sealed block
      await both('eth_getBalance', [devnet.signerAddress, tag])
    },
  )
})
