/**
 * The real ethtest head state (block 600 of go-ethereum's devp2p test chain), written through
 * the client's own state manager into the client's DB layout, then served and verified; on a state DB
 * of each backend, opened as the client opens it.
 */
import { strict as assert } from 'node:assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { LevelDB } from '@ethereumjs/client/dist/esm/src/execution/level.js'
import { createMPT } from '@ethereumjs/mpt'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import {
  Address,
  KECCAK256_NULL,
  KECCAK256_RLP,
  ValueEncoding,
  bigIntToBytes,
  bytesToHex,
  createAccount,
  hexToBytes,
  setLengthLeft,
} from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

import { serveAccountRange } from '../../src/server/accountrange.js'
import { serveTrieNodes } from '../../src/server/trienodes.js'
import { Budget } from '../../src/server/budget.js'
import { serveByteCodes } from '../../src/server/bytecodes.js'
import { LevelStateReader } from '../../src/trie/reader.js'
import { DBStateView } from '../../src/server/stateview.js'
import { serveStorageRanges } from '../../src/server/storageranges.js'
import { DEFAULT_SERVE_LIMITS } from '../../src/wire/constants.js'

import { DB_BACKENDS, tempDB } from '../helpers/db.js'
import { ETHTEST_DIR } from '../trie/ethtest.js'

import { MAX, ZERO, plusOne, verifyRange } from './fixtures.js'

import type { StateView } from '../../src/server/stateview.js'
import type { TempDB } from '../helpers/db.js'

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

/** `h + n` as 256-bit numbers (go-ethereum's snap suite: hashAdd) */
const hashAdd = (h: Uint8Array, n: number) => setLengthLeft(bigIntToBytes(BigInt(bytesToHex(h)) + BigInt(n)), 32)

/** Compact (hex-prefix) encoding of a nibble path without the leaf flag */
function compact(nibbles: number[]): Uint8Array {
  const odd = nibbles.length % 2 === 1
  const out = [odd ? 0x10 | nibbles[0] : 0x00]
  for (let i = odd ? 1 : 0; i < nibbles.length; i += 2) out.push((nibbles[i] << 4) | nibbles[i + 1])
  return Uint8Array.from(out)
}

/** go-ethereum's snap suite makeSnapPath: the key's first `length - 1` nibbles, then a 0 nibble */
function snapPath(key: Uint8Array, length: number): Uint8Array {
  const nibbles = [...key].flatMap((b) => [b >> 4, b & 15]).slice(0, length - 1)
  return compact([...nibbles, 0])
}

const hx = (s: string) => hexToBytes((s.startsWith('0x') ? s : `0x${s}`) as `0x${string}`)

for (const backend of DB_BACKENDS)
  describe(`[snap server] ethtest head state (${backend})`, () => {
    const dump = JSON.parse(readFileSync(join(ETHTEST_DIR, 'headstate.json'), 'utf8')) as {
      root: string
      accounts: { [a: string]: DumpAccount }
    }
    const accounts = Object.values(dump.accounts)
    const root = hx(dump.root)
    let view: StateView
    let temp: TempDB<string, string>

    before(async () => {
      // Default encodings, as the client's `new Level(dir)`: its LevelDB wrapper sets them per call
      temp = await tempDB(backend)
      const level = temp.db
      const trie = await createMPT({
        db: new LevelDB(level as never),
        useKeyHashing: true,
        valueEncoding: ValueEncoding.Bytes,
      })
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
      view = new DBStateView(new LevelStateReader(level as never), { has: (r) => bytesToHex(r) === bytesToHex(root) })
    })

    after(async () => {
      await temp.close()
    })

    it('serves every account, in pages and whole, each page proved', async () => {
      const whole = await serveAccountRange(
        view,
        { kind: 'GetAccountRange', reqId: 1n, root, origin: ZERO, limit: MAX, bytes: 1n << 21n },
        DEFAULT_SERVE_LIMITS,
        Budget.unlimited(),
      )
      assert.deepEqual(
        whole.accounts.map((a) => bytesToHex(a.hash)),
        accounts.map((a) => a.key).sort(),
      )
      assert.equal(whole.proof.length, 0)
      let origin: Uint8Array = ZERO
      let pages = 0
      for (;;) {
        const page = await serveAccountRange(
          view,
          { kind: 'GetAccountRange', reqId: 1n, root, origin, limit: MAX, bytes: 1500n },
          DEFAULT_SERVE_LIMITS,
          Budget.unlimited(),
        )
        const keys = page.accounts.map((a) => a.hash)
        pages++
        if (
          !(await verifyRange(
            root,
            origin,
            keys,
            page.accounts.map((a) => a.body),
            page.proof,
          ))
        )
          break
        origin = plusOne(keys[keys.length - 1])
      }
      assert.ok(pages > 5)
    })

    it('serves the storage of the three system contracts with big storage, cut and continued', async () => {
      for (const a of accounts.filter((x) => Object.keys(x.storage ?? {}).length > 100)) {
        const expected = Object.keys(a.storage!)
          .map((k) => bytesToHex(keccak256(setLengthLeft(hx(k), 32))))
          .sort()
        const got: string[] = []
        let origin: Uint8Array = ZERO
        for (;;) {
          const req = {
            kind: 'GetStorageRanges' as const,
            reqId: 1n,
            root,
            accounts: [hx(a.key)],
            origin,
            limit: MAX,
            bytes: 4000n,
          }
          const reply = await serveStorageRanges(view, req, DEFAULT_SERVE_LIMITS, Budget.unlimited())
          const keys = reply.slots[0].map((s) => s.hash)
          got.push(...keys.map(bytesToHex))
          if (
            !(await verifyRange(
              hx(a.root),
              origin,
              keys,
              reply.slots[0].map((s) => s.body),
              reply.proof,
            ))
          )
            break
          origin = plusOne(keys[keys.length - 1])
        }
        assert.deepEqual(got, expected, `storage of ${a.address}`)
      }
    })

    it('serves every code by hash', async () => {
      const withCode = accounts.filter((a) => a.code !== undefined && a.code !== '0x')
      const reply = await serveByteCodes(
        view,
        { kind: 'GetByteCodes', reqId: 1n, hashes: withCode.map((a) => hx(a.codeHash)), bytes: 1n << 20n },
        DEFAULT_SERVE_LIMITS,
        Budget.unlimited(),
      )
      assert.deepEqual(
        reply.codes.map((c) => bytesToHex(keccak256(c))),
        withCode.map((a) => a.codeHash),
      )
    })

    /**
     * go-ethereum's devp2p snap test suite (`cmd/devp2p/internal/ethtest/snap.go` at 02b73d4), the
     * cases that need only the head state: its expected counts and hashes are facts about this chain.
     */
    describe('go-ethereum snap suite cases', () => {
      const sortedKeys = () =>
        accounts
          .map((a) => a.key)
          .sort()
          .map(hx)
      const accountCases: [string, () => { origin: Uint8Array; limit: Uint8Array; bytes: bigint }, number, string?][] =
        [
          [
            '4000 bytes',
            () => ({ origin: ZERO, limit: MAX, bytes: 4000n }),
            68,
            '0x59312f89c13e9e24c1cb8b103aa39a9b2800348d97a92c2c9e2a78fa02b70025',
          ],
          [
            '3000 bytes',
            () => ({ origin: ZERO, limit: MAX, bytes: 3000n }),
            50,
            '0x4615e5f5df5b25349a00ad313c6cd0436b6c08ee5826e33a018661997f85ebaa',
          ],
          [
            '2000 bytes',
            () => ({ origin: ZERO, limit: MAX, bytes: 2000n }),
            35,
            '0x2de4bdbddcfbb9c3e195dae6b45f9c38daff897e926764bf34887fb0db5c3284',
          ],
          ['1 byte', () => ({ origin: ZERO, limit: MAX, bytes: 1n }), 1],
          ['0 bytes', () => ({ origin: ZERO, limit: MAX, bytes: 0n }), 1],
          [
            'origin before the first key, limit after it',
            () => ({ origin: hashAdd(sortedKeys()[0], -500), limit: hashAdd(sortedKeys()[0], 1), bytes: 4000n }),
            2,
          ],
          [
            'both bounds before the first key',
            () => ({ origin: hashAdd(sortedKeys()[0], -500), limit: hashAdd(sortedKeys()[0], -450), bytes: 4000n }),
            1,
          ],
          ['origin and limit zero', () => ({ origin: ZERO, limit: ZERO, bytes: 4000n }), 1],
          [
            'origin the first key',
            () => ({ origin: sortedKeys()[0], limit: MAX, bytes: 4000n }),
            68,
            '0x59312f89c13e9e24c1cb8b103aa39a9b2800348d97a92c2c9e2a78fa02b70025',
          ],
          [
            'origin after the first key',
            () => ({ origin: hashAdd(sortedKeys()[0], 1), limit: MAX, bytes: 4000n }),
            68,
            '0x59a7c8818f1c16b298a054020dc7c3f403a970d1d1db33f9478b1c36e3a2e509',
          ],
          ['origin max, limit zero', () => ({ origin: MAX, limit: ZERO, bytes: 4000n }), 0],
          [
            'origin the first key, limit one below',
            () => ({ origin: sortedKeys()[0], limit: hashAdd(sortedKeys()[0], -1), bytes: 4000n }),
            1,
          ],
          ['origin the first key, limit zero', () => ({ origin: sortedKeys()[0], limit: ZERO, bytes: 4000n }), 1],
        ]
      for (const [name, req, count, last] of accountCases) {
        it(`account range: ${name} -> ${count}`, async () => {
          const r = req()
          const reply = await serveAccountRange(
            view,
            { kind: 'GetAccountRange', reqId: 1n, root, ...r },
            DEFAULT_SERVE_LIMITS,
            Budget.unlimited(),
          )
          assert.equal(reply.accounts.length, count)
          if (last !== undefined) assert.equal(bytesToHex(reply.accounts[count - 1].hash), last)
          await verifyRange(
            root,
            r.origin,
            reply.accounts.map((a) => a.hash),
            reply.accounts.map((a) => a.body),
            reply.proof,
          )
        })
      }

      it('account range: the storage root of an account is not a served root', async () => {
        const storageRoot = hx(accounts.find((a) => Object.keys(a.storage ?? {}).length > 0)!.root)
        const reply = await serveAccountRange(
          view,
          { kind: 'GetAccountRange', reqId: 1n, root: storageRoot, origin: ZERO, limit: MAX, bytes: 4000n },
          DEFAULT_SERVE_LIMITS,
          Budget.unlimited(),
        )
        assert.equal(reply.accounts.length, 0)
      })

      const slots = [
        '0x405787fa12a823e0f2b7631cc41b3ba8828b3321ca811111fa75cd3aa3bb5ace',
        '0xb10e2d527612073b26eecdfd717e6a320cf44b4afac2b0732d9fcbe2b7fa0cf6',
        '0xc2575a0e9e593c00f959f8c92f12db2869c3395a3b0502d05e2516446f71f85b',
      ]
      const storageCases: [string, string, string, number, string[]][] = [
        ['00..ff', bytesToHex(ZERO), bytesToHex(MAX), 500, slots],
        ['from slot 1', slots[0], bytesToHex(MAX), 1000, slots],
        [
          'from slot 1 + 1',
          '0x405787fa12a823e0f2b7631cc41b3ba8828b3321ca811111fa75cd3aa3bb5acf',
          bytesToHex(MAX),
          500,
          slots.slice(1),
        ],
        ['slot 1 to slot 2', slots[0], slots[1], 500, slots.slice(0, 2)],
        [
          'between, limit past slot 2',
          '0x4fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
          '0xb10e2d527612073b26eecdfd717e6a320cf44b4afac2b0732d9fcbe2b7fa0cf7',
          500,
          slots.slice(1),
        ],
      ]
      for (const [name, origin, limit, bytes, want] of storageCases) {
        it(`storage ranges of 0x8bebc8ba…: ${name}`, async () => {
          const account = accounts.find((a) => a.address === '0x8bebc8ba651aee624937e7d897853ac30c95a067')!
          const req = {
            kind: 'GetStorageRanges' as const,
            reqId: 1n,
            root,
            accounts: [hx(account.key)],
            origin: hx(origin),
            limit: hx(limit),
            bytes: BigInt(bytes),
          }
          const reply = await serveStorageRanges(view, req, DEFAULT_SERVE_LIMITS, Budget.unlimited())
          assert.deepEqual(
            reply.slots[0].map((x) => bytesToHex(x.hash)),
            want,
          )
          await verifyRange(
            hx(account.root),
            hx(origin),
            reply.slots[0].map((x) => x.hash),
            reply.slots[0].map((x) => x.body),
            reply.proof,
          )
        })
      }

      const codeHashes = () =>
        accounts.filter((a) => a.code !== undefined && a.code !== '0x').map((a) => hx(a.codeHash))
      // geth's allHashes[0] is a small code; here: the smallest one, so that four copies fit in 1000 bytes
      const smallest = () =>
        hx(
          [...accounts].filter((a) => (a.code?.length ?? 0) > 2).sort((a, b) => a.code!.length - b.code!.length)[0]
            .codeHash,
        )
      const codeCases: [string, () => Uint8Array[], bigint, number | 'all'][] = [
        ['state roots as code hashes', () => [root], 10000n, 0],
        ['the empty root', () => [KECCAK256_RLP], 10000n, 0],
        ['the empty code hash', () => [KECCAK256_NULL], 10000n, 1],
        ['the empty code hash three times', () => [KECCAK256_NULL, KECCAK256_NULL, KECCAK256_NULL], 10000n, 3],
        ['all codes', codeHashes, 100000n, 'all'],
        ['all codes, 1 byte', codeHashes, 1n, 1],
        ['all codes, 0 bytes', codeHashes, 0n, 1],
        ['one code four times', () => Array(4).fill(smallest()), 1000n, 4],
      ]
      for (const [name, hashes, bytes, count] of codeCases) {
        it(`bytecodes: ${name} -> ${count}`, async () => {
          const reply = await serveByteCodes(
            view,
            { kind: 'GetByteCodes', reqId: 1n, hashes: hashes(), bytes },
            DEFAULT_SERVE_LIMITS,
            Budget.unlimited(),
          )
          assert.equal(reply.codes.length, count === 'all' ? codeHashes().length : count)
        })
      }

      const key = hx('0xa87387b50b481431c6ccdb9ae99a54d4dcdd4a3eff75d7b17b4818f7bbfc21e9')
      const accPaths = Array.from({ length: 65 }, (_, i) => [snapPath(key, i + 1)])
      const empty = bytesToHex(KECCAK256_NULL)
      const n1 = '0x4bdecec09691ad38113eebee2df94fadefdff5841c0f182bae1be3c8a6d60bf3'
      const n2 = '0x4178696465d4514ff5924ef8c28ce64d41a669634b63184c2c093e252d6b4bc4'
      const storageAccount = () =>
        hx(accounts.find((a) => a.address === '0x8bebc8ba651aee624937e7d897853ac30c95a067')!.key)
      const trieCases: [string, () => Uint8Array[][], string[]][] = [
        ['an empty request', () => [], []],
        [
          'a very long path: an empty node',
          () => [
            [
              Uint8Array.from([
                0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7,
                8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8,
              ]),
            ],
          ],
          [empty],
        ],
        ['65 paths along a known account', () => accPaths, [n1, n2, ...Array(63).fill(empty)]],
        ['paths not in key order', () => [accPaths[10], accPaths[1], accPaths[0]], [empty, n2, n1]],
        [
          'the storage root node of 0x8bebc8ba…',
          () => [[storageAccount(), Uint8Array.from([0])]],
          ['0xbe3d75a1729be157e79c3b77f00206db4d54e3ea14375a015451c88ec067c790'],
        ],
        [
          'two storage nodes of 0x8bebc8ba…',
          () => [[storageAccount(), Uint8Array.from([0]), Uint8Array.from([0x1b])]],
          [
            '0xbe3d75a1729be157e79c3b77f00206db4d54e3ea14375a015451c88ec067c790',
            '0xf4984a11f61a2921456141df88de6e1a710d28681b91af794c5a721e47839cd7',
          ],
        ],
      ]
      for (const [name, paths, want] of trieCases) {
        it(`trie nodes: ${name}`, async () => {
          const reply = await serveTrieNodes(
            view,
            { kind: 'GetTrieNodes', reqId: 1n, root, paths: paths(), bytes: 5000n },
            DEFAULT_SERVE_LIMITS,
            Budget.unlimited(),
          )
          assert.deepEqual(
            reply.nodes.map((n) => bytesToHex(keccak256(n))),
            want,
          )
        })
      }
    })
  })
