/**
 * The benchmark chain generator (bench/suites/chain.ts, evmcode.ts): its transactions create exactly
 * the accounts, contracts and slots its spec names, including the slots filled by calls after a
 * contract's creation, and blocks stay within the spec's gas.
 */
import { strict as assert } from 'node:assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { RLP } from '@ethereumjs/rlp'

import { sealChain } from '../../bench/suites/chain.js'
import { initKeccak } from '../../src/trie/keccak.js'

import type { ChainSpec } from '../../bench/suites/chain.js'

const SPEC: ChainSpec = {
  newAccounts: 50,
  // 1,000 slots: 80 in the creation, the rest in fill calls of up to ~130 slots (3M gas blocks)
  contracts: [
    { count: 1, slots: 1_000 },
    { count: 3, slots: 10 },
  ],
  distinctCodes: 2,
  blockGas: 3_000_000,
  seed: 'chain-spec',
}

describe('[bench chain]', () => {
  let dir: string

  before(async () => {
    await initKeccak()
    dir = mkdtempSync(join(tmpdir(), 'ejs-snap-benchchain-'))
  })

  after(() => rmSync(dir, { recursive: true, force: true }))

  it('creates the accounts, contracts and slots of its spec, in blocks within its gas', async function () {
    this.timeout(120_000)
    const built = await sealChain(SPEC, dir, () => {})
    // The signer, the disperser, 50 paid accounts and 4 contracts
    assert.equal(built.counts.accounts, 1 + 1 + 50 + 4)
    assert.equal(built.counts.slots, 1_000 + 3 * 10)
    // Accounts with code: the disperser and the contracts
    assert.equal(built.counts.codes, 5)
    assert.deepEqual([built.counts.missingNodes, built.counts.missingCodes, built.counts.corrupt], [0, 0, 0])
    assert.ok(built.gasUsed <= built.blocks * SPEC.blockGas, `${built.gasUsed} gas in ${built.blocks} blocks`)
    assert.ok(built.blocks > 10, `${built.blocks} blocks`)
    // chain.rlp holds every block, one after another
    let rest: Uint8Array = Uint8Array.from(readFileSync(join(dir, 'chain.rlp')))
    let blocks = 0
    for (; rest.length > 0; blocks++) rest = RLP.decode(rest, true).remainder
    assert.equal(blocks, built.blocks)
  })
})
