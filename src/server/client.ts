/**
 * Binds the snap server to a running client: its state DB, its canonical chain, its logger.
 */
import { Event } from '@ethereumjs/client/dist/esm/src/types.js'

import { LevelStateReader } from '../trie/reader.js'

import { FlatState } from './flat/flatstate.js'
import { FlatStateFollower } from './flat/follower.js'
import { trieReaders } from './flat/generator.js'

import { DBStateView } from './stateview.js'
import { RecentRoots } from './recentroots.js'
import { SnapServerHandler } from './handler.js'

import type { ServeRecorder, SnapAnswerer } from './handler.js'
import type { FlatLevel } from './flat/flatstate.js'
import type { StateView } from './stateview.js'
import type { StateReadStore } from '../trie/reader.js'
import type { CanonicalChain } from './recentroots.js'
import type { ServeLimits } from '../wire/constants.js'
import type { ProtocolHandler } from '@ethereumjs/client/dist/esm/src/plugin.js'
import type { FullEthereumService } from '@ethereumjs/client/dist/esm/src/service/fullethereumservice.js'

/**
 * The client's canonical chain as {@link RecentRoots} reads it: the head is the last block the VM
 * executed (the `vm` iterator head), since the state of blocks only imported is not in the DB yet.
 */
export function canonicalChainOf(service: FullEthereumService): CanonicalChain {
  return {
    head: async () => (await service.chain.blockchain.getIteratorHead('vm')).header,
    headerAt: (n) => service.chain.blockchain.getCanonicalHeader(n),
  }
}

/** Why 500 ms: the head read takes the blockchain lock, which block import holds for whole batches */
const HEAD_CHECK_INTERVAL_MS = 500

/**
 * The state DB is opened by the CLI and handed to the execution; resolve it at the first request
 * so that construction order inside the service does not matter.
 */
function lazyStateDB(service: FullEthereumService): StateReadStore {
  let db: StateReadStore | undefined
  return {
    getMany(keys) {
      if (db === undefined) {
        const level = service.execution.stateDB
        if (level === undefined) throw new Error('the client has no state database to serve from')
        db = new LevelStateReader(level, service.config.useStringValueTrieDB)
      }
      return db.getMany(keys)
    },
  }
}

/** Inner nodes cached for flat-state generation and moves: the top levels of the tries they walk */
const FLAT_NODE_CACHE_SIZE = 4096

/**
 * The flat state of the client's state DB and its follower, opened at the first range request
 * (the state DB is not there before the execution opens); `undefined` if it cannot be opened
 */
function lazyFlatState(
  service: FullEthereumService,
  store: StateReadStore,
  roots: RecentRoots,
): { get(): Promise<FlatStateFollower | undefined>; stop(): Promise<void> } {
  let opening: Promise<FlatStateFollower | undefined> | undefined
  let stopped = false
  const readers = trieReaders(store, FLAT_NODE_CACHE_SIZE)
  const logger = service.config.logger
  const open = async () => {
    const level = service.execution.stateDB as FlatLevel | undefined
    if (level === undefined || stopped) return undefined
    return new FlatStateFollower(await FlatState.open(level), {
      readers,
      isServedRoot: (root) => roots.has(root),
      logger,
    })
  }
  return {
    get: () =>
      (opening ??= open().catch((err: Error) => {
        logger?.warn(`snap flat state: cannot open, serving from the trie: ${err.message}`)
        return undefined
      })),
    stop: async () => {
      stopped = true
      await (await opening)?.stop()
    },
  }
}

/** What {@link createSnapServer} takes besides the service */
export interface SnapServerSetup {
  readonly limits?: ServeLimits
  readonly metrics?: ServeRecorder
  /** Makes what answers requests instead of the real server, over the state view it would serve from (tests) */
  readonly answerer?: (view: StateView) => SnapAnswerer
}

/** The snap/1 server handler for a client service */
export function createSnapServer(service: FullEthereumService, options: SnapServerSetup = {}): ProtocolHandler {
  const roots = new RecentRoots(canonicalChainOf(service), { checkIntervalMs: HEAD_CHECK_INTERVAL_MS })
  const store = lazyStateDB(service)
  const flat = lazyFlatState(service, store, roots)
  const view = new DBStateView(store, roots, () => flat.get())
  const logger = service.config.logger
  const events = service.config.events
  return new SnapServerHandler({
    view,
    onPeerGone: (listener) => {
      const onDisconnect = (peer: { id: string }) => listener(peer.id)
      events.on(Event.PEER_DISCONNECTED, onDisconnect)
      return () => events.off(Event.PEER_DISCONNECTED, onDisconnect)
    },
    refreshRoots: () => roots.refresh(),
    onStop: () => flat.stop(),
    limits: options.limits,
    metrics: options.metrics,
    answerer: options.answerer?.(view),
    logger: logger === undefined ? undefined : { debug: (m) => logger.debug(m) },
  })
}
