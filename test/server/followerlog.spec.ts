/**
 * The flat state cannot follow a served root (its trie is not in the state DB, a DB error): the node
 * serves from the trie meanwhile, and says so as a warning, not a debug line no one sees.
 */
import { strict as assert } from 'node:assert'

import { MemoryLevel } from 'memory-level'

import { FlatState } from '../../src/server/flat/flatstate.js'
import { FlatStateFollower } from '../../src/server/flat/follower.js'
import { trieReaders } from '../../src/server/flat/generator.js'
import { LevelStateReader } from '../../src/trie/reader.js'

import type { FlatLevel } from '../../src/server/flat/flatstate.js'

describe('[FlatStateFollower] a root it cannot reach', () => {
  it('is a warning naming the root and why', async () => {
    const level = new MemoryLevel<string, Uint8Array>({ keyEncoding: 'utf8', valueEncoding: 'view' })
    const lines: { level: string; message: string }[] = []
    const at = (l: string) => (message: string) => lines.push({ level: l, message })
    const follower = new FlatStateFollower(await FlatState.open(level as unknown as FlatLevel), {
      // An empty state DB: the root's trie is not there
      readers: trieReaders(new LevelStateReader(level as never), 16),
      isServedRoot: () => true,
      logger: { info: at('info'), warn: at('warn'), debug: at('debug') },
    })
    follower.want(new Uint8Array(32).fill(7))
    await follower.idle()
    const failed = lines.filter((l) => /cannot reach root/.test(l.message))
    assert.deepEqual(
      failed.map((l) => l.level),
      ['warn'],
      JSON.stringify(lines),
    )
    await follower.stop()
  })
})
