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
    head: async () => header(height >= forkAt ? fork : 'a', height),
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

  it('follows new blocks with one header read each', async () => {
    let c = chain(600n)
    const roots = new RecentRoots({ head: () => c.head(), headerAt: (n) => c.headerAt(n) })
    await roots.refresh()
    assert.equal(c.reads, 127)
    c = chain(601n)
    await roots.refresh()
    assert.equal(c.reads, 1, 'only the parent of the new head, which matches the window')
    assert.ok(roots.has(root('a', 601n)) && roots.has(root('a', 474n)))
    assert.ok(!roots.has(root('a', 473n)), 'the oldest block left the window')
  })

  it('looks at the head at most once per check interval', async () => {
    let now = 0
    let c = chain(600n)
    const roots = new RecentRoots(
      { head: () => c.head(), headerAt: (n) => c.headerAt(n) },
      { checkIntervalMs: 500, clock: () => now },
    )
    await roots.refresh()
    c = chain(601n)
    now = 499
    await roots.refresh()
    assert.ok(!roots.has(root('a', 601n)), 'not looked at yet')
    now = 1000
    await roots.refresh()
    assert.ok(roots.has(root('a', 601n)))
  })

  it('a head that went back (reorg to a shorter chain) is followed', async () => {
    let c = chain(600n)
    const roots = new RecentRoots({ head: () => c.head(), headerAt: (n) => c.headerAt(n) })
    await roots.refresh()
    c = chain(598n, 'b', 590n)
    await roots.refresh()
    assert.ok(!roots.has(root('a', 600n)) && !roots.has(root('a', 595n)))
    assert.ok(roots.has(root('b', 598n)) && roots.has(root('a', 589n)) && roots.has(root('a', 471n)))
    assert.ok(!roots.has(root('a', 470n)))
  })
})
