/**
 * A peer that lies about the head, for pivot tests with real processes: an RLPx peer in the test
 * process (`@ethereumjs/devp2p`, eth/68 only, no snap) that dials a client on loopback, announces in
 * its eth STATUS a head far above the real chain (the hash of a made-up header, with a total
 * difficulty above any real peer's) and answers GetBlockHeaders from a made-up chain around that
 * head. Each made-up header decodes as a valid clique header (vanity and seal in place), so what
 * catches it is the pivot check, not the wire codec:
 * - `badSeal`: the headers link, but each is sealed by a key that is no clique signer;
 * - `unlinked`: each header names a made-up parent, so the run below the head does not link.
 *
 * It knows nothing of the real chain: asked for any other block it sends no headers (so it never
 * vouches for a real head), and it answers GetBlockBodies with no bodies.
 */
import { randomBytes } from 'node:crypto'

import { createSealedCliqueBlock } from '@ethereumjs/block'
import { createCommonFromGethGenesis } from '@ethereumjs/common'
import { ETH, EthMessageCodes, RLPx } from '@ethereumjs/devp2p'
import {
  bigIntToBytes,
  bytesToBigInt,
  bytesToHex,
  bytesToUnprefixedHex,
  equalsBytes,
  hexToBytes,
} from '@ethereumjs/util'

import type { BlockHeader } from '@ethereumjs/block'
import type { GethGenesis } from '@ethereumjs/common'
import type { Peer as Devp2pPeer } from '@ethereumjs/devp2p'

/** How the made-up chain gives itself away (see the module comment) */
export type LyingHeadMode = 'badSeal' | 'unlinked'

/** What a {@link LyingHeadPeer} needs */
export interface LyingHeadOptions {
  readonly mode: LyingHeadMode
  /** The devnet's geth genesis (chain id, forks, clique epoch) */
  readonly genesis: GethGenesis
  /** The real genesis hash (0x...): the handshake must match it */
  readonly genesisHash: string
  /** The real chain's head now: the made-up head is `aheadBy` above it */
  readonly realHead: bigint
  /** Default 1,000,000 */
  readonly aheadBy?: bigint
}

/** Made-up headers below the head: more than any pivot distance a test uses */
const SPAN = 256

/** Why 2^100: above the total difficulty of any devnet chain (clique adds 1 or 2 per block) */
const CLAIMED_TD = 2n ** 100n

const { GET_BLOCK_HEADERS, BLOCK_HEADERS, GET_BLOCK_BODIES, BLOCK_BODIES } = EthMessageCodes

/** Headers `head - SPAN + 1 … head`, made up as `mode` says; the first avoids clique epoch blocks */
function madeUpChain(opts: LyingHeadOptions): BlockHeader[] {
  const common = createCommonFromGethGenesis(opts.genesis, {
    chain: 'lyinghead',
    genesisHash: hexToBytes(opts.genesisHash as `0x${string}`),
  })
  const epoch = BigInt((opts.genesis.config as { clique?: { epoch?: number } }).clique?.epoch ?? 30_000)
  let head = opts.realHead + (opts.aheadBy ?? 1_000_000n)
  // An epoch block carries the signer list: keep the whole made-up run between two of them
  while ((head - BigInt(SPAN)) / epoch !== head / epoch || head % epoch === 0n) head += BigInt(SPAN)
  const key = randomBytes(32)
  const out: BlockHeader[] = []
  for (let n = head - BigInt(SPAN) + 1n; n <= head; n++) {
    const parentHash = out.length === 0 || opts.mode === 'unlinked' ? randomBytes(32) : out[out.length - 1].hash()
    const header = {
      number: n,
      parentHash,
      stateRoot: randomBytes(32),
      timestamp: n,
      gasLimit: 30_000_000n,
      baseFeePerGas: 7n,
      difficulty: 2n,
      // clique: 32 bytes vanity, 65 bytes seal (filled when sealed)
      extraData: new Uint8Array(97),
    }
    out.push(createSealedCliqueBlock({ header }, key, { common, setHardfork: true }).header)
  }
  return out
}

/** See the module comment */
export class LyingHeadPeer {
  /** The made-up head it announces */
  readonly head: BlockHeader
  /** Every GetBlockHeaders it was sent: the block asked for (number or 0x hash) and how many */
  readonly asked: { block: string; max: number }[] = []
  private closed = false

  private constructor(
    readonly mode: LyingHeadMode,
    private readonly rlpx: RLPx,
    private readonly chain: BlockHeader[],
  ) {
    this.head = chain[chain.length - 1]
  }

  /** The first 8 hex digits of its node id: how the client names it in its log */
  get shortId(): string {
    return bytesToUnprefixedHex(this.rlpx.id).slice(0, 8)
  }

  /** True once the remote side closed the connection (e.g. it banned this peer) */
  get disconnected(): boolean {
    return this.closed
  }

  /** Dials `enode` (enode://id@127.0.0.1:port) and completes the eth/68 handshake */
  static async connect(enode: string, opts: LyingHeadOptions, timeoutMs = 20_000): Promise<LyingHeadPeer> {
    const match = /^enode:\/\/([0-9a-f]{128})@(127\.\d+\.\d+\.\d+):(\d+)$/.exec(enode)
    if (match === null) throw new Error(`not a loopback enode: ${enode}`)
    const chain = madeUpChain(opts)
    const common = createCommonFromGethGenesis(opts.genesis, {
      chain: 'lyinghead',
      genesisHash: hexToBytes(opts.genesisHash as `0x${string}`),
    })
    const rlpx = new RLPx(randomBytes(32), {
      dpt: null,
      maxPeers: 1,
      capabilities: [ETH.eth68],
      common,
      listenPort: null,
    })
    rlpx.events.on('error', () => {})
    const peer = new LyingHeadPeer(opts.mode, rlpx, chain)
    const shaken = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no eth handshake with ${enode}`)), timeoutMs)
      rlpx.events.on('peer:added', (p: Devp2pPeer) => {
        const eth = p.getProtocols().find((x) => x instanceof ETH) as ETH | undefined
        if (eth === undefined) return reject(new Error('the client did not take eth'))
        eth.events.on('message', (code: number, payload: unknown) => peer.answer(eth, code, payload))
        eth.events.once('status', () => {
          clearTimeout(timer)
          resolve()
        })
        const genesisHash = hexToBytes(opts.genesisHash as `0x${string}`)
        eth.sendStatus({ td: bigIntToBytes(CLAIMED_TD), bestHash: peer.head.hash(), genesisHash })
      })
      rlpx.events.on('peer:removed', () => {
        peer.closed = true
        clearTimeout(timer)
        reject(new Error(`disconnected from ${enode} during the handshake`))
      })
    })
    try {
      await Promise.all([
        rlpx.connect({ id: hexToBytes(`0x${match[1]}`), address: match[2], tcpPort: Number(match[3]) }),
        shaken,
      ])
    } catch (err) {
      rlpx.destroy()
      throw err
    }
    return peer
  }

  /** Hangs up */
  close(): void {
    this.closed = true
    this.rlpx.destroy()
  }

  private answer(eth: ETH, code: number, payload: unknown): void {
    try {
      if (code === GET_BLOCK_HEADERS) {
        const [reqId, [block, max, skip, reverse]] = payload as [
          Uint8Array,
          [Uint8Array, Uint8Array, Uint8Array, Uint8Array],
        ]
        const headers = this.headers(
          block,
          Number(bytesToBigInt(max)),
          Number(bytesToBigInt(skip)),
          bytesToBigInt(reverse) !== 0n,
        )
        eth.sendMessage(BLOCK_HEADERS, [reqId, headers.map((h) => h.raw())] as never)
      } else if (code === GET_BLOCK_BODIES) {
        const [reqId] = payload as [Uint8Array]
        eth.sendMessage(BLOCK_BODIES, [reqId, []] as never)
      }
    } catch {
      // A request it cannot parse goes unanswered, as from any broken peer
    }
  }

  // The made-up headers a request names: by hash only the ones it made, by number only its run
  private headers(block: Uint8Array, max: number, skip: number, reverse: boolean): BlockHeader[] {
    if (block.length === 32) {
      this.asked.push({ block: bytesToHex(block), max })
      const h = this.chain.find((x) => equalsBytes(x.hash(), block))
      return h === undefined ? [] : [h]
    }
    const first = bytesToBigInt(block)
    this.asked.push({ block: first.toString(), max })
    const base = this.chain[0].number
    const out: BlockHeader[] = []
    for (let i = 0; i < Math.min(max, 1024); i++) {
      const n = first + BigInt(i * (skip + 1)) * (reverse ? -1n : 1n)
      const h = n >= base ? this.chain[Number(n - base)] : undefined
      if (h === undefined) break
      out.push(h)
    }
    return out
  }
}
