/**
 * Root hooks for integration tests: no client process outlives the run, a failed test shows what
 * the nodes still running logged last (their data dirs, logs included, are removed with them), and
 * a line `spec time: N s FILE` says what each spec file took (CI has a time budget: this says where it
 * goes; .ci/run lists them, slowest first).
 */
import { basename } from 'node:path'

import { runningNodeTails, stopAllNodes } from './harness/node.js'

import type { Context } from 'mocha'

/** Seconds per spec file: the time since the previous test ended, hooks included, goes to a test's file */
const secondsBySpec = new Map<string, number>()
let lastMark = Date.now()

export const mochaHooks = {
  afterEach(this: Context): void {
    const now = Date.now()
    const spec = basename(this.currentTest?.file ?? 'unknown')
    secondsBySpec.set(spec, (secondsBySpec.get(spec) ?? 0) + (now - lastMark) / 1000)
    lastMark = now
    if (this.currentTest?.state !== 'failed') return
    const tails = runningNodeTails()
    if (tails !== '') console.log(tails.replace(/^/gm, '      | '))
  },
  async afterAll(): Promise<void> {
    await stopAllNodes()
    // Once at the end of a serial run, after each file in a parallel one (root hooks run per file there)
    for (const [spec, seconds] of [...secondsBySpec].sort((x, y) => y[1] - x[1])) {
      console.log(`  spec time: ${seconds.toFixed(0).padStart(5)} s  ${spec}`)
    }
    secondsBySpec.clear()
  },
}
