/**
 * The work budget of one request: DB node loads and wall-clock time. Serving functions check it
 * between items and cut the reply (still valid: a shorter range with its proofs) when it is spent.
 */
import type { LoadCounter } from '../trie/reader.js'

/** What one request may still spend: DB node loads and time; serving cuts the reply when spent */
export class Budget implements LoadCounter {
  loads = 0

  /**
   * @param maxLoads DB reads after which the request is cut
   * @param deadline time (in `clock` units, ms) after which the request is cut
   * @param clock injectable for tests
   */
  constructor(
    readonly maxLoads: number,
    readonly deadline: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** A budget of `ms` milliseconds from now */
  static fromNow(maxLoads: number, ms: number, clock: () => number = () => performance.now()): Budget {
    return new Budget(maxLoads, clock() + ms, clock)
  }

  /** Unlimited, for tests and local tools */
  static unlimited(): Budget {
    return new Budget(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY)
  }

  exhausted(): boolean {
    return this.loads >= this.maxLoads || this.clock() > this.deadline
  }
}
