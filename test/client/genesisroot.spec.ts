/**
 * The genesis state root is computed at every start from the genesis file's alloc, before the DB is
 * looked at. Stock, `genesisMPTStateRoot` hashed it with the pure-JS keccak whatever the client had set
 * up (the WASM one by default): 20 s of a start on a 20k-account devnet, 12 s with the patch
 * (patches/@ethereumjs+mpt+10.0.0.patch, patches/@ethereumjs+blockchain+10.0.0.patch; docs/upstream.md).
 * The root, and so the genesis block, must not change. The packages are patched in every build (ESM,
 * CommonJS, TypeScript source): these tests load the CommonJS one, the client the ESM one.
 */
import { strict as assert } from 'node:assert'
import { readFileSync } from 'node:fs'

import { createBlockchain, genGenesisStateRoot } from '@ethereumjs/blockchain'
import { createCommonFromGethGenesis, parseGethGenesisState } from '@ethereumjs/common'
import { genesisMPTStateRoot } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex } from '@ethereumjs/util'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

import { ETHTEST_DIR } from '../trie/ethtest.js'

/** The ethtest devnet's common with a counting keccak, and its genesis alloc */
function ethtestGenesis() {
  const json = JSON.parse(readFileSync(`${ETHTEST_DIR}genesis.json`, 'utf8'))
  const hashed: Uint8Array[] = []
  const common = createCommonFromGethGenesis(json, {
    chain: 'ethtest',
    customCrypto: {
      keccak256: (msg: Uint8Array) => {
        hashed.push(msg)
        return keccak256(msg)
      },
    },
  })
  return { common, state: parseGethGenesisState(json), hashed }
}

/** The parent hash of block 1 in the ethtest chain.rlp: the genesis block's hash */
function ethtestGenesisHash(): string {
  const rlp = Uint8Array.from(readFileSync(`${ETHTEST_DIR}chain.rlp`))
  const first = RLP.decode(rlp, true).data as unknown as Uint8Array[][]
  return bytesToHex(first[0][0])
}

describe('[genesis root] computed with the keccak the client set up', () => {
  it("genGenesisStateRoot hashes with the common's keccak, to the same root as the default one", async () => {
    const { common, state, hashed } = ethtestGenesis()
    const stock = await genesisMPTStateRoot(state)
    assert.equal(hashed.length, 0)
    const root = await genGenesisStateRoot(state, common)
    assert.equal(bytesToHex(root), bytesToHex(stock))
    // Every node and hashed key: far more than the 27 accounts' keys
    assert.ok(hashed.length > 27, `${hashed.length} hashes through the common's keccak`)
  })

  it("the genesis block built from it is the ethtest chain's genesis", async () => {
    const { common, state, hashed } = ethtestGenesis()
    const blockchain = await createBlockchain({ common, genesisState: state, validateConsensus: false })
    assert.equal(bytesToHex(blockchain.genesisBlock.hash()), ethtestGenesisHash())
    assert.ok(hashed.length > 0)
  })
})
