/**
 * Serving a generated clique state of 4k accounts from a mining client process: a test peer
 * downloads the whole state over RLPx with snap/1 (accounts, storage, codes), verifies every
 * range, and compares what it got with the genesis allocation. Replies are asked small (32 KiB), so
 * that the accounts take several ranges without a large genesis (the client builds 20k accounts'
 * genesis state in about two minutes; the snap sync specs serve a 20k-account state too).
 */
import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { bytesToHex, hexToBytes, setLengthLeft } from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

import { ClientNode, generateDevnet, writeDevnet } from './harness/index.js'
import { crawlAccounts, crawlStorage } from './snapCrawl.js'
import { chainInfo, connectSnap } from './snapPeer.js'

import type { Devnet } from './harness/index.js'
import type { SnapConnection } from './snapPeer.js'

const h = (x: string) => hexToBytes(x as `0x${string}`)

describe('[snap server] generated clique state (4k accounts)', () => {
  // Made in before(), so that a run that filters this suite out pays nothing and leaves no temp dir
  let devnet: Devnet
  let alloc: Devnet['genesis']['alloc']
  let dir: string | undefined
  let node: ClientNode
  let peer: SnapConnection
  let root: Uint8Array

  before(async () => {
    devnet = generateDevnet({ accounts: 4_000, contracts: 40, slotsPerContract: 250, period: 1, seed: 'serve' })
    alloc = devnet.genesis.alloc
    dir = mkdtempSync(join(tmpdir(), 'ejs-snap-serve-devnet-'))
    const files = writeDevnet(devnet, dir)
    node = await ClientNode.start({
      name: 'serve-devnet',
      genesisFile: files.genesisFile,
      signerKeyFile: files.keyFile,
      startTimeoutMs: 300_000,
    })
    await node.waitForHeight(1n)
    peer = await connectSnap(await node.enode(), await chainInfo((m, p) => node.rpc(m, p), devnet.genesis as never))
    root = h((await node.rpc<{ stateRoot: string }>('eth_getBlockByNumber', ['latest', false])).stateRoot)
  })

  after(async () => {
    await peer?.close()
    await node?.destroy()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('serves every account, storage slot and code of the state, all verified', async () => {
    const accounts = await crawlAccounts(peer.requester, root, 32n * 1024n)
    const expected = Object.keys(alloc)
      .map((a) => bytesToHex(keccak256(h(a))))
      .sort()
    assert.deepEqual(accounts.hashes.map(bytesToHex), expected)
    assert.ok(accounts.requests > 4, `the state takes several ranges (${accounts.requests})`)

    const withFields = accounts.hashes.map((hash, i) => ({ hash, storageRoot: accounts.accounts[i].storageRoot }))
    const storage = await crawlStorage(peer.requester, root, withFields, 256n * 1024n)
    for (const address of devnet.contracts) {
      const slots = Object.keys(alloc[address].storage!)
        .map((k) => bytesToHex(keccak256(setLengthLeft(h(k), 32))))
        .sort()
      assert.deepEqual(storage.slots.get(bytesToHex(keccak256(h(address)))), slots, `storage of ${address}`)
    }

    const codeHashes = devnet.contracts.map((a) => keccak256(h(alloc[a].code!)))
    const codes = await peer.requester.getByteCodes({ hashes: codeHashes, bytes: 1024n * 1024n })
    assert.deepEqual(
      codes.codes.map((c) => bytesToHex(keccak256(c))),
      codeHashes.map(bytesToHex),
    )
  })

  it('follows the chain: the new head root is served while blocks are sealed', async () => {
    const before = await node.blockNumber()
    await node.waitForHeight(before + 2n)
    const head = await node.rpc<{ stateRoot: string; number: string }>('eth_getBlockByNumber', ['latest', false])
    const reply = await peer.requester.getAccountRange({
      root: h(head.stateRoot),
      origin: new Uint8Array(32),
      limit: new Uint8Array(32).fill(0xff),
      bytes: 1000n,
    })
    assert.ok(reply.accounts.length > 0, `the root of block ${BigInt(head.number)} is served`)
  })
})
