/**
 * Keeps the flat state on the root that peers ask for. A range request for a root the flat state
 * does not hold is served from the trie, and tells the follower, which then moves the flat state
 * there in the background: by the difference of the tries when it holds a root already, else by a
 * generation from the trie. So a node that nobody syncs from does no work for it, and a syncing
 * peer's pivot, which stays put for many requests, is soon served from the flat state.
 */
import { MissingNodeError } from '../../trie/reader.js'

import { FlatStateError } from './chunk.js'
import { generateFlatState } from './generator.js'
import { MAX_MOVE_CHANGES, moveFlatState } from './mover.js'

import type { FlatState } from './flatstate.js'
import type { TrieReaders } from './generator.js'

/** Log sink (the client's logger fits) */
export interface FlatLogger {
  info(message: string): void
  warn(message: string): void
  debug(message: string): void
}

/** What a {@link FlatStateFollower} needs */
export interface FlatFollowerOptions {
  readonly readers: TrieReaders
  /** True while `root` is a root we serve: a root that left the window is not worth flattening */
  isServedRoot(root: Uint8Array): boolean
  readonly logger?: FlatLogger
  /** See {@link MAX_MOVE_CHANGES} */
  readonly maxMoveChanges?: number
  /** Injectable for tests */
  readonly clock?: () => number
}

/** Why 30 s: a failure (a state DB error, an incomplete trie) is not retried at every request */
const RETRY_AFTER_MS = 30_000

const short = (root: Uint8Array) => Buffer.from(root.subarray(0, 4)).toString('hex')

/** Moves the flat state to wanted roots, one job at a time (see the module comment) */
export class FlatStateFollower {
  private wanted: Uint8Array | undefined
  private task: Promise<void> | undefined
  private discarding: Promise<void> | undefined
  private failedAt = Number.NEGATIVE_INFINITY
  private readonly abort = new AbortController()
  private readonly clock: () => number

  constructor(
    readonly flat: FlatState,
    private readonly options: FlatFollowerOptions,
  ) {
    this.clock = options.clock ?? (() => performance.now())
  }

  /** A range request for `root` was served from the trie: bring the flat state there */
  want(root: Uint8Array): void {
    if (this.abort.signal.aborted || this.flat.holds(root) || this.clock() - this.failedAt < RETRY_AFTER_MS) return
    this.wanted = root
    // A job beside a drop would commit a root whose chunks the drop deletes: the drop starts it
    if (this.discarding === undefined) this.startJob()
  }

  /**
   * Forgets a flat state whose stored data did not decode, once the job in progress is done (a move
   * or generation must not write beside the drop; a root wanted meanwhile is flattened after it); the
   * caller does not wait for it: until the drop, reads that meet the bad data fall back to the trie
   */
  discard(err: Error): Promise<void> {
    this.discarding ??= (async () => {
      this.options.logger?.info(
        `snap flat state: dropped, ${err.message}; serving from the trie until it is generated again`,
      )
      // The job only: idle() waits for this drop too
      await this.jobDone()
      await this.flat.drop()
    })()
      .catch((dropErr: Error) => this.options.logger?.debug(`snap flat state: cannot drop: ${dropErr.message}`))
      .finally(() => {
        this.discarding = undefined
        if (this.wanted !== undefined) this.startJob()
      })
    return this.discarding
  }

  /** Resolves when no job and no drop is running (tests, stop) */
  async idle(): Promise<void> {
    // A drop starts the job wanted meanwhile
    while (this.task !== undefined || this.discarding !== undefined) {
      await this.jobDone()
      await this.discarding
    }
  }

  /** Stops the job in progress (a generation resumes at the next start) and waits for it */
  async stop(): Promise<void> {
    this.abort.abort(new Error('flat state: stopping'))
    await this.idle()
  }

  private startJob(): void {
    this.task ??= this.run().finally(() => (this.task = undefined))
  }

  private async jobDone(): Promise<void> {
    while (this.task !== undefined) await this.task
  }

  private async run(): Promise<void> {
    // A pending drop goes first: it starts the job again for the root wanted meanwhile
    while (this.wanted !== undefined && !this.abort.signal.aborted && this.discarding === undefined) {
      const target = this.wanted
      this.wanted = undefined
      if (this.flat.holds(target) || !this.options.isServedRoot(target)) continue
      try {
        await this.bringTo(target)
      } catch (err) {
        if (this.abort.signal.aborted) return
        this.failedAt = this.clock()
        this.options.logger?.warn(`snap flat state: cannot reach root ${short(target)}: ${(err as Error).message}`)
        // Bad stored data is not served again: the next job starts from the trie
        if (err instanceof FlatStateError) await this.flat.drop().catch(() => {})
        return
      }
    }
  }

  private async bringTo(target: Uint8Array): Promise<void> {
    let from = this.flat.marker
    if (from !== undefined && !from.complete) {
      // Finish the interrupted generation first: the difference to the target is then small
      try {
        await this.generate(from.root, true)
      } catch (err) {
        if (!(err instanceof MissingNodeError)) throw err
      }
      from = this.flat.marker
    }
    if (this.flat.holds(target)) return
    if (from?.complete === true) {
      const started = this.clock()
      try {
        if (
          await moveFlatState(
            this.flat,
            this.options.readers,
            from.root,
            target,
            this.options.maxMoveChanges ?? MAX_MOVE_CHANGES,
          )
        ) {
          this.options.logger?.info(
            `snap flat state: moved from root ${short(from.root)} to ${short(target)} in ${this.seconds(started)} s`,
          )
          return
        }
      } catch (err) {
        // The old root's trie is gone: generate the new one
        if (!(err instanceof MissingNodeError)) throw err
      }
    }
    await this.generate(target, false)
  }

  private async generate(root: Uint8Array, resuming: boolean): Promise<void> {
    const { readers, logger } = this.options
    const started = this.clock()
    logger?.info(
      `snap flat state: ${resuming ? 'resuming the generation' : 'generating'} for root ${short(root)}, ` +
        `serving from the trie meanwhile`,
    )
    const stats = await generateFlatState(this.flat, readers, root, { signal: this.abort.signal })
    logger?.info(
      `snap flat state: generated for root ${short(root)}: ` +
        `${stats.accounts} accounts, ${stats.slots} slots in ${this.seconds(started)} s`,
    )
  }

  private seconds(started: number): string {
    return ((this.clock() - started) / 1000).toFixed(1)
  }
}
