/**
 * Top-down trie completion, as go-ethereum's `trie.Sync` does it: from a root, a node that is not
 * stored is requested by path, checked by hash, and its children that are not stored are requested
 * in turn; a stored node's subtree is never descended into. A fetched node is written only once every
 * child (and, for an account leaf, its storage trie and code) is stored, so that "a stored node has
 * its whole subtree stored" holds after a crash at any point, and the next run skips what is done.
 * Memory holds only the fetched nodes still waiting for children: the frontier, not the trie.
 */
import { decodeFullAccount, hasCode, hasStorage } from '../../trie/account.js'
import { toHex } from '../../trie/hex.js'
import { NodeDecodeError, decodeNode } from '../../trie/node.js'
import { encodeCompact, nibblesToBytes } from '../../trie/nibbles.js'
import { STATE_ENCODINGS, codeKey, nodeKey } from '../../trie/statedb.js'

import { PeerFault } from '../peers/faults.js'

import type { CodeQueue } from './codequeue.js'
import type { StateStore, StateWriter } from '../../trie/index.js'

/** A trie node to fetch (and, once fetched, to write when its children are stored) */
export interface NodeRequest {
  /** DB key: also what identifies the request */
  readonly key: string
  readonly hash: Uint8Array
  /** Account hash of a storage trie; undefined for the account trie */
  readonly owner: Uint8Array | undefined
  /** Nibble path within its trie */
  readonly path: Uint8Array
  /** Requests waiting for this one to be written */
  readonly parents: NodeRequest[]
  /** Callbacks of the roots waiting for this one */
  readonly onDone: (() => void)[]
  /** Callbacks of the roots waiting for this one, if the sync of this trie is given up */
  readonly onAbandon: (() => void)[]
  /** Children (nodes, storage tries, codes) not stored yet */
  deps: number
  /** The node, once fetched */
  rlp: Uint8Array | undefined
  inFlight: boolean
}

/** Counts of a trie sync */
export interface TrieSyncStats {
  /** Nodes fetched and checked */
  fetched: number
  /** Nodes written */
  written: number
}

interface Child {
  hash: Uint8Array
  path: Uint8Array
}

/**
 * Why 16 MiB: what a move carries is one sync's frontier (nodes fetched and waiting for children), a
 * few replies' worth at 512 KiB each; the budget holds many, so nodes are dropped only when moves come
 * faster than the syncs use what they carry. The oldest go first (fetched under the oldest roots, the
 * least likely still in the trie); a node dropped is only fetched again.
 */
const KNOWN_BYTES = 16 * 1024 * 1024

/** See the module comment; only the scheduler calls it */
export class TrieSync {
  private readonly requests = new Map<string, NodeRequest>()
  /** Requests to send, most recent last: taking from the end walks depth-first, keeping the frontier small */
  private queue: NodeRequest[] = []
  /** Requests for nodes in {@link known}: delivered from memory, not fetched */
  private local: NodeRequest[] = []
  /**
   * Set by `abandon`. A code stored later still calls back into this sync (the code queue outlives a
   * move): its roots, told they were abandoned, must not be completed too
   */
  private abandoned = false
  readonly stats: TrieSyncStats = { fetched: 0, written: 0 }

  constructor(
    private readonly db: Pick<StateStore, 'getMany'>,
    private readonly writer: StateWriter,
    private readonly codes: CodeQueue,
    /** Checked nodes by DB key, fetched by an abandoned sync (a pivot move): not fetched again */
    private readonly known = new Map<string, Uint8Array>(),
    /** Bytes of keys and nodes `abandon` carries to the next sync at most (see KNOWN_BYTES) */
    private readonly knownBytes = KNOWN_BYTES,
  ) {}

  /**
   * Completes the trie under `root` (of `owner`'s storage when given); `onDone` runs once it is
   * stored, `onAbandon` if this sync is abandoned first
   */
  async addRoot(
    root: Uint8Array,
    owner: Uint8Array | undefined,
    onDone: () => void,
    onAbandon?: () => void,
  ): Promise<void> {
    const key = nodeKey(root, owner)
    const [stored] = await this.db.getMany([key], STATE_ENCODINGS)
    if (stored !== undefined) return onDone()
    const req = this.request(root, owner, new Uint8Array(0), undefined)
    req.onDone.push(onDone)
    if (onAbandon !== undefined) req.onAbandon.push(onAbandon)
  }

  /**
   * Gives up every request (the pivot moved: paths of the old root may hold other nodes under the
   * new one). Roots waiting are told; the nodes fetched but not yet written are returned, checked by
   * hash, for the next sync to use instead of fetching them again, with those carried to this one
   * and not used, within `knownBytes`. From then on this sync neither requeues nor completes.
   */
  abandon(): Map<string, Uint8Array> {
    this.abandoned = true
    const fetched = this.known
    for (const req of this.requests.values()) {
      if (req.rlp !== undefined) {
        // Re-inserted, so that the map's order stays oldest first
        fetched.delete(req.key)
        fetched.set(req.key, req.rlp)
      }
      for (const cb of req.onAbandon) cb()
    }
    this.requests.clear()
    this.queue = []
    this.local = []
    dropOldest(fetched, this.knownBytes)
    return fetched
  }

  /** Delivers the requests for nodes already known (see the constructor); returns how many */
  async deliverKnown(): Promise<number> {
    let n = 0
    while (this.local.length > 0) {
      const req = this.local.pop() as NodeRequest
      const rlp = this.known.get(req.key)
      this.known.delete(req.key)
      if (rlp === undefined || !this.owns(req)) continue
      await this.deliver(req, rlp)
      n++
    }
    return n
  }

  /** Up to `n` requests to send; they stay in flight until delivered or requeued */
  take(n: number): NodeRequest[] {
    const out: NodeRequest[] = []
    for (const r of this.queue.splice(Math.max(0, this.queue.length - n), n)) {
      // A late reply to an abandoned sync may have brought it since it was queued
      if (this.known.has(r.key)) this.local.push(r)
      else {
        r.inFlight = true
        out.push(r)
      }
    }
    return out
  }

  /** Puts requests of this sync that were not answered back in the queue */
  requeue(reqs: NodeRequest[]): void {
    for (const r of reqs) {
      if (!r.inFlight || !this.owns(r)) continue
      r.inFlight = false
      this.queue.push(r)
    }
  }

  /** Requests waiting or in flight */
  get pending(): number {
    return this.requests.size
  }

  /** Requests waiting to be sent */
  get queued(): number {
    return this.queue.length
  }

  /**
   * Takes a fetched node whose hash the caller has checked (TrieNodes.apply checks a whole reply
   * before delivering any of it; known nodes were checked when fetched): queues its missing
   * children and writes what is complete
   */
  async deliver(req: NodeRequest, rlp: Uint8Array): Promise<void> {
    req.inFlight = false
    this.stats.fetched++
    if (this.abandoned) {
      // A late reply to this sync's request (the pivot moved since): the checked node goes to the nodes
      // carried to the next sync (abandon() gave it this map), which uses it instead of fetching it again
      this.known.set(req.key, rlp)
      return
    }
    req.rlp = rlp
    const children: Child[] = []
    const leaves: { key: Uint8Array; value: Uint8Array }[] = []
    this.collect(rlp, req.path, children, leaves)
    const accounts =
      req.owner === undefined ? leaves.map((l) => ({ key: l.key, body: decodeFullAccount(l.value) })) : []
    // One read for every child node, storage root and code this node refers to
    const keys = children.map((c) => nodeKey(c.hash, req.owner))
    for (const a of accounts) {
      keys.push(hasStorage(a.body) ? nodeKey(a.body.storageRoot, a.key) : '')
      keys.push(hasCode(a.body) ? codeKey(a.body.codeHash) : '')
    }
    const found = keys.length === 0 ? [] : await this.db.getMany(keys, STATE_ENCODINGS)
    req.deps++ // held while children are added, so that none completes this node early
    children.forEach((c, i) => {
      if (found[i] === undefined) this.dependOn(req, c.hash, req.owner, c.path)
    })
    accounts.forEach((a, i) => {
      const at = children.length + 2 * i
      if (keys[at] !== '' && found[at] === undefined) {
        this.dependOn(req, a.body.storageRoot, a.key, new Uint8Array(0))
      }
      if (keys[at + 1] !== '' && found[at + 1] === undefined) {
        req.deps++
        this.codes.want(a.body.codeHash, () => this.childStored(req))
      }
    })
    this.childStored(req)
  }

  // Children of a node (hashed ones to look up) and the leaves inside it, embedded nodes included
  private collect(
    rlp: Uint8Array,
    path: Uint8Array,
    children: Child[],
    leaves: { key: Uint8Array; value: Uint8Array }[],
  ): void {
    let node: ReturnType<typeof decodeNode>
    try {
      node = decodeNode(rlp)
    } catch (err) {
      if (err instanceof NodeDecodeError) throw new PeerFault('bad_node', `undecodable node: ${err.message}`)
      throw err
    }
    const visit = (ref: Uint8Array, childPath: Uint8Array) => {
      if (ref.length === 32) children.push({ hash: ref, path: childPath })
      else this.collect(ref, childPath, children, leaves)
    }
    if (node.kind === 'branch') {
      for (const [i, ref] of node.children.entries()) if (ref !== undefined) visit(ref, concat(path, Uint8Array.of(i)))
    } else if (node.kind === 'extension') {
      visit(node.child, concat(path, node.path))
    } else {
      const full = concat(path, node.path)
      if (full.length !== 64) throw new PeerFault('bad_node', `leaf at depth ${full.length}`)
      leaves.push({ key: nibblesToBytes(full), value: node.value })
    }
  }

  private request(
    hash: Uint8Array,
    owner: Uint8Array | undefined,
    path: Uint8Array,
    parent: NodeRequest | undefined,
  ): NodeRequest {
    const key = nodeKey(hash, owner)
    let req = this.requests.get(key)
    if (req === undefined) {
      req = { key, hash, owner, path, parents: [], onDone: [], onAbandon: [], deps: 0, rlp: undefined, inFlight: false }
      this.requests.set(key, req)
      if (this.known.has(key)) this.local.push(req)
      else this.queue.push(req)
    }
    if (parent !== undefined) req.parents.push(parent)
    return req
  }

  // `parent` waits for a node that is not stored (a request already made for it is shared)
  private dependOn(parent: NodeRequest, hash: Uint8Array, owner: Uint8Array | undefined, path: Uint8Array): void {
    parent.deps++
    this.request(hash, owner, path, parent)
  }

  // By identity: another sync's request for the same node (an older root's) shares its key
  private owns(req: NodeRequest): boolean {
    return this.requests.get(req.key) === req
  }

  // One child of `req` is stored; write `req` (and so on upwards) when it was the last
  private childStored(req: NodeRequest): void {
    if (this.abandoned) return
    req.deps--
    if (req.deps > 0 || req.rlp === undefined) return
    this.writer.putNode(req.hash, req.rlp, req.owner)
    this.stats.written++
    if (this.owns(req)) this.requests.delete(req.key)
    for (const cb of req.onDone) cb()
    for (const p of req.parents) this.childStored(p)
  }
}

// Deletes the first (oldest) entries of `nodes` until its keys and nodes take at most `maxBytes`
function dropOldest(nodes: Map<string, Uint8Array>, maxBytes: number): void {
  let bytes = 0
  for (const [key, rlp] of nodes) bytes += key.length + rlp.length
  for (const [key, rlp] of nodes) {
    if (bytes <= maxBytes) return
    nodes.delete(key)
    bytes -= key.length + rlp.length
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** The GetTrieNodes path sets for requests (snap.md §GetTrieNodes): account-trie nodes by compact
 * path; storage nodes grouped under their account's 32-byte hash */
export function pathSets(reqs: NodeRequest[]): Uint8Array[][] {
  const sets: Uint8Array[][] = []
  let current: { owner: string; set: Uint8Array[] } | undefined
  for (const r of reqs) {
    const compact = encodeCompact(r.path, 0, false)
    if (r.owner === undefined) {
      sets.push([compact])
      current = undefined
      continue
    }
    const owner = toHex(r.owner)
    if (current === undefined || current.owner !== owner) {
      current = { owner, set: [r.owner] }
      sets.push(current.set)
    }
    current.set.push(compact)
  }
  return sets
}
