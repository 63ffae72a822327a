/**
 * snap/1 constants and serving limits. Spec references are to ethereum/devp2p `caps/snap.md`
 * at commit a1d196b (snap/1, with GetTrieNodes); the sizing choices follow go-ethereum's
 * `eth/protocols/snap/handler.go` (v1.17.2), the proven snap/1 server.
 */

/** Message codes, snap.md §Protocol Messages (0x00..0x07) */
export const SnapMessageCode = {
  GetAccountRange: 0x00,
  AccountRange: 0x01,
  GetStorageRanges: 0x02,
  StorageRanges: 0x03,
  GetByteCodes: 0x04,
  ByteCodes: 0x05,
  GetTrieNodes: 0x06,
  TrieNodes: 0x07,
} as const

/** Length of every hash on the wire (`B_32` in snap.md §GetAccountRange) */
export const HASH_LENGTH = 32

/** Nibbles in a full trie path: keys are 32-byte hashes (snap.md §GetTrieNodes, "full paths") */
export const MAX_PATH_NIBBLES = 64

/**
 * How many recent blocks' state roots are served. snap.md §GetAccountRange: "It is the
 * responsibility of the caller to query an state not older than 128 blocks."
 */
export const SERVED_STATE_BLOCKS = 128

/** `reqID: P` is a uint64 (snap.md §GetAccountRange); longer encodings are malformed */
export const MAX_REQUEST_ID_BYTES = 8

/** Limits applied to every request we serve. Frozen at construction; see {@link DEFAULT_SERVE_LIMITS}. */
export interface ServeLimits {
  /** Upper bound for a request's `responseBytes` (the request's value is a soft limit, snap.md) */
  readonly maxResponseBytes: number
  /** Fraction by which a storage reply may exceed the soft limit to finish a contract */
  readonly storageSlack: number
  /** Maximum bytecode hashes looked up per GetByteCodes */
  readonly maxCodeLookups: number
  /** Maximum trie-node DB loads per GetTrieNodes */
  readonly maxTrieNodeLookups: number
  /** Maximum accounts whose storage one GetStorageRanges may open */
  readonly maxStorageAccounts: number
  /** Wall-clock budget per request in ms; the reply is cut (still valid) when it runs out */
  readonly timeBudgetMs: number
  /** Requests served at the same time, all peers together */
  readonly maxConcurrent: number
  /** Requests served at the same time for one peer */
  readonly maxConcurrentPerPeer: number
  /** Requests one peer may have waiting; beyond this its requests are dropped unanswered */
  readonly maxQueuedPerPeer: number
}

/** The server's caps; each value's reason is beside it */
export const DEFAULT_SERVE_LIMITS: ServeLimits = Object.freeze({
  // geth softResponseLimit: 2 MiB keeps a reply well under the 16 MiB RLPx frame cap and
  // inside a requester's timeout on a slow link
  maxResponseBytes: 2 * 1024 * 1024,
  // geth stateLookupSlack: finishing a contract slightly over the limit saves the requester
  // a proof and a second round trip (snap.md §GetStorageRanges, Caveats)
  storageSlack: 0.1,
  // geth maxCodeLookups: each hash is a random DB read, unbounded lists are a cheap DoS
  maxCodeLookups: 1024,
  // geth maxTrieNodeLookups: same reason, for trie nodes (each path costs several reads)
  maxTrieNodeLookups: 1024,
  // Our own: each account costs an account-trie lookup; requesters batch a few hundred at most
  maxStorageAccounts: 1024,
  // geth maxTrieNodeTimeSpent is 5 s; we apply a budget to every kind and keep it below the
  // requester's usual timeout so cut replies still arrive in time to be useful
  timeBudgetMs: 3000,
  // Serving is DB-bound; a few concurrent walks keep LevelDB busy without starving block import
  maxConcurrent: 4,
  // One peer never holds more than half the serving capacity
  maxConcurrentPerPeer: 2,
  // Honest requesters pipeline a handful of requests; a flood beyond this is dropped
  maxQueuedPerPeer: 16,
})
