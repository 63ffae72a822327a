/**
 * Pivot discovery before the merge: learn each peer's head, take the highest head that at least
 * `minPeers` peers agree on (their chain has that block), and pick the block `distance` below it.
 * The headers from the pivot up to that head are fetched, linked by parent hash and checked by the
 * chain's consensus rules before the pivot's state root is trusted. A peer is reported only for a
 * run it sent as asked that fails those checks; a run missing or cut short just passes its head over.
 */
import { bytesToHex, equalsBytes } from '@ethereumjs/util'

import type { BlockHeader } from '@ethereumjs/block'

/** What pivot discovery needs of a peer: its eth/68 headers */
export interface HeaderPeer {
  readonly id: string
  /** The head hash the peer announced at the handshake */
  readonly announcedHead: Uint8Array
  /** Up to `max` consecutive headers from `block` (a number or a hash), ascending */
  headers(block: bigint | Uint8Array, max: number): Promise<BlockHeader[]>
}

/** A chosen pivot, with the verified headers from it up to the agreed head */
export interface Pivot {
  readonly header: BlockHeader
  readonly head: BlockHeader
  /** Peers whose chain holds the head */
  readonly supporters: string[]
  /** Who named the head, for the log ("2 peers agree") */
  readonly namedBy: string
}

/** Frozen options of pivot discovery */
export interface PivotOptions {
  readonly minPeers: number
  readonly distance: number
  /** Checks a header chain (ascending, linked) by the consensus rules; throws when invalid */
  readonly validate: (headers: BlockHeader[]) => void
  /** Hears why a head was passed over without blaming its peer (a debug line) */
  readonly log?: (message: string) => void
}

/** Why 128: within the 192 headers a peer returns for one GetBlockHeaders (eth/68 practice) */
const PROBE_HEADERS = 128

/** Header batches one probe walks forward at most (1024 blocks) */
const MAX_PROBE_BATCHES = 8

/** A peer that sent headers that do not link, or fail validation */
export class BadHeadersError extends Error {
  override name = 'BadHeadersError'
  constructor(
    readonly peerId: string,
    message: string,
  ) {
    super(message)
  }
}

/** Checks that `headers` are consecutive and each is the parent of the next */
export function checkLinked(headers: BlockHeader[]): void {
  for (let i = 1; i < headers.length; i++) {
    if (headers[i].number !== headers[i - 1].number + 1n)
      throw new Error(`header ${headers[i].number} follows ${headers[i - 1].number}`)
    if (!equalsBytes(headers[i].parentHash, headers[i - 1].hash()))
      throw new Error(`header ${headers[i].number} does not link to its parent`)
  }
}

/** A reply to a GetBlockHeaders, or why it is none (see {@link answer}) */
type Answer = { readonly ok: true; readonly headers: BlockHeader[] } | { readonly ok: false; readonly why: string }

/**
 * The headers `peer` sends for (`block`, `max`), or why they do not answer it: the request failed,
 * or the reply starts at another block or holds more than asked
 */
async function answer(peer: HeaderPeer, block: bigint | Uint8Array, max: number): Promise<Answer> {
  let headers: BlockHeader[]
  try {
    headers = await peer.headers(block, max)
  } catch (err) {
    return { ok: false, why: (err as Error).message }
  }
  if (headers.length > max) return { ok: false, why: `${headers.length} headers for ${max}` }
  if (headers.length === 0) return { ok: true, headers }
  const first = headers[0]
  if (typeof block === 'bigint' ? first.number === block : equalsBytes(first.hash(), block))
    return { ok: true, headers }
  return { ok: false, why: `a run from block ${first.number} (${bytesToHex(first.hash()).slice(0, 10)}…)` }
}

/**
 * See the module comment. Keeps the last known head of each peer passed to the last `find` (the
 * peers connected now) to probe onwards from.
 */
export class PivotFinder {
  private readonly heads = new Map<string, BlockHeader>()

  constructor(private readonly opts: PivotOptions) {}

  /** Peers whose last head is kept (for tests and tools) */
  get knownHeads(): number {
    return this.heads.size
  }

  /** The latest head of `peer` (walking forward from the last one known); undefined if it fails */
  async probeHead(peer: HeaderPeer): Promise<BlockHeader | undefined> {
    try {
      let head = this.heads.get(peer.id)
      if (head === undefined) {
        const announced = await answer(peer, peer.announcedHead, 1)
        if (!announced.ok || announced.headers.length === 0)
          throw new Error(`asked its announced head, got ${announced.ok ? 'none' : announced.why}`)
        head = announced.headers[0]
      }
      // Bounded: a peer inventing an endless linked chain must not stall discovery; a peer further
      // ahead is followed further at the next look
      for (let i = 0; i < MAX_PROBE_BATCHES; i++) {
        const next = await peer.headers(head.number + 1n, PROBE_HEADERS)
        if (next.length === 0) break
        checkLinked([head, ...next])
        head = next[next.length - 1]
        if (next.length < PROBE_HEADERS) break
      }
      this.heads.set(peer.id, head)
      return head
    } catch (err) {
      // A peer on another branch, or gone: its head is not evidence for anything
      this.opts.log?.(`Snap sync: no head from peer ${peer.id.slice(0, 8)} this time: ${(err as Error).message}`)
      this.heads.delete(peer.id)
      return undefined
    }
  }

  /**
   * The pivot for the peers connected now, or undefined when too few agree on a head (or no agreed
   * head's run came as asked). A peer whose headers do not link or fail validation is reported to
   * `onBadPeer` and its head is passed over.
   */
  async find(peers: HeaderPeer[], onBadPeer: (err: BadHeadersError) => void): Promise<Pivot | undefined> {
    // Only the peers connected now are kept: a gone peer's head would stay for good (peers come and go)
    const ids = new Set(peers.map((p) => p.id))
    for (const id of this.heads.keys()) if (!ids.has(id)) this.heads.delete(id)
    const probed = await Promise.all(peers.map(async (p) => ({ peer: p, head: await this.probeHead(p) })))
    const known = probed.filter((x): x is { peer: HeaderPeer; head: BlockHeader } => x.head !== undefined)
    known.sort((a, b) => (a.head.number < b.head.number ? 1 : a.head.number > b.head.number ? -1 : 0))
    for (const candidate of known) {
      const supporters = await this.supporters(candidate.head, known)
      if (supporters.length < this.opts.minPeers) continue
      let pivot: BlockHeader | undefined
      try {
        pivot = await this.verifiedPivot(candidate.peer, candidate.head)
      } catch (err) {
        if (!(err instanceof BadHeadersError)) throw err
        onBadPeer(err)
        continue
      }
      if (pivot !== undefined)
        return {
          header: pivot,
          head: candidate.head,
          supporters: supporters.map((p) => p.id),
          namedBy: `${supporters.length} peers agree`,
        }
    }
    return undefined
  }

  // Peers whose chain holds `head`: their own head is it, or they have it at its height
  private async supporters(head: BlockHeader, known: { peer: HeaderPeer; head: BlockHeader }[]): Promise<HeaderPeer[]> {
    const checks = known
      .filter((k) => k.head.number >= head.number)
      .map(async (k) => {
        if (equalsBytes(k.head.hash(), head.hash())) return k.peer
        const [h] = await k.peer.headers(head.number, 1).catch(() => [])
        return h !== undefined && equalsBytes(h.hash(), head.hash()) ? k.peer : undefined
      })
    return (await Promise.all(checks)).filter((p): p is HeaderPeer => p !== undefined)
  }

  // The header `distance` below `head`, with every header up to the head linked and valid;
  // undefined when the peer did not answer with that run (see `answer`)
  private async verifiedPivot(peer: HeaderPeer, head: BlockHeader): Promise<BlockHeader | undefined> {
    const number = head.number > BigInt(this.opts.distance) ? head.number - BigInt(this.opts.distance) : 1n
    if (head.number < 1n) return undefined
    const count = Number(head.number - number) + 1
    const reply = await answer(peer, number, count)
    // No reply, a short one, or one that starts elsewhere is no proof of a lie: it may be another
    // request's reply (the client's eth requests match replies by message code: seen with the block
    // fetcher's, see headerrequests.ts). Nor is a run that ends beside the head (a reorg since the
    // probe). The peer's head is looked up afresh at the next look.
    const missing = !reply.ok
      ? reply.why
      : reply.headers.length < count
        ? `${reply.headers.length} of ${count} headers`
        : !equalsBytes(reply.headers[count - 1].hash(), head.hash())
          ? 'a run that ends beside it'
          : undefined
    if (missing !== undefined || !reply.ok) {
      this.opts.log?.(
        `Snap sync: head ${head.number} of peer ${peer.id.slice(0, 8)} passed over: ` +
          `asked headers ${number}..${head.number}, got ${missing}`,
      )
      this.heads.delete(peer.id)
      return undefined
    }
    const headers = reply.headers
    try {
      checkLinked(headers)
      this.opts.validate(headers)
    } catch (err) {
      this.heads.delete(peer.id)
      throw new BadHeadersError(
        peer.id,
        `headers ${number}..${head.number} (${bytesToHex(head.hash())}): ${(err as Error).message}`,
      )
    }
    return headers[0]
  }
}
