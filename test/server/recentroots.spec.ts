import { strict as assert } from 'node:assert'

import { RecentRoots } from '../../src/server/recentroots.js'

import type { CanonicalChain, HeaderLike } from '../../src/server/recentroots.js'

/** A distinct root per fork and height */
function root(fork: string, n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  out[0] = fork.charCodeAt(0)
  new DataView(out.buffer).setBigUint64(1, n)
  return out
}

function header(fork: string, n: bigint): HeaderLike {
  return { number: n, stateRoot: root(fork, n), hash: () => root(fork, n).map((b) => b ^ 0xff) }
}

/** A chain whose canonical blocks are fork `a` below `forkAt` and `fork` from there on */
function chain(height: bigint, fork = 'a', forkAt = 0n): CanonicalChain & { reads: number } {
  const c = {
    reads: 0,
    head: () => header(height >= forkAt ? fork : 'a', height),
    headerAt: async (n: bigint) => {
      c.reads++
      return header(n >= forkAt ? fork : 'a', n)
    },
  }
  return c
}

describe('[RecentRoots]', () => {
  const cases: [string, bigint, bigint[], bigint[]][] = [
    ['serves the last 128 blocks of a long chain', 600n, [473n, 550n, 600n], [472n, 0n]],
    ['serves every block of a short chain', 5n, [0n, 3n, 5n], [6n]],
  ]
  for (const [name, height, served, unserved] of cases) {
    it(name, async () => {
      const roots = new RecentRoots(chain(height))
      await roots.refresh()
      for (const n of served) assert.ok(roots.has(root('a', n)), `block ${n} served`)
      for (const n of unserved) assert.ok(!roots.has(root('a', n)), `block ${n} not served`)
    })
  }

  it('follows a reorg: the replaced blocks stop being served', async () => {
    let c = chain(600n)
    const roots = new RecentRoots({ head: () => c.head(), headerAt: (n) => c.headerAt(n) })
    await roots.refresh()
    assert.ok(roots.has(root('a', 590n)))
    c = chain(600n, 'b', 590n)
    await roots.refresh()
    assert.ok(!roots.has(root('a', 590n)))
    assert.ok(roots.has(root('b', 590n)))
    assert.ok(roots.has(root('a', 589n)))
  })

  it('does not re-read headers while the head is unchanged', async () => {
    const c = chain(300n)
    const roots = new RecentRoots(c)
    await roots.refresh()
    const reads = c.reads
    await Promise.all([roots.refresh(), roots.refresh()])
    assert.equal(c.reads, reads)
  })
})
