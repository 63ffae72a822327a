/**
 * Two real client processes on loopback: B full-syncs a clique devnet from A through our entry
 * point (`--sync=full` must behave exactly as in the stock client), and B's state answers equal A's.
 */
import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { ClientNode, generateDevnet, writeDevnet } from './harness/index.js'

import type { DevnetFiles } from './harness/index.js'

describe('[full sync between two processes]', function () {
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
})
