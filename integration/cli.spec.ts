/**
 * The user's entry point as a process: `ethereumjs-snap` is the client CLI with the plugin in it.
 */
import { strict as assert } from 'node:assert'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { CLI, freePort, generateDevnet, writeDevnet } from './harness/index.js'

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

  it('--sync=snap never falls back to full sync: it says why and exits non-zero', async () => {
    const port = await freePort()
    const dataDir = join(dir, 'snap')
    const { status, output } = runCli([
      `--gethGenesis=${files.genesisFile}`,
      `--dataDir=${dataDir}`,
      `--port=${port}`,
      '--discV4=false',
      '--discDns=false',
      '--sync=snap',
    ])
    assert.equal(status, 1, output)
    assert.match(output, /--sync=snap: the snap synchronizer is not implemented yet/)
    assert.doesNotMatch(output, /FullSynchronizer/)
  })
})
