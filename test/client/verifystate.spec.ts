import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

import { RLP } from '@ethereumjs/rlp'
import { bigIntToBytes, concatBytes, utf8ToBytes } from '@ethereumjs/util'
import { verifyStateCommand } from '../../src/client/verifystate.js'
import { openBackendDB } from '../../src/db/backend.js'
import { fromHex, toHex, toHex0x } from '../../src/trie/hex.js'
import { initKeccak, keccak256 } from '../../src/trie/keccak.js'
import { decodeNode } from '../../src/trie/node.js'
import { STATE_ENCODINGS, StateWriter, nodeKey } from '../../src/trie/statedb.js'

import { DB_BACKENDS } from '../helpers/db.js'
import { ETHTEST_ROOT, loadEthtestState } from '../trie/ethtest.js'
import { writeState } from '../trie/helpers.js'

import type { DbBackend } from '../helpers/db.js'

/** Writes a `chain` DB with one head block, in @ethereumjs/blockchain's key layout. */
async function writeChainHead(chainDir: string, backend: DbBackend, header: Uint8Array[]): Promise<void> {
  const db = openBackendDB<Uint8Array, Uint8Array>(chainDir, backend, { keyEncoding: 'view', valueEncoding: 'view' })
  const rlp = RLP.encode(header)
  const hash = keccak256(rlp)
  const number = 600n
  await db.batch([
    { type: 'put', key: utf8ToBytes('heads'), value: utf8ToBytes(JSON.stringify({ vm: toHex(hash) })) },
    { type: 'put', key: concatBytes(utf8ToBytes('H'), hash), value: bigIntToBytes(number) },
    { type: 'put', key: concatBytes(utf8ToBytes('h'), bigIntToBytes(number), hash), value: rlp },
  ])
  await db.close()
}

/** Names, sizes and modification times of the files in `dir`: what must not change */
function snapshotFiles(dir: string): string[] {
  return readdirSync(dir).map((name) => {
    const s = statSync(join(dir, name))
    return `${name} ${s.size} ${s.mtimeMs}`
  })
}

for (const backend of DB_BACKENDS)
  describe(`[verifyStateCommand] (${backend})`, () => {
    const other: DbBackend = backend === 'level' ? 'rocksdb' : 'level'
    let dataDir: string
    let root: Uint8Array
    const lines: string[] = []
    const out = (line: string) => lines.push(line)

    before(async function () {
      this.timeout(60_000)
      await initKeccak()
      dataDir = mkdtempSync(join(tmpdir(), 'snap-verify-'))
      mkdirSync(join(dataDir, 'ethtest'))
      const db = openBackendDB<string, Uint8Array>(join(dataDir, 'ethtest', 'state'), backend, STATE_ENCODINGS)
      root = await writeState(new StateWriter(db), loadEthtestState())
      await db.close()
      // A header whose state root field is the ethtest root (the other fields do not matter here)
      const header: Uint8Array[] = Array.from({ length: 16 }, () => new Uint8Array(0))
      header[3] = fromHex(ETHTEST_ROOT)
      await writeChainHead(join(dataDir, 'ethtest', 'chain'), backend, header)
    })

    after(() => {
      rmSync(dataDir, { recursive: true, force: true })
    })

    beforeEach(() => {
      lines.length = 0
    })

    it('complete state, root from the chain head: exit 0 and the counts', async () => {
      assert.equal(await verifyStateCommand(['--dataDir', dataDir], out), 0)
      assert.ok(
        lines.some((l) => l.includes(`state root ${ETHTEST_ROOT}`)),
        lines.join('\n'),
      )
      assert.ok(lines.includes(`state ${ETHTEST_ROOT}: complete`), lines.join('\n'))
      assert.ok(
        lines.some((l) => /^accounts 194, slots 2164, codes 65, nodes \d+$/.test(l)),
        lines.join('\n'),
      )
      assert.ok(lines.includes(`walking ${join(dataDir, 'ethtest', 'state')} (${backend})`), lines.join('\n'))
    })

    it(`--db=${other}: exit 2 naming the backend that made the data dir, nothing changed in it`, async () => {
      const dirs = ['chain', 'state'].map((name) => join(dataDir, 'ethtest', name))
      const before = dirs.map(snapshotFiles)
      for (const root of [[], ['--root', ETHTEST_ROOT]]) {
        lines.length = 0
        assert.equal(await verifyStateCommand(['--dataDir', dataDir, '--db', other, ...root], out), 2)
        const dir = dirs[root.length === 0 ? 0 : 1]
        assert.ok(
          lines.some(
            (l) =>
              l.startsWith(`verify-state: ${dir} is a `) &&
              l.includes(`(made with --db=${backend}) and was opened with --db=${other}: use --db=${backend}`),
          ),
          lines.join('\n'),
        )
      }
      assert.deepEqual(dirs.map(snapshotFiles), before)
      assert.equal(await verifyStateCommand(['--dataDir', dataDir, '--db', backend], out), 0)
    })

    it('--db that names no backend: exit 2 with the message', async () => {
      assert.equal(await verifyStateCommand(['--dataDir', dataDir, '--db', 'leveldb'], out), 2)
      assert.ok(lines.includes('verify-state: --db must be level or rocksdb, got leveldb'), lines.join('\n'))
    })

    it('one node deleted: non-zero exit, and it names the missing node', async () => {
      const db = openBackendDB<string, Uint8Array>(join(dataDir, 'ethtest', 'state'), backend, STATE_ENCODINGS)
      const [rootNode] = await db.getMany([nodeKey(root)], STATE_ENCODINGS)
      const node = decodeNode(rootNode!)
      const child = node.kind === 'branch' ? node.children.find((c) => c !== undefined)! : new Uint8Array(0)
      await db.batch([{ type: 'del', key: nodeKey(child) }], STATE_ENCODINGS)
      await db.close()
      assert.equal(await verifyStateCommand(['--dataDir', dataDir, '--root', ETHTEST_ROOT], out), 1)
      assert.ok(
        lines.some((l) => l.startsWith(`missing node ${toHex0x(child)} at path `)),
        lines.join('\n'),
      )
      assert.ok(lines.includes(`state ${ETHTEST_ROOT}: INCOMPLETE`), lines.join('\n'))
      assert.ok(
        lines.some((l) => /^missing nodes 1, missing codes 0, corrupt 0$/.test(l)),
        lines.join('\n'),
      )
    })

    it('bad arguments: exit 2 with the usage line', async () => {
      assert.equal(await verifyStateCommand(['--root', ETHTEST_ROOT], out), 2)
      assert.ok(lines.some((l) => l.startsWith('usage:')))
    })

    it('runs as `ethereumjs-snap verify-state` through src/cli.ts', async function () {
      this.timeout(60_000)
      const cli = new URL('../../src/cli.ts', import.meta.url).pathname
      const run = promisify(execFile)
      const err = await run(
        process.execPath,
        ['--import', 'tsx', cli, 'verify-state', '--dataDir', dataDir, '--network', 'ethtest'],
        { cwd: new URL('../../', import.meta.url).pathname },
      ).catch((e: { code: number; stdout: string }) => e)
      assert.ok('code' in err && err.code === 1, 'exit code 1: the node deleted above is missing')
      assert.match(err.stdout, /INCOMPLETE/)
    })
  })
