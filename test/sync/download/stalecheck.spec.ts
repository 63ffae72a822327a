/**
 * The staleness timer's look for a newer pivot fails (a header request to a peer that left, a bug):
 * the download goes on with its pivot, and the failure is a warning, not a debug line no one sees.
 */
import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { MemoryLevel } from 'memory-level'

import { ProgressStore } from '../../../src/sync/download/progressrecord.js'
import { StateDownload } from '../../../src/sync/download/statedownload.js'

import { assertSynced } from '../checkstate.js'
import { FakePeerSource, FakeSnapPeer } from '../fakepeer.js'
import { buildFakeState, emptyStateLevel } from '../fakestate.js'
import { TEST_SYNC_OPTIONS, WATCHDOG_MS } from '../syncrun.js'

import type { PivotSource } from '../../../src/sync/pivot/pivotsource.js'
import type { ProgressDB } from '../../../src/sync/download/progressrecord.js'

const common = new Common({ chain: Mainnet, hardfork: Hardfork.London })

describe('[StateDownload] the staleness check fails', function () {
  this.timeout(WATCHDOG_MS + 5_000)

  it('a warning naming why; the state still completes at its pivot', async () => {
    const s = await buildFakeState({ accounts: 300, contracts: 20, slots: 8, seed: 3 })
    const peer = new FakeSnapPeer(s, { behaviour: 'slow', slowMs: 2 })
    const header = createBlockHeader({ number: 10n, stateRoot: s.root, gasLimit: 30_000_000n }, { common })
    // The first look names the pivot; the staleness timer's looks fail
    let looks = 0
    let failedLook: () => void = () => {}
    const lookFailed = new Promise<void>((resolve) => (failedLook = resolve))
    const pivots: PivotSource = {
      lookup: async () => {
        if (looks++ === 0) return { pivot: { header, head: header, supporters: ['p'], namedBy: 'a test' } }
        failedLook()
        throw new Error('GetBlockHeaders to peer p: peer disconnected')
      },
      holds: async () => true,
    }
    // The account replies wait for a failed look: the check runs while the state downloads
    peer.hold(['accounts'], lookFailed)
    const lines: { level: string; message: string }[] = []
    const at = (level: string) => (message: string) => lines.push({ level, message })
    const log = { info: at('info'), warn: at('warn'), debug: at('debug') }
    const db = emptyStateLevel()
    const meta = new MemoryLevel<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8' })
    const d = new StateDownload(
      db,
      new ProgressStore(meta as unknown as ProgressDB),
      new FakePeerSource([peer]),
      pivots,
      log,
      {
        accountTasks: 4,
        waitMs: 10,
        stateSync: TEST_SYNC_OPTIONS,
        staleCheckMs: 5,
      },
    )
    await d.load()
    const pivot = await d.run(AbortSignal.timeout(WATCHDOG_MS))
    assert.equal(pivot.number, 10n)
    await assertSynced(db, s)
    const failed = lines.filter((l) => /staleness check failed: GetBlockHeaders to peer p/.test(l.message))
    assert.ok(failed.length > 0, 'a failed check was logged')
    assert.deepEqual(new Set(failed.map((l) => l.level)), new Set(['warn']))
  })
})
