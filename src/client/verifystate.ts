/**
 * `ethereumjs-snap verify-state --dataDir D [--root R] [--network N] [--db B]`: walks the state of a client
 * data dir from a state root and says whether it is complete, with counts. Exit code 0 when complete, 1
 * when anything is missing or wrong, 2 when the command cannot run (bad arguments, DB locked by a running
 * client, no head to take a root from, a `--db` that did not make the data dir).
 * Each DB is opened with the backend that made it (LevelDB or RocksDB), read from its files.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { RLP } from '@ethereumjs/rlp'
import { bigIntToBytes, concatBytes, utf8ToBytes } from '@ethereumjs/util'
import { DbBackendMismatchError, detectBackend, openBackendDB, parseDbBackend } from '../db/backend.js'
import { fromHex, toHex0x } from '../trie/hex.js'
import { initKeccak } from '../trie/keccak.js'
import { nibblesToHex } from '../trie/nibbles.js'
import { StateWalker } from '../trie/walker.js'

import type { DbBackend } from '../db/backend.js'
import type { WalkFinding } from '../trie/walker.js'

/** Findings printed one per line; the rest are only counted. */
const MAX_LISTED = 20

type Out = (line: string) => void

/** Usage error: printed with the usage line, exit code 2. */
class UsageError extends Error {}

/** The network directory under `dataDir`: `network` if given, else the only one holding a `state` DB. */
export function findNetworkDir(dataDir: string, network?: string): string {
  if (network !== undefined) return join(dataDir, network)
  if (!existsSync(dataDir)) throw new UsageError(`no data dir ${dataDir}`)
  const candidates = readdirSync(dataDir).filter((name) => existsSync(join(dataDir, name, 'state')))
  if (candidates.length === 1) return join(dataDir, candidates[0])
  if (candidates.length === 0) throw new UsageError(`no <network>/state DB under ${dataDir}`)
  throw new UsageError(`several networks under ${dataDir} (${candidates.join(', ')}): pass --network`)
}

// Keys of @ethereumjs/blockchain's DB (db/constants.js, not exported by the package)
const headerKey = (n: bigint, hash: Uint8Array) =>
  concatBytes(utf8ToBytes('h'), bigIntToBytes(BigInt.asUintN(64, n)), hash)
const hashToNumberKey = (hash: Uint8Array) => concatBytes(utf8ToBytes('H'), hash)

/**
 * The backend that made the DB in `dir`; `expected` (`--db`), when given, must be it. A directory with no
 * DB is a usage error: it would be created empty by opening it.
 */
export function dbBackendOf(dir: string, expected?: DbBackend): DbBackend {
  const madeBy = detectBackend(dir)
  if (madeBy === undefined) throw new UsageError(`no database in ${dir}`)
  if (expected !== undefined && expected !== madeBy) throw new DbBackendMismatchError(dir, madeBy, expected)
  return madeBy
}

/**
 * State root of the chain head in a client's `chain` DB: the block the VM executed last (`heads.vm`),
 * else the canonical head block. Read raw, so no chain config is needed.
 */
export async function readHeadStateRoot(
  chainDir: string,
  expected?: DbBackend,
): Promise<{ number: bigint; stateRoot: Uint8Array }> {
  const backend = dbBackendOf(chainDir, expected)
  const db = openBackendDB<Uint8Array, Uint8Array>(chainDir, backend, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing: false,
  })
  await db.open()
  try {
    const heads = await db.get(utf8ToBytes('heads'))
    const vm = heads !== undefined ? (JSON.parse(new TextDecoder().decode(heads)) as { vm?: string }).vm : undefined
    const hash = vm !== undefined ? fromHex(vm) : await db.get(utf8ToBytes('LastBlock'))
    if (hash === undefined) throw new UsageError(`no head block in ${chainDir}`)
    const numberBytes = await db.get(hashToNumberKey(hash))
    if (numberBytes === undefined) throw new UsageError(`head ${toHex0x(hash)} has no number in ${chainDir}`)
    const number = BigInt(toHex0x(numberBytes))
    const header = await db.get(headerKey(number, hash))
    if (header === undefined) throw new UsageError(`no header for head ${toHex0x(hash)} in ${chainDir}`)
    const fields = RLP.decode(header) as Uint8Array[]
    return { number, stateRoot: fields[3] }
  } finally {
    await db.close()
  }
}

/** One line for a finding, naming the node (owner, path, hash) or the code. */
export function describeFinding(f: WalkFinding): string {
  const owner = (o: Uint8Array | undefined) =>
    o === undefined ? 'account trie' : `storage trie of account ${toHex0x(o)}`
  if (f.kind === 'node')
    return `missing node ${toHex0x(f.hash)} at path ${nibblesToHex(f.path) || '(root)'} in ${owner(f.owner)}`
  if (f.kind === 'code') return `missing code ${toHex0x(f.codeHash)} of account ${toHex0x(f.account)}`
  const hash = f.hash === undefined ? 'embedded node' : toHex0x(f.hash)
  return `corrupt ${hash} at path ${nibblesToHex(f.path) || '(root)'} in ${owner(f.owner)}: ${f.reason}`
}

/** Walks `<networkDir>/state` from `root`, printing findings and a summary; returns the exit code. */
export async function verifyStateDir(
  networkDir: string,
  root: Uint8Array,
  out: Out,
  expected?: DbBackend,
): Promise<number> {
  await initKeccak()
  const dir = join(networkDir, 'state')
  const backend = dbBackendOf(dir, expected)
  out(`walking ${dir} (${backend})`)
  const db = openBackendDB<string, Uint8Array>(dir, backend, {
    keyEncoding: 'utf8',
    valueEncoding: 'view',
    createIfMissing: false,
  })
  await db.open()
  try {
    const walker = new StateWalker(db)
    let listed = 0
    for await (const f of walker.walk(root)) {
      if (listed++ < MAX_LISTED) out(describeFinding(f))
    }
    const s = walker.stats
    out(`state ${toHex0x(root)}: ${walker.complete ? 'complete' : 'INCOMPLETE'}`)
    out(`accounts ${s.accounts}, slots ${s.slots}, codes ${s.codes}, nodes ${s.nodes}`)
    if (!walker.complete) out(`missing nodes ${s.missingNodes}, missing codes ${s.missingCodes}, corrupt ${s.corrupt}`)
    return walker.complete ? 0 : 1
  } finally {
    await db.close()
  }
}

const USAGE =
  'usage: ethereumjs-snap verify-state --dataDir DIR [--root 0xSTATEROOT] [--network NAME] [--db level|rocksdb]'

/** Entry point for `argv` (the arguments after `verify-state`); returns the process exit code. */
export async function verifyStateCommand(argv: string[], out: Out = console.log): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        dataDir: { type: 'string' },
        root: { type: 'string' },
        network: { type: 'string' },
        db: { type: 'string' },
      },
      strict: true,
    })
    if (values.dataDir === undefined) throw new UsageError('--dataDir is required')
    const db = values.db === undefined ? undefined : parseDbBackend(values.db)
    const networkDir = findNetworkDir(values.dataDir, values.network)
    let root: Uint8Array
    if (values.root !== undefined) {
      root = fromHex(values.root)
      if (root.length !== 32) throw new UsageError('--root must be 32 bytes')
    } else {
      const head = await readHeadStateRoot(join(networkDir, 'chain'), db)
      root = head.stateRoot
      out(`head block ${head.number}, state root ${toHex0x(root)}`)
    }
    return await verifyStateDir(networkDir, root, out, db)
  } catch (err) {
    out(`verify-state: ${(err as Error).message}`)
    if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') out(USAGE)
    return 2
  }
}
