/**
 * The plugin's own CLI options, added to the client's `--help`, and their parsed form.
 */
import { DB_BACKENDS, DEFAULT_DB_BACKEND, parseDbBackend } from '../db/backend.js'
import { SERVED_STATE_BLOCKS } from '../wire/constants.js'

import type { DbBackend } from '../db/backend.js'
import type { Options } from 'yargs'

/** Parsed plugin options, frozen at start-up */
export interface SnapOptions {
  /** Answer snap/1 requests from peers (any `--sync` mode) */
  readonly serve: boolean
  /** Peers that must agree on (or extend) a head before it gives the pivot */
  readonly minPeers: number
  /** Blocks between the agreed head and the pivot */
  readonly pivotDistance: number
  /** Concurrent account-range tasks the 2^256 hash space is split into */
  readonly accountTasks: number
  /** Snap requests a second this node sends at most, over all peers; 0: no cap */
  readonly requestRate: number
  /** Storage backend of the chain, state and meta DBs (`--db`), whatever the sync mode */
  readonly db: DbBackend
}

/** Defaults, as `--help` shows them */
export const DEFAULT_SNAP_OPTIONS: SnapOptions = Object.freeze({
  serve: true,
  // A devnet often has a single peer; on a public network use 3 or more (docs/sync.md)
  minPeers: 1,
  // geth's fsMinFullBlocks: far enough below the head that a reorg rarely reaches it, near enough
  // that peers (which serve the last 128 roots) still have its state for a while
  pivotDistance: 64,
  // geth's accountConcurrency: enough tasks to keep several peers busy, few enough to keep the
  // account trie's chunk boundaries (healed afterwards) cheap
  accountTasks: 16,
  requestRate: 0,
  db: DEFAULT_DB_BACKEND,
})

/** yargs definitions, keyed by option name */
export const snapCliOptions: { [name: string]: Options } = {
  snapServe: {
    describe: 'Serve the snap/1 protocol (account, storage, bytecode and trie-node requests) to peers',
    boolean: true,
    default: DEFAULT_SNAP_OPTIONS.serve,
  },
  snapMinPeers: {
    describe:
      '--sync=snap: peers that must agree on a head before a pivot is taken from it (use 3+ on a public network)',
    number: true,
    default: DEFAULT_SNAP_OPTIONS.minPeers,
  },
  snapPivotDistance: {
    describe:
      `--sync=snap: blocks between the agreed head and the pivot ` +
      `whose state is downloaded (1-${SERVED_STATE_BLOCKS - 8})`,
    number: true,
    default: DEFAULT_SNAP_OPTIONS.pivotDistance,
  },
  snapAccountTasks: {
    describe: '--sync=snap: concurrent account-range tasks (the hash space is split into this many chunks, 1-256)',
    number: true,
    default: DEFAULT_SNAP_OPTIONS.accountTasks,
  },
  snapRequestRate: {
    describe: '--sync=snap: snap requests a second this node sends at most, over all peers (0: no cap; 1-10000)',
    number: true,
    default: DEFAULT_SNAP_OPTIONS.requestRate,
  },
  db: {
    describe:
      `Storage backend of the chain, state and meta DBs (${DB_BACKENDS.join(' or ')}; ` +
      `level is LevelDB, the client's own). A data dir is opened only with the backend that made it`,
    string: true,
    default: DEFAULT_DB_BACKEND,
  },
}

function integer(args: { [key: string]: unknown }, name: string, fallback: number, min: number, max: number): number {
  const value = args[name] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be a whole number from ${min} to ${max}, got ${String(value)}`)
  }
  return value
}

/**
 * Client flags that contradict `--sync=snap`, each with why. The snap state writer produces the
 * client's default state layout only (byte values, storage tries under their account's key prefix, a
 * Merkle-Patricia trie): another layout would leave a downloaded state the client cannot read.
 */
const SNAP_SYNC_CONFLICTS: { flag: string; given: (args: { [key: string]: unknown }) => boolean; why: string }[] = [
  {
    flag: '--isSingleNode',
    given: (args) => args.isSingleNode === true,
    why: 'a single node has no peer to download the state from, and counts itself synchronized from the start',
  },
  {
    flag: '--dev',
    // The client runs as a single node for any value of --dev, `false` included (bin/utils.js)
    given: (args) => args.dev !== undefined,
    why: 'a --dev chain is made and mined locally: there is no peer to download its state from',
  },
  {
    flag: '--prefixStorageTrieKeys=false',
    given: (args) => args.prefixStorageTrieKeys === false,
    why: 'snap sync writes storage tries with the default key prefixes; the client would not find them',
  },
  {
    flag: '--useStringValueTrieDB',
    given: (args) => args.useStringValueTrieDB === true,
    why: 'snap sync writes trie nodes as bytes; the client would read them as strings',
  },
  ...['--statefulVerkle', '--statelessVerkle'].map((flag) => ({
    flag,
    given: (args: { [key: string]: unknown }) => args[flag.slice(2)] === true,
    why: 'snap/1 downloads a Merkle-Patricia state, not a verkle one',
  })),
]

// Flags that cannot work together; checked only once each flag's own value is valid
function checkConflicts(args: { [key: string]: unknown }, options: SnapOptions): void {
  if (args.sync !== 'snap') return
  for (const c of SNAP_SYNC_CONFLICTS) {
    if (c.given(args)) throw new Error(`--sync=snap cannot run with ${c.flag}: ${c.why}`)
  }
  const maxPeers = args.maxPeers
  if (typeof maxPeers === 'number' && maxPeers < options.minPeers) {
    // Pre-merge the pivot waits for minPeers peers that the pool never admits: a sync that never starts
    throw new Error(
      `--sync=snap with --maxPeers=${maxPeers}: ` +
        `the pivot needs --snapMinPeers=${options.minPeers} peers, more than the client connects to`,
    )
  }
}

/**
 * The client's flags that take a list (yargs `array: true`), which may be given more than once, and
 * `ethVersions`, one comma-separated flag that the client's parser turns into a list
 */
const LIST_FLAGS: ReadonlySet<string> = new Set([
  'bootnodes',
  'multiaddrs',
  'dnsNetworks',
  'loadBlocksFromRlp',
  'ethVersions',
])

/**
 * Refuses a flag given more than once: yargs makes it an array that every value check passes, and the
 * client then takes it silently (a repeated `--logLevel` turned the whole log off, the node running on
 * unseen). Keys with a dash are yargs' kebab-case copies of the camelCase ones.
 */
function refuseRepeatedFlags(args: { [key: string]: unknown }): void {
  for (const [key, value] of Object.entries(args)) {
    if (!Array.isArray(value) || key === '_' || key.includes('-') || LIST_FLAGS.has(key)) continue
    throw new Error(`--${key} was given ${value.length} times (${value.join(', ')}): give it once`)
  }
}

/** Reads the plugin's options from the client's parsed CLI arguments; throws on a bad value or a conflict */
export function parseSnapOptions(args: { [key: string]: unknown }): SnapOptions {
  refuseRepeatedFlags(args)
  const serve = args.snapServe ?? DEFAULT_SNAP_OPTIONS.serve
  if (typeof serve !== 'boolean') {
    throw new Error(`--snapServe must be true or false, got ${String(serve)}`)
  }
  const options: SnapOptions = Object.freeze({
    serve,
    minPeers: integer(args, 'snapMinPeers', DEFAULT_SNAP_OPTIONS.minPeers, 1, 64),
    // The pivot's root must stay among the 128 a peer serves while the chain moves on
    pivotDistance: integer(args, 'snapPivotDistance', DEFAULT_SNAP_OPTIONS.pivotDistance, 1, SERVED_STATE_BLOCKS - 8),
    accountTasks: integer(args, 'snapAccountTasks', DEFAULT_SNAP_OPTIONS.accountTasks, 1, 256),
    requestRate: integer(args, 'snapRequestRate', DEFAULT_SNAP_OPTIONS.requestRate, 0, 10_000),
    db: parseDbBackend(args.db ?? DEFAULT_DB_BACKEND),
  })
  checkConflicts(args, options)
  return options
}
