/**
 * One copy of each `@ethereumjs/*` package, at the version our `overrides` set. A second copy breaks
 * the client at run time without an error: its engine module tells blob transactions by `instanceof
 * Blob4844Tx`, and a block decoded by another copy of `@ethereumjs/tx` has none, so every
 * `newPayload` with a blob transaction was INVALID ("expected=0 received=1" versioned hashes) while
 * `@ethereumjs/tx` 10.1.3 sat beside the client's 10.0.0.
 *
 * The client 0.10.5 pins 10.0.0, whose Common knows no real Osaka: every package with a 10.1 release
 * is moved to 10.1.3 under it. devp2p and ethash have no 10.1 release and stay at the pinned 10.0.0.
 */
import { strict as assert } from 'node:assert'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = new URL('../../', import.meta.url).pathname
const manifest = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    version: string
    dependencies?: { [name: string]: string }
    devDependencies?: { [name: string]: string }
    overrides?: { [name: string]: string }
  }

/** The version `overrides` gives `name` (a `$name` entry names our own dependency's), or undefined */
function overridden(name: string): string | undefined {
  const own = manifest(ROOT)
  const entry = own.overrides?.[name]
  if (entry === undefined || !entry.startsWith('$')) return entry
  const ref = entry.slice(1)
  return own.dependencies?.[ref] ?? own.devDependencies?.[ref]
}

/** Every `node_modules/@ethereumjs/<name>` below `dir`, at any depth */
function copiesOf(dir: string, found: string[] = []): string[] {
  const modules = join(dir, 'node_modules')
  if (!existsSync(modules)) return found
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(join(modules, entry))) {
        if (entry === '@ethereumjs') found.push(join(modules, entry, sub))
        copiesOf(join(modules, entry, sub), found)
      }
    } else copiesOf(join(modules, entry), found)
  }
  return found
}

describe('[dependencies] the @ethereumjs packages the client uses', () => {
  const client = join(ROOT, 'node_modules/@ethereumjs/client')
  const pinned = Object.entries(manifest(client).dependencies ?? {}).filter(([name]) => name.startsWith('@ethereumjs/'))

  it('are installed once each, anywhere in the tree', () => {
    const copies = copiesOf(ROOT).map((dir) => dir.slice(dir.lastIndexOf('node_modules/') + 'node_modules/'.length))
    const twice = copies.filter((name, i) => copies.indexOf(name) !== i)
    assert.deepEqual(twice, [], `second copies: ${twice.join(', ')}`)
    assert.ok(copies.length > 10, `${copies.length} @ethereumjs packages`)
  })

  it('are at the version the overrides set: 10.1.3 where a 10.1 release exists, else the pinned one', () => {
    assert.ok(pinned.length > 5, `${pinned.length} @ethereumjs dependencies`)
    const moved: string[] = []
    for (const [name, pin] of pinned) {
      const want = overridden(name) ?? pin
      assert.equal(manifest(join(ROOT, 'node_modules', name)).version, want, name)
      if (want !== pin) moved.push(name)
    }
    for (const name of ['common', 'block', 'blockchain', 'tx', 'vm', 'evm', 'statemanager', 'mpt', 'rlp', 'util']) {
      assert.equal(manifest(join(ROOT, 'node_modules/@ethereumjs', name)).version, '10.1.3', name)
    }
    assert.deepEqual(
      pinned.filter(([name]) => !moved.includes(name)).map(([name]) => name),
      ['@ethereumjs/devp2p', '@ethereumjs/ethash'],
    )
  })
})
