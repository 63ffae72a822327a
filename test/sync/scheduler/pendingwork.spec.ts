/**
 * The syncer's memory for pending work is bounded by its configuration, not by the state's size:
 * the same sync over a state and over one three times larger, at two batch caps, holds at most the
 * same number of account batches, of the same bytes, with the storage tries and codes of their
 * accounts only. Storage and code replies come slowly, so that the account ranges run ahead until the
 * cap stops them: every run reaches its bound.
 */
import { strict as assert } from 'node:assert'

import { DEFAULT_TRACKER_OPTIONS } from '../../../src/sync/peers/peertracker.js'

import { buildFakeState } from '../fakestate.js'
import { FakeSnapPeer } from '../fakepeer.js'
import { SyncRun } from '../syncrun.js'

import type { PendingWork } from '../../../src/sync/scheduler/pendingwork.js'
import type { BehaviourPlan } from '../fakepeer.js'
import type { FakeState } from '../fakestate.js'

/** 4 KiB requests: ~35 accounts a reply, so a state of a few thousand accounts takes ~100 replies */
const REQUEST_BYTES = 2048
const PEERS = 2
/** Account replies that may be in flight when the cap is reached: every peer's requests */
const IN_FLIGHT = PEERS * DEFAULT_TRACKER_OPTIONS.maxInFlight
/** Storage and codes come slowly, accounts at once */
const SLOW_STORAGE: BehaviourPlan = { storage: 'slow', codes: 'slow' }
const SLOW_MS = 200
/**
 * A verified range's nodes per byte of its reply (measured ~3.7 for plain accounts): a slim body
 * grows by up to two 32-byte hashes in full form, each node is held with its 32-byte hash, and the
 * leaves carry their paths and the branches above them
 */
const NODE_BYTES_PER_REPLY_BYTE = 5

/** Two caps of `StateSyncOptions.maxPendingBatches` */
const CAPS = [3, 8]

const spec = (scale: number) => ({
  seed: 7,
  accounts: 1000 * scale,
  contracts: 200 * scale,
  slots: 4,
  largeContracts: scale,
  largeSlots: 600,
})

interface Observed {
  readonly max: PendingWork
  /** Bytes of every account-trie node written: what the sync would hold if memory followed the state */
  readonly accountNodeBytes: number
}

/**
 * Syncs `state` with account batches capped at `cap` from peers whose storage and code replies take
 * {@link SLOW_MS}: the account ranges run ahead until the cap stops them
 */
async function observe(state: FakeState, cap: number): Promise<Observed> {
  const peers = Array.from(
    { length: PEERS },
    (_, i) => new FakeSnapPeer(state, { id: `slow-storage-${i}`, behaviour: SLOW_STORAGE, slowMs: SLOW_MS }),
  )
  const max: PendingWork = {
    accountBatches: 0,
    accountBatchBytes: 0,
    batchedAccounts: 0,
    storageTries: 0,
    codes: 0,
    trieNodes: 0,
    writerPuts: 0,
    requests: 0,
  }
  let accountNodeBytes = 0
  const run = new SyncRun(state, peers, {
    accountTasks: 4,
    sync: { requestBytes: REQUEST_BYTES, maxPendingBatches: cap },
    // No slow peer is dropped
    tracker: { minTimeoutMs: 5_000, maxTimeoutMs: 5_000 },
    // Persisted at every turn of the scheduler's loop (TEST_SYNC_OPTIONS)
    onPersist: (r) => {
      const now = r.sync.pendingWork()
      for (const k of Object.keys(max) as (keyof PendingWork)[]) max[k] = Math.max(max[k], now[k])
    },
  })
  const write = run.sync.ctx.writer.putNodes.bind(run.sync.ctx.writer)
  run.sync.ctx.writer.putNodes = (nodes, owner, opts) => {
    if (owner === undefined) for (const n of nodes) accountNodeBytes += n.hash.length + n.rlp.length
    write(nodes, owner, opts)
  }
  await run.complete()
  return { max, accountNodeBytes }
}

describe('StateSync pending work', function () {
  this.timeout(60_000)
  const states: FakeState[] = []
  /** Observations by cap, for the small state then the large one */
  const observed = new Map<number, Observed[]>()

  before(async () => {
    states.push(await buildFakeState(spec(1)), await buildFakeState(spec(3)))
  })

  for (const cap of CAPS) {
    it(`holds at most ${cap} account batches and their dependencies, whatever the state's size`, async () => {
      const bound = (cap + IN_FLIGHT) * REQUEST_BYTES * NODE_BYTES_PER_REPLY_BYTE
      const runs: Observed[] = []
      for (const state of states) {
        const { max, accountNodeBytes } = await observe(state, cap)
        runs.push({ max, accountNodeBytes })
        const size = `${state.accounts.length} accounts`
        // The cap was reached (the bound was exercised) and never passed by more than the replies in flight
        assert.ok(max.accountBatches >= cap, `${size}: cap ${cap} never reached (${max.accountBatches})`)
        assert.ok(max.accountBatches <= cap + IN_FLIGHT, `${size}: ${max.accountBatches} batches, cap ${cap}`)
        assert.ok(max.accountBatchBytes <= bound, `${size}: ${max.accountBatchBytes} B held, bound ${bound}`)
        // Storage tries and codes are queued for batched accounts only
        assert.ok(max.storageTries <= max.batchedAccounts, `${size}: ${max.storageTries} storage tries`)
        assert.ok(max.codes <= max.batchedAccounts, `${size}: ${max.codes} codes`)
      }
      // What was held is a fraction of what the large state holds: memory did not follow the state
      assert.ok(runs[1].accountNodeBytes > 2 * bound, `the state (${runs[1].accountNodeBytes} B) is within the bound`)
      observed.set(cap, runs)
    })
  }

  it('holds no more at three times the state, and more under a higher cap', () => {
    const [low, high] = CAPS.map((cap) => observed.get(cap))
    assert.ok(low !== undefined && high !== undefined, 'the runs above failed')
    for (const [small, large] of [low, high]) {
      assert.ok(large.accountNodeBytes > 2.5 * small.accountNodeBytes, 'the large state is not three times larger')
      // The larger state's peak is what the cap allows, not three times the smaller one's
      assert.ok(large.max.accountBatchBytes < 1.5 * small.max.accountBatchBytes, `${large.max.accountBatchBytes} B`)
      assert.ok(large.max.batchedAccounts < 1.5 * small.max.batchedAccounts, `${large.max.batchedAccounts} accounts`)
    }
    // The bound follows the configuration
    assert.ok(high[1].max.accountBatches > low[1].max.accountBatches)
  })
})
