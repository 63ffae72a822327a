/**
 * Healing behind an interface: bring the state under a root to completeness in the DB, fetching only
 * what is not stored. Trie-node healing (snap/1 `GetTrieNodes`, top-down from the root, see
 * triesync.ts) is the implementation here; snap/2 would heal from block access lists instead, behind
 * the same two methods.
 */
import { StateSync } from './statesync.js'

import type { SnapPeerSource } from './snappeer.js'
import type { StateSyncEvents, StateSyncOptions } from './statesync.js'
import type { SnapSyncCounters } from './status.js'
import type { StateStore } from '../trie/index.js'

/** Completes a state whose parts may be missing */
export interface Healer {
  /** Resolves once everything under `root` is stored; throws `RootUnavailableError` or on abort */
  run(root: Uint8Array, signal: AbortSignal): Promise<void>
  /** Trie nodes healed so far, and waiting */
  progress(): { healed: number; pending: number }
}

/** Heals by trie nodes: a state sync with no ranges left, only the top-down completion */
export class TrieNodeHealer implements Healer {
  private sync: StateSync | undefined

  constructor(
    private readonly db: StateStore,
    private readonly source: SnapPeerSource,
    private readonly counters: SnapSyncCounters,
    private readonly events: StateSyncEvents,
    private readonly opts?: StateSyncOptions,
  ) {}

  async run(root: Uint8Array, signal: AbortSignal): Promise<void> {
    this.sync = new StateSync(this.db, this.source, root, [], this.counters, this.events, this.opts)
    try {
      await this.sync.run(signal)
    } finally {
      this.sync = undefined
    }
  }

  progress(): { healed: number; pending: number } {
    return { healed: this.counters.trieNodes, pending: this.sync?.healPending ?? 0 }
  }
}
