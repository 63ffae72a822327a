/**
 * The fork id an eth/68 Status carries, as `@ethereumjs/devp2p` (the patched dist file: under tsx the
 * package name resolves to its unpatched source) computes it from a Common at its current hardfork.
 */
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, intToBytes } from '@ethereumjs/util'

import { ETH } from '../../node_modules/@ethereumjs/devp2p/dist/esm/protocol/eth.js'

import type { Common } from '@ethereumjs/common'

export interface StatusForkId {
  /** The protocol object that sent the Status (its `_validateForkId` checks a peer's) */
  eth: ETH
  /** The fork hash, 0x-prefixed */
  hash: string
  /** The next fork's block or time, 0 for none */
  next: number
}

export function statusForkId(common: Common, genesisHash: Uint8Array, head = 1): StatusForkId {
  const sent: Uint8Array[][] = []
  const eth = new ETH(68, { common, _socket: {}, _hello: null, disconnect: () => {} } as never, (_c: number, p) =>
    sent.push(RLP.decode(p) as Uint8Array[]),
  )
  eth.sendStatus({ td: intToBytes(1), bestHash: genesisHash, genesisHash, latestBlock: intToBytes(head) })
  const [hash, next] = sent[0][5] as unknown as Uint8Array[]
  return { eth, hash: bytesToHex(hash), next: next.length === 0 ? 0 : Number(BigInt(bytesToHex(next))) }
}
