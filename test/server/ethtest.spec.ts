/**
 * The real ethtest head state (block 600 of go-ethereum's devp2p test chain), written through
 * the client's own state manager into the client's DB layout, then served and verified.
 */
import { strict as assert } from 'node:assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { LevelDB } from '@ethereumjs/client/dist/esm/src/execution/level.js'
import { createMPT } from '@ethereumjs/mpt'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import { Address, ValueEncoding, bytesToHex, createAccount, hexToBytes, setLengthLeft } from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'
import { MemoryLevel } from 'memory-level'

import { serveAccountRange } from '../../src/server/accountrange.js'
import { Budget } from '../../src/server/budget.js'
import { serveByteCodes } from '../../src/server/bytecodes.js'
import { LevelStateDB } from '../../src/server/statedb.js'
import { DBStateView } from '../../src/server/stateview.js'
import { serveStorageRanges } from '../../src/server/storageranges.js'
import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'

import { MAX, ZERO, plusOne, verifyRange } from './fixtures.js'

import type { StateView } from '../../src/server/stateview.js'

interface DumpAccount {
  address: string
  key: string
  balance: string
  nonce: string
  root: string
  codeHash: string
  code?: string
  storage?: { [slot: string]: string }
}

const DATA = join(import.meta.dirname, '../../../shared/data/ethtest')
const hx = (s: string) => hexToBytes((s.startsWith('0x') ? s : `0x${s}`) as `0x${string}`)

describe('[snap server] ethtest head state', () => {
  const dump = JSON.parse(readFileSync(join(DATA, 'headstate.json'), 'utf8')) as { root: string; accounts: { [a: string]: DumpAccount } }
  const accounts = Object.values(dump.accounts)
  const root = hx(dump.root)
  let view: StateView

  before(async () => {
    const level = new MemoryLevel<string, Uint8Array>()
    const trie = await createMPT({ db: new LevelDB(level as never), useKeyHashing: true, valueEncoding: ValueEncoding.Bytes })
    const sm = new MerkleStateManager({ trie, prefixStorageTrieKeys: true })
    await sm.checkpoint()
    for (const a of accounts) {
      const address = new Address(hx(a.address))
      await sm.putAccount(address, createAccount({ nonce: BigInt(a.nonce), balance: BigInt(a.balance) }))
      if (a.code !== undefined && a.code !== '0x') await sm.putCode(address, hx(a.code))
      for (const [slot, value] of Object.entries(a.storage ?? {})) {
        await sm.putStorage(address, setLengthLeft(hx(slot), 32), hx(value))
      }
    }
    await sm.commit()
    await sm.flush()
    assert.equal(bytesToHex(await sm.getStateRoot()), bytesToHex(root), 'the dump rebuilds to the block 600 root')
    view = new DBStateView(new LevelStateDB(level as never), { has: (r) => bytesToHex(r) === bytesToHex(root) })
  })

  it('serves every account, in pages and whole, each page proved', async () => {
    const whole = await serveAccountRange(view, { kind: 'GetAccountRange', reqId: 1n, root, origin: ZERO, limit: MAX, bytes: 1n << 21n }, DEFAULT_SERVE_LIMITS, Budget.unlimited())
    assert.deepEqual(whole.accounts.map((a) => bytesToHex(a.hash)), accounts.map((a) => a.key).sort())
    assert.equal(whole.proof.length, 0)
    let origin: Uint8Array = ZERO
    let pages = 0
    for (;;) {
      const page = await serveAccountRange(view, { kind: 'GetAccountRange', reqId: 1n, root, origin, limit: MAX, bytes: 1500n }, DEFAULT_SERVE_LIMITS, Budget.unlimited())
      const keys = page.accounts.map((a) => a.hash)
      pages++
      if (!(await verifyRange(root, origin, keys, page.accounts.map((a) => a.body), page.proof))) break
      origin = plusOne(keys[keys.length - 1])
    }
    assert.ok(pages > 5)
  })

  it('serves the storage of the three system contracts with big storage, cut and continued', async () => {
    for (const a of accounts.filter((x) => Object.keys(x.storage ?? {}).length > 100)) {
      const expected = Object.keys(a.storage!).map((k) => bytesToHex(keccak256(setLengthLeft(hx(k), 32)))).sort()
      const got: string[] = []
      let origin: Uint8Array = ZERO
      for (;;) {
        const req = { kind: 'GetStorageRanges' as const, reqId: 1n, root, accounts: [hx(a.key)], origin, limit: MAX, bytes: 4000n }
        const reply = await serveStorageRanges(view, req, DEFAULT_SERVE_LIMITS, Budget.unlimited())
        const keys = reply.slots[0].map((s) => s.hash)
        got.push(...keys.map(bytesToHex))
        if (!(await verifyRange(hx(a.root), origin, keys, reply.slots[0].map((s) => s.body), reply.proof))) break
        origin = plusOne(keys[keys.length - 1])
      }
      assert.deepEqual(got, expected, `storage of ${a.address}`)
    }
  })

  it('serves every code by hash', async () => {
    const withCode = accounts.filter((a) => a.code !== undefined && a.code !== '0x')
    const reply = await serveByteCodes(view, { kind: 'GetByteCodes', reqId: 1n, hashes: withCode.map((a) => hx(a.codeHash)), bytes: 1n << 20n }, DEFAULT_SERVE_LIMITS, Budget.unlimited())
    assert.deepEqual(reply.codes.map((c) => bytesToHex(keccak256(c))), withCode.map((a) => a.codeHash))
  })
})
