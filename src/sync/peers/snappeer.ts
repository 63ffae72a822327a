/**
 * The one seam between sync logic and the network: a peer that answers the four snap/1 requests
 * with decoded, typed replies (or rejects: timeout, disconnect, garbage). Unit tests script fake
 * peers behind it; `clientpeers.ts` adapts the client's pooled peers onto it.
 */
import type {
  ByteCodesReply,
  GetAccountRangeRequest,
  GetByteCodesRequest,
  GetStorageRangesRequest,
  GetTrieNodesRequest,
  ReceivedAccountRange,
  StorageRangesReply,
  TrieNodesReply,
} from '../../wire/messages.js'

/** A request's fields without the wire envelope (kind, request id) */
export type RequestFields<T> = Omit<T, 'kind' | 'reqId'>

/** One remote peer speaking snap/1 */
export interface SnapPeer {
  /** Stable id (the client's peer id) */
  readonly id: string
  getAccountRange(req: RequestFields<GetAccountRangeRequest>, timeoutMs: number): Promise<ReceivedAccountRange>
  getStorageRanges(req: RequestFields<GetStorageRangesRequest>, timeoutMs: number): Promise<StorageRangesReply>
  getByteCodes(req: RequestFields<GetByteCodesRequest>, timeoutMs: number): Promise<ByteCodesReply>
  getTrieNodes(req: RequestFields<GetTrieNodesRequest>, timeoutMs: number): Promise<TrieNodesReply>
}

/** Why a peer was dropped; the label of `snap_sync_peers_dropped_total{reason}` */
export type DropReason =
  /** a range proof, slot value or account body failed verification */
  | 'invalid_proof'
  /** a bytecode that hashes to no requested hash */
  | 'bad_code'
  /** a trie node that hashes to no requested node */
  | 'bad_node'
  /** more items or bytes than asked, keys outside the range, unrequested items */
  | 'oversized'
  /** a reply that does not decode as snap/1 */
  | 'garbage'
  /** timed out again and again */
  | 'timeout'
  /** named a pivot (its head) that the chain never reached: a chain we do not follow, or a made-up one */
  | 'bad_pivot'

/** Where the syncer finds peers and reports the ones it drops */
export interface SnapPeerSource {
  /** The peers that speak snap/1 now */
  peers(): SnapPeer[]
  /** Disconnects and bans a peer that sent invalid data */
  drop(peer: SnapPeer, reason: DropReason, detail: string): void
  /** Why no snap peer is connected, for the log (peers without snap, drops and when their bans end) */
  whyNone?(): string
}
