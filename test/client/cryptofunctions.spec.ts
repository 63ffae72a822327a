/**
 * The client's crypto functions (`getCryptoFunctions` in `bin/utils.js`, WASM by default, JS with
 * `--useJsCrypto`) as `@ethereumjs/*` 10.1 calls them. Its `ecsign` must return noble-curves 2's
 * recovered signature (65 bytes: recovery, r, s), which transaction signing and clique sealing take
 * apart. The client's returned `{ r, s, recovery }`: every clique miner failed with "sigBytes.subarray is
 * not a function" at its first block (patched: docs/upstream.md). devp2p 10.0.0 signs its RLPx and
 * discovery handshakes with the same function and reads `{ r, s, recovery }`: its patch takes either form
 * (`rsvSignature`).
 */
import { strict as assert } from 'node:assert'

import { cliqueSigner, createSealedCliqueBlockHeader } from '@ethereumjs/block'
import { getCryptoFunctions } from '@ethereumjs/client/dist/esm/bin/utils.js'
import { createCommonFromGethGenesis } from '@ethereumjs/common'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import {
  bigIntToBytes,
  concatBytes,
  createAddressFromPrivateKey,
  createAddressFromString,
  hexToBytes,
  setLengthLeft,
} from '@ethereumjs/util'
import { ecdsaRecover, publicKeyCreate } from 'ethereum-cryptography/secp256k1-compat.js'

import { LONDON_AT_GENESIS } from '../../integration/harness/genesis.js'
import { rsvSignature } from '../../node_modules/@ethereumjs/devp2p/dist/esm/util.js'

import type { GethGenesis } from '@ethereumjs/common'

const KEY = hexToBytes(`0x${'2b'.repeat(32)}`)
const SIGNER = createAddressFromPrivateKey(KEY).toString()

function cliqueGenesis() {
  return {
    config: {
      chainId: 61_998,
      ...LONDON_AT_GENESIS,
      clique: { period: 1, epoch: 30000 },
    },
    nonce: '0x0',
    timestamp: '0x0',
    gasLimit: '0x1c9c380',
    difficulty: '0x1',
    baseFeePerGas: '0x7',
    mixHash: `0x${'00'.repeat(32)}`,
    coinbase: `0x${'00'.repeat(20)}`,
    extraData: `0x${'00'.repeat(32)}${SIGNER.slice(2)}${'00'.repeat(65)}`,
    alloc: {},
  }
}

describe("[crypto functions] the client's signer, as @ethereumjs 10.1 calls it", () => {
  for (const useJsCrypto of [false, true]) {
    const name = useJsCrypto ? 'JS' : 'WASM (the default)'
    it(`${name}: a signed transaction recovers to the key, a sealed clique header to the signer`, async () => {
      const customCrypto = await getCryptoFunctions(useJsCrypto)
      const common = createCommonFromGethGenesis(cliqueGenesis() as unknown as GethGenesis, {
        chain: 'crypto-test',
        customCrypto,
      })
      const tx = createFeeMarket1559Tx(
        {
          nonce: 3n,
          maxFeePerGas: 10n ** 10n,
          maxPriorityFeePerGas: 1n,
          gasLimit: 21_000n,
          to: createAddressFromString(`0x${'ab'.repeat(20)}`),
          value: 5n,
        },
        { common },
      ).sign(KEY)
      assert.ok(tx.verifySignature())
      assert.equal(tx.getSenderAddress().toString(), SIGNER)
      // as the client's miner seals (unfrozen: the seal is written into the header)
      const header = createSealedCliqueBlockHeader({ number: 1n, timestamp: 1n }, KEY, { common, freeze: false })
      assert.equal(cliqueSigner(header).toString(), SIGNER)
    })

    it(`${name}: devp2p reads the signature of its handshakes as the public key that signed`, async () => {
      const { ecsign } = await getCryptoFunctions(useJsCrypto)
      const message = hexToBytes(`0x${'5e'.repeat(32)}`)
      const { r, s, recovery } = rsvSignature(ecsign!(message, KEY) as never)
      const compact = concatBytes(setLengthLeft(bigIntToBytes(r), 32), setLengthLeft(bigIntToBytes(s), 32))
      assert.deepEqual(ecdsaRecover(compact, recovery, message, false), publicKeyCreate(KEY, false))
    })
  }
})
