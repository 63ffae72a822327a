/**
 * The user's entry point as a process: `ethereumjs-snap` is the client CLI with the plugin in it.
 */
import { strict as assert } from 'node:assert'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { CLI, ClientNode, freePort, generateDevnet, writeDevnet } from './harness/index.js'

import type { DevnetFiles } from './harness/index.js'

function runCli(args: string[], timeout = 90_000) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
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

  it('a bad snap flag or the client\'s own --snap: a clear message and exit code 1', async () => {
    const base = [`--gethGenesis=${files.genesisFile}`, `--port=${await freePort()}`, '--discV4=false', '--discDns=false']
    const cases = [
      { args: ['--sync=snap', '--snapMinPeers=0'], message: /--snapMinPeers must be a whole number from 1 to 64, got 0/ },
      { args: ['--sync=snap', '--snapPivotDistance=200'], message: /--snapPivotDistance must be a whole number from 1 to 120, got 200/ },
      { args: ['--snap'], message: /use --sync=snap/ },
    ]
    for (const [i, c] of cases.entries()) {
      const { status, output } = runCli([...base, `--dataDir=${join(dir, `bad${i}`)}`, ...c.args])
      assert.equal(status, 1, output)
      assert.match(output, c.message)
    }
  })

  it('refuses the test-only --snapTestLies on a named network, and keeps it out of --help', async () => {
    const refused = runCli([`--dataDir=${join(dir, 'lies')}`, `--port=${await freePort()}`, '--discV4=false', '--discDns=false', '--snapTestLies=corrupt'])
    assert.equal(refused.status, 1, refused.output)
    assert.match(refused.output, /--snapTestLies makes the snap server lie to its peers: .* refused on mainnet/)
    assert.doesNotMatch(runCli(['--help']).output, /snapTestLies/)
  })

  it('--sync=snap names snap sync at start-up and runs the snap synchronizer, never full sync', async () => {
    const node = await ClientNode.start({ name: 'snapstart', genesisFile: files.genesisFile, sync: 'snap' })
    try {
      await node.waitFor(async () => /Snap sync: waiting: 0 of 1 peers/.test(node.logTail(100)), { what: 'the snap sync waiting for peers' })
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
