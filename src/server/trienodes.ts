/**
 * GetTrieNodes (snap.md §GetTrieNodes 0x06, §TrieNodes 0x07).
 */
import { HASH_LENGTH } from '../wire/constants.js'

import { decodeCompact } from '../trie/nibbles.js'
import { lookupKey, nodeAtPath } from '../trie/prove.js'
import { MissingNodeError } from '../trie/reader.js'

import { softLimit } from './common.js'
import { storageRootOf } from './storageranges.js'

import type { Budget } from './budget.js'
import type { StateView } from './stateview.js'
import type { TrieReader } from '../trie/reader.js'
import type { ServeLimits } from '../wire/constants.js'
import type { GetTrieNodesRequest, TrieNodesReply } from '../wire/messages.js'

const EMPTY = new Uint8Array()

/** Nibbles of a compact-encoded partial path; `undefined` when it is not valid compact encoding */
function pathNibbles(compact: Uint8Array): Uint8Array | undefined {
  try {
    return decodeCompact(compact).nibbles
  } catch {
    return undefined
  }
}

/**
 * Collects nodes while the limits allow, in request order (snap.md: "The returned nodes must be
 * in the request order"). A path that does not end at a node of an existing trie (into a leaf's
 * key, past a leaf, longer than 64 nibbles, not compact-encoded) gets an empty item in its place,
 * as geth answers and as its devp2p snap test suite expects of a server; a node missing from the
 * DB ends the reply (that state is not fully here).
 */
class Collector {
  readonly nodes: Uint8Array[] = []
  private bytes = 0
  private paths = 0

  constructor(
    private readonly maxBytes: number,
    private readonly maxPaths: number,
    private readonly budget: Budget,
  ) {}

  /** True while another path may be looked up; the first one always may */
  open(): boolean {
    if (this.nodes.length === 0 && this.paths === 0) return true
    return this.bytes <= this.maxBytes && this.paths < this.maxPaths && !this.budget.exhausted()
  }

  /** Adds the node at a compact path, or the empty placeholder; throws MissingNodeError */
  async add(reader: TrieReader, root: Uint8Array, compact: Uint8Array): Promise<void> {
    this.paths++
    const nibbles = pathNibbles(compact)
    const node = (nibbles === undefined ? undefined : await nodeAtPath(reader, root, nibbles)) ?? EMPTY
    this.nodes.push(node)
    this.bytes += node.length
  }
}

/**
 * Trie nodes by path: `[accPath]` addresses an account-trie node (compact path), `[accHash,
 * slotPath...]` storage-trie nodes of the account with that 32-byte hash. Nodes in request
 * order until the byte, lookup or time limit; a set whose account is unknown (or whose first
 * element is not a 32-byte hash) ends the reply, so that it stays a prefix of the request.
 */
export async function serveTrieNodes(
  view: StateView,
  req: GetTrieNodesRequest,
  limits: ServeLimits,
  budget: Budget,
): Promise<TrieNodesReply> {
  if (!view.isServedRoot(req.root)) return { nodes: [] }
  const accounts = view.accountReader(budget)
  const out = new Collector(softLimit(req.bytes, limits.maxResponseBytes), limits.maxTrieNodeLookups, budget)
  try {
    for (const [first, ...slotPaths] of req.paths) {
      if (!out.open()) break
      if (slotPaths.length === 0) {
        await out.add(accounts, req.root, first)
        continue
      }
      if (first.length !== HASH_LENGTH) break
      const body = await lookupKey(accounts, req.root, first)
      const storageRoot = body === undefined ? undefined : storageRootOf(body)
      if (storageRoot === undefined) break
      const reader = view.storageReader(first, budget)
      for (const path of slotPaths) {
        if (!out.open()) return { nodes: out.nodes }
        await out.add(reader, storageRoot, path)
      }
    }
  } catch (err) {
    if (!(err instanceof MissingNodeError)) throw err
  }
  return { nodes: out.nodes }
}
