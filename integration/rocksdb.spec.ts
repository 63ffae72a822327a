/**
 * `--db=rocksdb` with real client processes, on localinput.spec's small devnet: a source A that imports,
 * executes, mines and serves snap/1 on RocksDB; B snap-syncs from it on RocksDB, is killed (SIGKILL)
 * during the download, is refused when restarted with the other backend, and resumes on RocksDB to A's
 * state; C full-syncs from A on RocksDB; a LevelDB data dir started with `--db=rocksdb` is refused and
 * still opens with LevelDB. (Every other integration spec runs on LevelDB, the default.)
 */
import { strict as assert } from 'node:assert'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { detectBackend } from '../src/db/backend.js'

import {
  ClientNode,
  ThrottledProxy,
  assertSameStateAsSource,
  assertStartRefused,
  killMidDownload,
  startSnapNode,
  startSource,
  waitSnapDone,
} from './harness/index.js'

import type { Source } from './harness/index.js'

const DEVNET = {
  accounts: 300,
  contracts: 20,
  slotsPerContract: 10,
  largeContracts: [3_000],
  period: 1,
  seed: 'localinput',
}
const PLAN = { newAccounts: 200, touchedAccounts: 50 }
const PIVOT_DISTANCE = 8
/** The client keeps its DBs under the genesis file's name (`writeDevnet`'s default, `devnet.json`) */
const NETWORK = 'devnet'
const DBS = ['chain', 'state', 'meta']

/** The backend of each of a data dir's three DBs */
const backends = (dataDir: string) => DBS.map((name) => detectBackend(join(dataDir, NETWORK, name)))

/** Names, sizes and modification times of the files of a data dir's three DBs: what a refused start must not change */
const dbFiles = (dataDir: string) =>
  DBS.flatMap((name) => {
    const dir = join(dataDir, NETWORK, name)
    return readdirSync(dir).map(
      (file) => `${name}/${file} ${statSync(join(dir, file)).size} ${statSync(join(dir, file)).mtimeMs}`,
    )
  }).sort()

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The refusal of a data dir whose chain DB `madeBy` made, started with the other backend */
const mismatch = (dataDir: string, madeBy: 'level' | 'rocksdb', openedWith: 'level' | 'rocksdb') =>
  new RegExp(
    `Error starting client: ${escapeRegExp(join(dataDir, NETWORK, 'chain'))} ` +
      `is a ${madeBy === 'level' ? 'LevelDB' : 'RocksDB'} database \\(made with --db=${madeBy}\\) ` +
      `and was opened with --db=${openedWith}: use --db=${madeBy} for this data dir`,
  )

describe('[--db=rocksdb] snap sync, resume, serving and full sync on RocksDB', () => {
  let source: Source | undefined
  let a: ClientNode
  let proxy: ThrottledProxy | undefined
  let node: ClientNode | undefined

  before(async function () {
    this.timeout(600_000)
    source = await startSource({ devnet: DEVNET, plan: PLAN, db: 'rocksdb' })
    a = source.node
    assert.deepEqual(backends(a.dataDir), ['rocksdb', 'rocksdb', 'rocksdb'], "A's DBs")
    await a.waitForHeight(BigInt(PIVOT_DISTANCE) + 4n)
  })

  afterEach(async () => {
    await node?.destroy()
    await proxy?.close()
    node = proxy = undefined
  })

  after(async () => {
    await source?.destroy()
  })

  it(
    'B snap-syncs from A on RocksDB; killed mid-download, refused with --db=level, ' +
      "it resumes with --db=rocksdb to A's state",
    async () => {
      // A slow link, so that the download is caught midway
      proxy = await ThrottledProxy.start(a.port, 32 * 1024)
      const b = (node = await startSnapNode(source!, {
        pivotDistance: PIVOT_DISTANCE,
        bootnode: proxy.enodeVia(await a.enode()),
        db: 'rocksdb',
      }))
      await killMidDownload(b, proxy)
      assert.deepEqual(backends(b.dataDir), ['rocksdb', 'rocksdb', 'rocksdb'], "B's DBs")

      // The default backend on a RocksDB data dir: exit 1 naming the dir, the backend and the flag; nothing touched
      const before = dbFiles(b.dataDir)
      await assertStartRefused(
        { ...b.options, name: 'B-level', dataDir: b.dataDir, db: undefined },
        mismatch(b.dataDir, 'rocksdb', 'level'),
      )
      assert.deepEqual(dbFiles(b.dataDir), before, "B's DB files after the refused start")

      proxy.setRate(Infinity)
      node = await b.restart()
      await node.waitForLog(/Snap sync: resuming the state of pivot block/)
      console.log(`      ${(await waitSnapDone(node, { timeoutMs: 300_000 })).text}`)
      // The same answers as A at A's head, then (stopped) verify-state on B's RocksDB: complete, A's root
      await assertSameStateAsSource(source!, node, 20)
    },
  )

  it('C full-syncs from A on RocksDB (--sync=full --db=rocksdb) to the same state', async () => {
    node = await ClientNode.start({
      name: 'C',
      genesisFile: source!.files.genesisFile,
      sync: 'full',
      db: 'rocksdb',
      bootnodes: [await a.enode()],
    })
    await assertSameStateAsSource(source!, node, 20)
    assert.deepEqual(backends(node.dataDir), ['rocksdb', 'rocksdb', 'rocksdb'], "C's DBs")
  })

  it(
    'a LevelDB data dir started with --db=rocksdb: exit 1 and the clear error; ' + 'it still opens with LevelDB',
    async () => {
      const d = (node = await ClientNode.start({ name: 'D', genesisFile: source!.files.genesisFile, sync: 'none' }))
      await d.stop()
      assert.deepEqual(backends(d.dataDir), ['level', 'level', 'level'], "D's DBs")
      const before = dbFiles(d.dataDir)
      await assertStartRefused(
        { ...d.options, name: 'D-rocksdb', dataDir: d.dataDir, db: 'rocksdb' },
        mismatch(d.dataDir, 'level', 'rocksdb'),
      )
      assert.deepEqual(dbFiles(d.dataDir), before, "D's DB files after the refused start")
      // Whole for LevelDB: the client starts on it and answers from its genesis state
      node = await d.restart()
      const account = source!.devnet.accounts[0]
      const genesis = (n: ClientNode) =>
        Promise.all([
          n.rpc<{ hash: string }>('eth_getBlockByNumber', ['0x0', false]).then((b) => b.hash),
          n.rpc('eth_getBalance', [account, '0x0']),
        ])
      assert.deepEqual(await genesis(node), await genesis(a))
    },
  )
})
