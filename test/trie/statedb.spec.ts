import { strict as assert } from 'node:assert'

import { LevelDB } from '@ethereumjs/client/dist/esm/src/execution/level.js'
import { createMPT } from '@ethereumjs/mpt'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import { Address, ValueEncoding, bytesToHex } from '@ethereumjs/util'

import { initKeccak, keccak256 } from '../../src/trie/keccak.js'
import { toHex0x } from '../../src/trie/hex.js'
import { LocalStateError, STATE_ENCODINGS, StateWriter, codeKey, localReads, nodeKey } from '../../src/trie/statedb.js'

import { DB_BACKENDS } from '../helpers/db.js'

import { ETHTEST_ROOT, loadEthtestState } from './ethtest.js'
import { tempStateDB, writeState } from './helpers.js'

import type { DbBackend } from '../helpers/db.js'

describe('[StateWriter]', () => {
  before(async () => {
    await initKeccak()
  })

  it('lays out keys as the client does: hex hash, 7-byte hashed-address prefix, c+codeHash', () => {
    const hash = new Uint8Array(32).fill(0xab)
    const owner = new Uint8Array(32).map((_, i) => i)
    assert.equal(nodeKey(hash), 'ab'.repeat(32))
    assert.equal(nodeKey(hash, owner), `00010203040506${'ab'.repeat(32)}`)
    assert.equal(codeKey(hash), `63${'ab'.repeat(32)}`)
  })

  for (const backend of DB_BACKENDS) {
    it(`writes the ethtest state so that the client state manager reads it back (${backend})`, async () => {
      await writeAndReadBack(backend)
    })
  }

  it('refuses code that does not hash to its code hash', () => {
    const writer = new StateWriter({ batch: async () => {} })
    assert.throws(() => writer.putCode(new Uint8Array(32), Uint8Array.of(1)), { code: 'BYTECODE_MISMATCH' })
  })

  it('a write that fails keeps its puts for the next flush and says the local DB failed', async () => {
    const written: string[][] = []
    let fail = true
    const writer = new StateWriter({
      batch: async (ops) => {
        if (fail) throw new Error('disk full')
        written.push(ops.map((o) => o.key))
      },
    })
    const code = Uint8Array.of(0x60, 0)
    writer.putCode(keccak256(code), code)
    await assert.rejects(
      writer.flush(),
      (err: Error) => err instanceof LocalStateError && /state DB write failed: disk full/.test(err.message),
    )
    assert.equal(writer.pending, 1)
    fail = false
    await writer.flush()
    assert.deepEqual(written, [[codeKey(keccak256(code))]])
    assert.equal(writer.pending, 0)
  })

  it('localReads: a failed read is a LocalStateError', async () => {
    const reads = localReads({ getMany: async () => Promise.reject(new Error('corrupted block')) })
    await assert.rejects(
      reads.getMany(['00'], STATE_ENCODINGS),
      (err: Error) => err instanceof LocalStateError && /read failed: corrupted block/.test(err.message),
    )
  })
})

/**
 * Writes the ethtest state into a `backend` DB, reopens it, and reads every account, code and slot back as the
 * client does
 */
async function writeAndReadBack(backend: DbBackend): Promise<void> {
  const accounts = loadEthtestState()
  const temp = await tempStateDB(backend)
  try {
    const root = await writeState(new StateWriter(temp.db, { batchSize: 500 }), accounts)
    assert.equal(toHex0x(root), ETHTEST_ROOT)
    // From the files, as a restarted client reads them
    const db = await temp.reopen()
    // Exactly how the client's VmExecution opens its state (createMPT + LevelDB + MerkleStateManager)
    const trie = await createMPT({
      db: new LevelDB(db as never),
      useKeyHashing: true,
      valueEncoding: ValueEncoding.Bytes,
      root,
    })
    const sm = new MerkleStateManager({ trie, prefixStorageTrieKeys: true })
    let slots = 0
    for (const a of accounts) {
      const address = new Address(a.address)
      const account = await sm.getAccount(address)
      assert.ok(account, `account ${bytesToHex(a.address)}`)
      assert.equal(account.balance, a.body.balance)
      assert.equal(account.nonce, a.body.nonce)
      assert.equal(bytesToHex(account.storageRoot), bytesToHex(a.body.storageRoot))
      if (a.code !== undefined) assert.equal(bytesToHex(await sm.getCode(address)), bytesToHex(a.code))
      for (const [slot, value] of a.rawStorage) {
        const got = await sm.getStorage(address, Uint8Array.from(Buffer.from(slot.slice(2), 'hex')))
        assert.equal(bytesToHex(got), bytesToHex(value), `slot ${slot} of ${bytesToHex(a.address)}`)
        slots++
      }
    }
    assert.equal(slots, 2164)
  } finally {
    await temp.close()
  }
}
