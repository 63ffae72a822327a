/**
 * Root hooks for integration tests: no client process outlives the run, a failed test shows what
 * the nodes still running logged last (their data dirs, logs included, are removed with them), and
 * the run ends with the time each spec file took, slowest first (CI has a time budget: this says
 * where it goes).
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
    const rows = [...secondsBySpec].sort((a, b) => b[1] - a[1])
    const total = rows.reduce((s, [, t]) => s + t, 0)
    console.log(`\n  Time by spec file (${total.toFixed(0)} s in all):`)
    for (const [spec, seconds] of rows) console.log(`    ${seconds.toFixed(0).padStart(5)} s  ${spec}`)
  },
}
