/**
 * A raw eth peer for tests: connects to a client on loopback with `@ethereumjs/devp2p` offering one eth
 * version (68, 69 or 70), completes the Status handshake, and asks for receipts. The patched devp2p and
 * the client's receipt wire forms are loaded from their dist files: under tsx the package names resolve
 * to the unpatched TypeScript sources.
 */
import { randomBytes } from 'node:crypto'

import { bigIntToUnpaddedBytes, bytesToBigInt, hexToBytes, intToUnpaddedBytes } from '@ethereumjs/util'

// The dist file of the patched devp2p (its types are the stock ones)
import * as devp2p from '../../node_modules/@ethereumjs/devp2p/dist/esm/index.js'
// A file added by the client patch
import { receiptFromWire } from '../../node_modules/@ethereumjs/client/dist/esm/src/net/protocol/receipts.js'
import { type ChainInfo, commonOf } from '../snapPeer.js'

import type { NestedUint8Array } from '@ethereumjs/rlp'

const GET_RECEIPTS = 0x0f
const RECEIPTS = 0x10

/** A receipt as the client's decoder gives it */
export interface WireReceipt {
  cumulativeBlockGasUsed: bigint
  bitvector: Uint8Array
  logs: [Uint8Array, Uint8Array[], Uint8Array][]
  txType: number
  status?: number
  stateRoot?: Uint8Array
}

/** A Receipts answer: one list per block, and eth/70's flag for a cut last list */
export interface ReceiptsAnswer {
  receipts: WireReceipt[][]
  lastBlockIncomplete: boolean
}

/** A connected eth peer */
export interface EthConnection {
  /** The version negotiated */
  readonly version: number
  /** The remote side's Status as devp2p decoded it */
  readonly status: Record<string, unknown>
  getReceipts(hashes: Uint8Array[], firstBlockReceiptIndex?: number, timeoutMs?: number): Promise<ReceiptsAnswer>
  /** True once the remote side has closed the connection */
  readonly disconnected: () => boolean
  close(): void
}

/** Connects to `enode` offering only eth/`version` and completes the Status handshake */
export async function connectEth(enode: string, chain: ChainInfo, version: 68 | 69 | 70): Promise<EthConnection> {
  const match = /^enode:\/\/([0-9a-f]{128})@(127\.\d+\.\d+\.\d+):(\d+)$/.exec(enode)
  if (match === null) throw new Error(`not a loopback enode: ${enode}`)
  const rlpx = new devp2p.RLPx(randomBytes(32), {
    dpt: null,
    maxPeers: 1,
    capabilities: [devp2p.ETH[`eth${version}`]],
    common: commonOf(chain),
    listenPort: null,
  })
  rlpx.events.on('error', () => {})
  let closed = false
  const genesisHash = hexToBytes(chain.genesisHash as `0x${string}`)
  const connected = new Promise<{ eth: any; status: Record<string, unknown> }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no eth/${version} handshake with ${enode}`)), 20_000)
    rlpx.events.on('peer:added', (peer: any) => {
      const eth = peer.getProtocols().find((p: unknown) => p instanceof devp2p.ETH)
      if (eth === undefined) return reject(new Error('no eth protocol negotiated'))
      eth.events.once('status', (status: Record<string, unknown>) => {
        clearTimeout(timer)
        resolve({ eth, status })
      })
      // eth/69+: the range [0, 0] (genesis); eth/68: td 1 at genesis
      const range = version >= 69 ? { latestBlock: new Uint8Array() } : {}
      eth.sendStatus({ td: bigIntToUnpaddedBytes(1n), bestHash: genesisHash, genesisHash, ...range })
    })
    rlpx.events.on('peer:removed', () => {
      closed = true
      clearTimeout(timer)
      reject(new Error(`disconnected from ${enode} during the eth/${version} handshake`))
    })
  })
  let eth: any
  let status: Record<string, unknown>
  try {
    await rlpx.connect({ id: hexToBytes(`0x${match[1]}`), address: match[2], tcpPort: Number(match[3]) })
    ;({ eth, status } = await connected)
  } catch (err) {
    rlpx.destroy()
    throw err
  }
  const waiting = new Map<bigint, (payload: NestedUint8Array) => void>()
  eth.events.on('message', (code: number, payload: NestedUint8Array) => {
    if (code !== RECEIPTS) return
    const id = bytesToBigInt(payload[0] as Uint8Array)
    waiting.get(id)?.(payload)
    waiting.delete(id)
  })
  let nextId = 1n
  return {
    version: eth.getVersion(),
    status,
    disconnected: () => closed,
    close: () => rlpx.destroy(),
    getReceipts(hashes, firstIndex = 0, timeoutMs = 20_000) {
      const id = nextId++
      const request =
        version >= 70
          ? [bigIntToUnpaddedBytes(id), intToUnpaddedBytes(firstIndex), hashes]
          : [bigIntToUnpaddedBytes(id), hashes]
      return new Promise<ReceiptsAnswer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no Receipts answer (eth/${version})`)), timeoutMs)
        waiting.set(id, (payload) => {
          clearTimeout(timer)
          try {
            const lists = (version >= 70 ? payload[2] : payload[1]) as NestedUint8Array[]
            const incomplete = version >= 70 && bytesToBigInt(payload[1] as Uint8Array) === 1n
            resolve({
              receipts: lists.map((list) => list.map((r) => receiptFromWire(r, version) as WireReceipt)),
              lastBlockIncomplete: incomplete,
            })
          } catch (err) {
            reject(err)
          }
        })
        eth.sendMessage(GET_RECEIPTS, request)
      })
    },
  }
}
