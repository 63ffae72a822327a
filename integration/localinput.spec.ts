/**
 * Bad local input between runs: a data dir of another chain, a progress record that is garbage or
 * of a newer version, a state DB damaged after the sync or midway through it. Each ends in a clear
 * error and exit code 1, or in a sync that repairs what is missing and ends with A's state. One
 * small source devnet and one snap-synced data dir of B serve every case (each works on a copy).
 */
import { strict as assert } from 'node:assert'
import { cpSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'

import { Level } from 'level'

import { PROGRESS_KEY } from '../src/sync/download/progressrecord.js'

import {
  ClientNode,
  ThrottledProxy,
  assertSameStateAsSource,
  assertStartRefused,
  generateDevnet,
  killMidDownload,
  makeTempDir,
  startSnapNode,
  startSource,
  waitSnapDone,
  writeDevnet,
} from './harness/index.js'

import type { NodeOptions, Source } from './harness/index.js'

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

/** The dirs this spec made (removed after it) */
const dirs: string[] = []

function tempDir(name: string): string {
  const dir = makeTempDir(`ejs-snap-${name}-`)
  dirs.push(dir)
  return dir
}

/** A copy of a data dir to damage */
function copyOf(dataDir: string, name: string): string {
  const dir = tempDir(name)
  cpSync(dataDir, dir, { recursive: true })
  return dir
}

/** Writes `value` as the snap progress record of a stopped node's data dir */
async function writeRecord(dataDir: string, value: string): Promise<void> {
  const meta = new Level<string, string>(join(dataDir, NETWORK, 'meta'))
  await meta.put(PROGRESS_KEY, value)
  await meta.close()
}

/** Truncates the newest write-ahead log of a LevelDB to half (a small DB holds everything there) */
function truncateNewestLog(db: string): void {
  const log = readdirSync(db)
    .filter((f) => f.endsWith('.log') && f !== 'LOG')
    .sort()
    .pop()
  assert.ok(log !== undefined, `a write-ahead log in ${db}`)
  truncateSync(join(db, log), Math.floor(statSync(join(db, log)).size / 2))
}

describe('[snap sync] bad local input between runs', () => {
  let source: Source | undefined
  let a: ClientNode
  /** B's data dir once snap-synced and stopped: the template every case copies */
  let synced: string
  let b: ClientNode | undefined
  let proxy: ThrottledProxy | undefined

  before(async function () {
    this.timeout(600_000)
    source = await startSource({ devnet: DEVNET, plan: PLAN })
    a = source.node
    await a.waitForHeight(BigInt(PIVOT_DISTANCE) + 4n)
    const first = await startSnapNode(source, { pivotDistance: PIVOT_DISTANCE })
    // Set before the sync: after() removes it also when the sync fails
    synced = first.dataDir
    try {
      await waitSnapDone(first, { timeoutMs: 300_000 })
      await first.waitForExecuted(await a.blockNumber())
    } finally {
      await first.stop()
    }
  })

  afterEach(async () => {
    await b?.destroy()
    await proxy?.close()
    b = proxy = undefined
  })

  after(async () => {
    await source?.destroy()
    for (const dir of [synced, ...dirs]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  /** B's options on `dataDir`, with B's flags (startSnapNode's), A as its bootnode */
  async function optionsOn(dataDir: string, name: string, genesisFile?: string): Promise<NodeOptions> {
    return {
      name,
      genesisFile: genesisFile ?? source!.files.genesisFile,
      sync: 'snap',
      dataDir,
      bootnodes: [await a.enode()],
      prometheus: true,
      args: [`--snapPivotDistance=${PIVOT_DISTANCE}`],
      startTimeoutMs: 120_000,
    }
  }

  /** Starts B on `dataDir` with B's flags */
  const startOn = async (dataDir: string, name: string) => ClientNode.start(await optionsOn(dataDir, name))

  /** The start fails: exit code 1 and `message` in the output */
  const assertRefused = async (dataDir: string, name: string, message: RegExp, genesisFile?: string) =>
    assertStartRefused(await optionsOn(dataDir, name, genesisFile), message)

  /** B has A's state: the same answers at A's head, and a complete state of A's root once stopped */
  const assertSameStateAsA = async (node: ClientNode) => void (await assertSameStateAsSource(source!, node, 20))

  it('a data dir of another chain (same genesis file name): the stock genesis check, exit 1', async () => {
    const otherDir = tempDir('otherchain')
    const other = writeDevnet(generateDevnet({ ...DEVNET, seed: 'another chain' }), otherDir)
    await assertRefused(
      copyOf(synced, 'otherchain-data'),
      'B-otherchain',
      /The genesis block in the DB has a different hash than the provided genesis block/,
      other.genesisFile,
    )
  })

  it('a progress record of a newer version: exit 1, naming it', async () => {
    const dir = copyOf(synced, 'newer')
    await writeRecord(dir, JSON.stringify({ version: 99, handedOff: true }))
    await assertRefused(
      dir,
      'B-newer',
      new RegExp(
        /Error starting client: the snap sync progress record \(meta DB key snapsync:progress\) /.source +
          /is of version 99, written by a newer ethereumjs-snap/.source,
      ),
    )
  })

  it('a garbage progress record on a synced node: discarded, and the node follows from its own state', async () => {
    const dir = copyOf(synced, 'garbage')
    await writeRecord(dir, '{"version":1,"pivot":{"num')
    b = await startOn(dir, 'B-garbage')
    await b.waitForLog(
      new RegExp(
        /Snap sync: the progress record \(meta DB key snapsync:progress\) is unreadable /.source +
          /.*starting the state download over/.source,
      ),
    )
    await b.waitForLog(
      /Snap sync: the client already executes from block \d+ and holds its state; no state download needed/,
    )
    assert.equal(b.logLines(/Snap sync: pivot block=/).length, 0, 'no new pivot')
    await assertSameStateAsA(b)
  })

  it('a synced node whose state DB lost its newest writes: the state is downloaded again', async () => {
    const dir = copyOf(synced, 'truncated')
    truncateNewestLog(join(dir, NETWORK, 'state'))
    b = await startOn(dir, 'B-truncated')
    await b.waitForLog(
      new RegExp(
        /Snap sync: the state of the executed head, block \d+, is missing from the state DB /.source +
          /.*downloading the state of a new pivot again/.source,
      ),
    )
    await waitSnapDone(b, { timeoutMs: 300_000 })
    await assertSameStateAsA(b)
  })

  it('a sync killed midway whose state DB is then deleted: the restart completes the state', async () => {
    proxy = await ThrottledProxy.start(a.port, 32 * 1024)
    b = await startSnapNode(source!, {
      pivotDistance: PIVOT_DISTANCE,
      name: 'B-midway',
      bootnode: proxy.enodeVia(await a.enode()),
    })
    const node = b
    await killMidDownload(node, proxy)
    rmSync(join(node.dataDir, NETWORK, 'state'), { recursive: true, force: true })
    proxy.setRate(Infinity)
    b = await node.restart()
    await b.waitForLog(/Snap sync: resuming the state of pivot block/)
    // healed= counts the nodes fetched by the healing walk, which finds what the record claims and the DB lost
    console.log(`      ${(await waitSnapDone(b, { timeoutMs: 300_000 })).text}`)
    await assertSameStateAsA(b)
  })
})
