/**
 * Root hooks for integration tests: no client process outlives the run.
 */
import { stopAllNodes } from './harness/node.js'

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await stopAllNodes()
  },
}
