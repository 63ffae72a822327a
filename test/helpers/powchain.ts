/** A proof-of-work chain that never merges, for synchronizer tests: the sync peer is chosen by total difficulty */
import { createBlock } from '@ethereumjs/block'
import { createCommonFromGethGenesis } from '@ethereumjs/common'

import type { Block, HeaderData } from '@ethereumjs/block'
import type { Common, GethGenesis } from '@ethereumjs/common'

/** Every fork up to London at block 0, ethash, no allocations */
export function powCommon(): Common {
  const forks = [
    'homestead',
    'eip150',
    'eip155',
    'eip158',
    'byzantium',
    'constantinople',
    'petersburg',
    'istanbul',
    'berlin',
    'london',
  ]
  const genesis = {
    config: { chainId: 61_998, ...Object.fromEntries(forks.map((f) => [`${f}Block`, 0])), ethash: {} },
    nonce: '0x0',
    timestamp: '0x0',
    gasLimit: '0x1c9c380',
    difficulty: '0x20000',
    baseFeePerGas: '0x7',
    mixHash: `0x${'00'.repeat(32)}`,
    coinbase: `0x${'00'.repeat(20)}`,
    extraData: '0x',
    alloc: {},
  }
  return createCommonFromGethGenesis(genesis as unknown as GethGenesis, { chain: 'pow-test' })
}

/** `count` blocks on `parent` with the difficulty the chain asks; `fields` go into every header */
export function blocksOn(parent: Block, count: number, fields: HeaderData = {}): Block[] {
  const blocks: Block[] = []
  for (let p = parent, i = 0; i < count; i++) {
    const header = {
      number: p.header.number + 1n,
      parentHash: p.hash(),
      timestamp: p.header.timestamp + 13n,
      gasLimit: p.header.gasLimit,
      ...fields,
    }
    p = createBlock({ header }, { common: parent.common, calcDifficultyFromHeader: p.header, setHardfork: true })
    blocks.push(p)
  }
  return blocks
}
