import { strict as assert } from 'node:assert'

import { backedTarget, retarget } from '../../../src/sync/synchronizer/synctarget.js'

import type { TargetPeer } from '../../../src/sync/synchronizer/synctarget.js'

const peer = (head?: bigint): TargetPeer => ({
  eth: { updatedBestHeader: head === undefined ? undefined : { number: head } },
})

describe('[synctarget]', () => {
  it('backedTarget: the highest head a connected peer served, at least the local height', () => {
    assert.equal(backedTarget([peer(120n), peer(), peer(130n), {}], 100n), 130n)
    assert.equal(backedTarget([peer(), {}], 100n), 100n)
    assert.equal(backedTarget([], 7n), 7n)
  })

  // Seen with real processes: a peer announcing a made-up head 1,000,000 blocks up raised the target;
  // once it was banned, the honest peer was asked for that height forever and the node stopped following
  it('a target only a banned peer claimed falls back to what the peers left have shown', () => {
    assert.equal(retarget(1_000_007n, [peer(128n)], 40n), 128n)
    assert.equal(retarget(1_000_007n, [], 0n), 0n)
  })

  it('a target the connected peers back, or none: kept', () => {
    assert.equal(retarget(128n, [peer(128n)], 40n), undefined)
    assert.equal(retarget(100n, [], 100n), undefined)
    assert.equal(retarget(undefined, [peer(128n)], 40n), undefined)
  })
})
