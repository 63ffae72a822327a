/**
 * One copy of each `@ethereumjs/*` package, the version the client pins. A second copy breaks the
 * client at run time without an error: its engine module tells blob transactions by `instanceof
 * Blob4844Tx`, and a block decoded by another copy of `@ethereumjs/tx` has none, so every
 * `newPayload` with a blob transaction was INVALID ("expected=0 received=1" versioned hashes) while
 * `@ethereumjs/tx` 10.1.3 sat beside the client's 10.0.0.
 */
import { strict as assert } from 'node:assert'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = new URL('../../', import.meta.url).pathname
const manifest = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    version: string
    dependencies?: { [name: string]: string }
  }

describe('[dependencies] the @ethereumjs packages the client uses', () => {
  const client = join(ROOT, 'node_modules/@ethereumjs/client')
  const pinned = Object.entries(manifest(client).dependencies ?? {}).filter(([name]) => name.startsWith('@ethereumjs/'))

  it('are installed once, at the version the client pins', () => {
    assert.ok(pinned.length > 5, `${pinned.length} @ethereumjs dependencies`)
    for (const [name, version] of pinned) {
      assert.equal(existsSync(join(client, 'node_modules', name)), false, `a second copy of ${name} under the client`)
      assert.equal(manifest(join(ROOT, 'node_modules', name)).version, version, name)
    }
  })
})
