/**
 * Trie nodes (snap.md §GetTrieNodes) for top-down completion: the requests of the trie sync, by path.
 * A server answers in request order and may stop early or leave a path it cannot resolve empty; every
 * node must hash to the one requested at its position.
 */
import { keccak256 } from '../../trie/keccak.js'
import { compareBytes } from '../../trie/nibbles.js'
import { byteLength, checkReplySize, PeerFault, RootUnavailable } from '../peers/faults.js'
import { pathSets } from './triesync.js'

import type { SnapPeer } from '../peers/snappeer.js'
import type { NodeRequest, TrieSync } from './triesync.js'
import type { Applied, SyncContext, WorkKind } from './kind.js'
import type { TrieNodesReply } from '../../wire/messages.js'

/**
 * The requests of one GetTrieNodes and the sync they were taken from: a pivot move replaces the sync,
 * and another sync may hold a request for the same node (same key) that this batch must not touch
 */
export interface NodeBatch {
  readonly sync: TrieSync
  readonly reqs: NodeRequest[]
}

/** See the module comment */
export class TrieNodes implements WorkKind<NodeBatch, TrieNodesReply> {
  readonly kind = 'nodes'
  readonly byHash = true

  constructor(private readonly ctx: SyncContext) {}

  pick(items: number): NodeBatch | undefined {
    const sync = this.ctx.trie
    const reqs = sync.take(items)
    return reqs.length === 0 ? undefined : { sync, reqs }
  }

  fetch(peer: SnapPeer, { reqs }: NodeBatch, timeoutMs: number, bytes: number): Promise<TrieNodesReply> {
    return peer.getTrieNodes({ root: this.ctx.root, paths: pathSets(reqs), bytes: BigInt(bytes) }, timeoutMs)
  }

  verify({ reqs }: NodeBatch, reply: TrieNodesReply): void {
    this.verified(reqs, reply)
  }

  async apply({ sync, reqs }: NodeBatch, reply: TrieNodesReply): Promise<Applied> {
    const { nodes } = reply
    // Every hash is checked before any node is taken, so a bad reply changes nothing
    const { bytes, delivered } = this.verified(reqs, reply)
    for (let i = 0; i < nodes.length; i++) if (nodes[i].length > 0) await sync.deliver(reqs[i], nodes[i])
    this.ctx.counters.trieNodes += delivered
    sync.requeue(reqs)
    return { items: delivered, bytes }
  }

  /** Back to the sync the batch was taken from: an abandoned one (the pivot moved) drops it */
  requeue({ sync, reqs }: NodeBatch): void {
    sync.requeue(reqs)
  }

  private verified(reqs: NodeRequest[], { nodes }: TrieNodesReply) {
    if (nodes.length > reqs.length)
      throw new PeerFault('oversized', `${nodes.length} trie nodes for ${reqs.length} paths`)
    const bytes = byteLength(nodes)
    checkReplySize(bytes, this.ctx.requestBytes, 'TrieNodes')
    let delivered = 0
    for (let i = 0; i < nodes.length; i++) {
      if (nodes[i].length === 0) continue
      if (compareBytes(keccak256(nodes[i]), reqs[i].hash) !== 0)
        throw new PeerFault('bad_node', `trie node ${i} does not hash to the node requested at its path`)
      delivered++
    }
    if (delivered === 0) throw new RootUnavailable('no trie nodes')
    return { bytes, delivered }
  }
}
