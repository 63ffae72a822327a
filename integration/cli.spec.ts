/**
 * The user's entry point as a process: `ethereumjs-snap` is the client CLI with the plugin in it.
 */
import { strict as assert } from 'node:assert'
import { execFile, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { CLI, ClientNode, freePort, generateDevnet, writeDevnet } from './harness/index.js'

import type { DevnetFiles } from './harness/index.js'

function runCli(args: string[], timeout = 90_000) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/** runCli without blocking, so that several refusals run at once */
function runCliAsync(args: string[], timeout = 90_000): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout }, (err, stdout, stderr) => {
      resolve({
        status: err === null ? 0 : typeof err.code === 'number' ? err.code : null,
        output: `${stdout}${stderr}`,
      })
    })
  })
}

describe('[ethereumjs-snap CLI]', () => {
  let dir: string
  let files: DevnetFiles

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ejs-snap-cli-'))
    files = writeDevnet(generateDevnet({ accounts: 10, contracts: 2, slotsPerContract: 2 }), dir)
  })

  after(() => rmSync(dir, { recursive: true, force: true }))

  it('--help lists snap among the --sync choices and the plugin options', () => {
    const { status, output } = runCli(['--help'])
    assert.equal(status, 0, output)
    assert.match(output, /--sync[^\n]*\n[^\n]*\n[^\n]*choices: "full", "none", "snap"/)
    assert.match(output, /--snapServe/)
    assert.match(output, /--db +Storage backend of the chain, state and meta DBs[\s\S]{0,300}\[default: "level"\]/)
    // stock client options are all still there
    for (const flag of ['--gethGenesis', '--bootnodes', '--mine', '--prometheus', '--rpc']) {
      assert.ok(output.includes(flag), flag)
    }
  })

  it('rejects an unknown --sync value like the stock client', () => {
    const { status, output } = runCli(['--sync=light'])
    assert.notEqual(status, 0)
    assert.match(output, /Invalid values:[\s\S]*sync/)
  })

  it(
    'a bad snap flag, a flag that contradicts --sync=snap, a repeated flag, ' +
      "or the client's own --snap: a clear message and exit code 1",
    async () => {
      const base = [
        `--gethGenesis=${files.genesisFile}`,
        `--port=${await freePort()}`,
        '--discV4=false',
        '--discDns=false',
      ]
      const cases = [
        {
          args: ['--sync=snap', '--snapMinPeers=0'],
          message: /--snapMinPeers must be a whole number from 1 to 64, got 0/,
        },
        {
          args: ['--sync=snap', '--snapPivotDistance=200'],
          message: /--snapPivotDistance must be a whole number from 1 to 120, got 200/,
        },
        { args: ['--snap'], message: /use --sync=snap/ },
        // yargs reads a word given to a number option as NaN
        {
          args: ['--sync=snap', '--snapPivotDistance=abc'],
          message: /--snapPivotDistance must be a whole number from 1 to 120, got NaN/,
        },
        {
          args: ['--sync=snap', '--snapRequestRate=-5'],
          message: /--snapRequestRate must be a whole number from 0 to 10000, got -5/,
        },
        {
          args: ['--sync=snap', '--isSingleNode'],
          message: /--sync=snap cannot run with --isSingleNode: a single node has no peer to download the state from/,
        },
        {
          args: ['--sync=snap', '--prefixStorageTrieKeys=false'],
          message: /--sync=snap cannot run with --prefixStorageTrieKeys=false/,
        },
        {
          args: ['--sync=snap', '--useStringValueTrieDB'],
          message: /--sync=snap cannot run with --useStringValueTrieDB/,
        },
        {
          args: ['--sync=snap', '--maxPeers=2', '--snapMinPeers=3'],
          message: /--sync=snap with --maxPeers=2: the pivot needs --snapMinPeers=3 peers/,
        },
        { args: ['--db=leveldb'], message: /--db must be level or rocksdb, got leveldb/ },
        { args: ['--ethVersions=68,71'], message: /Invalid --ethVersions entry "71" \(supported: 66,67,68,69,70\)/ },
        {
          args: ['--ethVersions=69', '--ethVersions=70'],
          message: /--ethVersions was given more than once: give it once, comma-separated/,
        },
        // The stock client took it silently and logged nothing at all
        {
          args: ['--logLevel=info', '--logLevel=debug'],
          message: /--logLevel was given 2 times \(info, debug\): give it once/,
        },
      ]
      // Three at a time: each is a client start-up (seconds of CPU) that ends before it binds a port
      for (let at = 0; at < cases.length; at += 3) {
        const batch = cases.slice(at, at + 3)
        const results = await Promise.all(
          batch.map((c, i) => runCliAsync([...base, `--dataDir=${join(dir, `bad${at + i}`)}`, ...c.args])),
        )
        for (const [i, { status, output }] of results.entries()) {
          assert.equal(status, 1, `${batch[i].args.join(' ')}\n${output}`)
          assert.match(output, batch[i].message)
          assert.doesNotMatch(output, /^\s+at /m, 'no stack trace')
        }
      }
    },
  )

  it(
    'has no lying mode: --snapTestLies (once a hidden test flag, now integration/harness/lyingnode.ts) ' +
      'is an unknown argument',
    async () => {
      const refused = runCli([
        `--gethGenesis=${files.genesisFile}`,
        `--dataDir=${join(dir, 'lies')}`,
        `--port=${await freePort()}`,
        '--discV4=false',
        '--discDns=false',
        '--snapTestLies=corrupt',
      ])
      assert.equal(refused.status, 1, refused.output)
      assert.match(refused.output, /Unknown argument: snapTestLies/)
      assert.doesNotMatch(runCli(['--help']).output, /snapTestLies/)
    },
  )

  it('--sync=snap names snap sync at start-up and runs the snap synchronizer, never full sync', async () => {
    const node = await ClientNode.start({ name: 'snapstart', genesisFile: files.genesisFile, sync: 'snap' })
    try {
      await node.waitFor(async () => /Snap sync: waiting: 0 of 1 peers/.test(node.logTail(100)), {
        what: 'the snap sync waiting for peers',
      })
      const log = node.logTail(200)
      assert.match(log, /Snap sync mode/)
      assert.doesNotMatch(log, /Full sync mode/)
      assert.match(log, /with SnapSynchronizer/)
      const syncing = await node.rpc<{ snapPhase: string } | false>('eth_syncing')
      assert.ok(syncing !== false && syncing.snapPhase === 'pivot', JSON.stringify(syncing))
    } finally {
      await node.destroy()
    }
  })
})
