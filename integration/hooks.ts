/**
 * Root hooks for integration tests: no client process outlives the run, and a failed test shows what
 * the nodes still running logged last (their data dirs, logs included, are removed with them).
 */
import { runningNodeTails, stopAllNodes } from './harness/node.js'

import type { Context } from 'mocha'

export const mochaHooks = {
  afterEach(this: Context): void {
    if (this.currentTest?.state !== 'failed') return
    const tails = runningNodeTails()
    if (tails !== '') console.log(tails.replace(/^/gm, '      | '))
  },
  async afterAll(): Promise<void> {
    await stopAllNodes()
  },
}
