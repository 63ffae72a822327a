/**
 * A minimal RLPx peer for tests: connects to a client on loopback with `@ethereumjs/devp2p`,
 * completes the eth/68 status handshake (the client serves snap only to pooled peers, which
 * the eth handshake makes), and exposes the snap protocol as a {@link SnapTransport}.
 */
import { randomBytes } from 'node:crypto'

import { createCommonFromGethGenesis } from '@ethereumjs/common'
import { ETH, RLPx, SNAP } from '@ethereumjs/devp2p'
import { hexToBytes, intToBytes } from '@ethereumjs/util'

import { SnapRequester } from '../src/wire/requester.js'

import type { SnapTransport } from '../src/wire/requester.js'
import type { Common } from '@ethereumjs/common'
import type { Peer as Devp2pPeer } from '@ethereumjs/devp2p'
import type { NestedUint8Array } from '@ethereumjs/rlp'

/** What the handshake needs of the served chain */
type GethGenesis = Parameters<typeof createCommonFromGethGenesis>[0]

export interface ChainInfo {
  genesis: GethGenesis
  genesisHash: string
  headNumber: bigint
  headTimestamp: bigint
}

/** A connected snap peer */
export interface SnapConnection {
  readonly requester: SnapRequester
  readonly transport: SnapTransport
  /** The devp2p snap protocol object, for tests that send raw bytes */
  readonly snap: SNAP
  /** True once the remote side has closed the connection */
  readonly disconnected: () => boolean
  close(): Promise<void>
}

/** Reads what the handshake needs from a node's JSON-RPC */
export async function chainInfo(
  rpc: <T>(method: string, params?: unknown[]) => Promise<T>,
  genesis: GethGenesis,
): Promise<ChainInfo> {
  const g = await rpc<{ hash: string }>('eth_getBlockByNumber', ['0x0', false])
  const head = await rpc<{ number: string; timestamp: string }>('eth_getBlockByNumber', ['latest', false])
  return { genesis, genesisHash: g.hash, headNumber: BigInt(head.number), headTimestamp: BigInt(head.timestamp) }
}

/** The handshake's chain parameters when there is no geth genesis (a bench server) */
export interface CommonChain {
  common: Common
  genesisHash: string
}

export function commonOf(chain: ChainInfo | CommonChain): Common {
  if ('common' in chain) return chain.common
  const common = createCommonFromGethGenesis(chain.genesis, {
    chain: 'snaptest',
    genesisHash: hexToBytes(chain.genesisHash as `0x${string}`),
  })
  common.setHardforkBy({ blockNumber: chain.headNumber, timestamp: chain.headTimestamp })
  return common
}

/** Connects to `enode` (enode://id@127.0.0.1:port) and completes the eth handshake */
export async function connectSnap(
  enode: string,
  chain: ChainInfo | CommonChain,
  timeoutMs = 20_000,
): Promise<SnapConnection> {
  const match = /^enode:\/\/([0-9a-f]{128})@(127\.\d+\.\d+\.\d+):(\d+)$/.exec(enode)
  if (match === null) throw new Error(`not a loopback enode: ${enode}`)
  const common = commonOf(chain)
  const rlpx = new RLPx(randomBytes(32), {
    dpt: null,
    maxPeers: 1,
    capabilities: [ETH.eth68, SNAP.snap],
    common,
    listenPort: null,
  })
  rlpx.events.on('error', () => {})
  let closed = false
  const connected = new Promise<{ peer: Devp2pPeer; snap: SNAP }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no eth handshake with ${enode}`)), timeoutMs)
    rlpx.events.on('peer:added', (peer: Devp2pPeer) => {
      const eth = peer.getProtocols().find((p) => p instanceof ETH) as ETH | undefined
      const snap = peer.getProtocols().find((p) => p instanceof SNAP) as SNAP | undefined
      if (eth === undefined || snap === undefined) return reject(new Error('peer lacks eth or snap'))
      eth.events.once('status', () => {
        clearTimeout(timer)
        resolve({ peer, snap })
      })
      const genesisHash = hexToBytes(chain.genesisHash as `0x${string}`)
      eth.sendStatus({ td: intToBytes(1), bestHash: genesisHash, genesisHash })
    })
    rlpx.events.on('peer:removed', () => {
      closed = true
      clearTimeout(timer)
      reject(new Error(`disconnected from ${enode} during the handshake`))
    })
  })
  await rlpx.connect({ id: hexToBytes(`0x${match[1]}`), address: match[2], tcpPort: Number(match[3]) })
  const { snap } = await connected
  const handlers: ((code: number, payload: Uint8Array | NestedUint8Array) => void)[] = []
  snap.events.on('message', (code: number, payload: Uint8Array | NestedUint8Array) => {
    for (const h of handlers) h(code, payload)
  })
  const transport: SnapTransport = {
    send: (code, payload) => snap.sendMessage(code as never, payload as never),
    onMessage: (h) => handlers.push(h),
  }
  const requester = new SnapRequester(transport)
  return {
    requester,
    transport,
    snap,
    disconnected: () => closed,
    async close() {
      requester.close()
      rlpx.destroy()
    },
  }
}
