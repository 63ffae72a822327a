import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'

import { BadHeadersError, PivotFinder, checkLinked } from '../../../src/sync/pivot/pivot.js'

import type { HeaderPeer, PivotOptions } from '../../../src/sync/pivot/pivot.js'
import type { BlockHeader } from '@ethereumjs/block'

const common = new Common({ chain: Mainnet, hardfork: Hardfork.London })

/** Headers 0..head; from `fork` on (when given) a branch marked by `tag` in extraData, so hashes differ */
function chain(head: number, branch?: { from: number; base: BlockHeader[]; tag: number }): BlockHeader[] {
  const out: BlockHeader[] = branch === undefined ? [] : branch.base.slice(0, branch.from)
  for (let n = out.length; n <= head; n++) {
    const parentHash = n === 0 ? new Uint8Array(32) : out[n - 1].hash()
    const extraData = branch === undefined ? new Uint8Array(0) : Uint8Array.of(branch.tag)
    out.push(
      createBlockHeader(
        {
          number: BigInt(n),
          parentHash,
          gasLimit: 30_000_000n,
          timestamp: BigInt(n * 12),
          baseFeePerGas: 7n,
          extraData,
        },
        { common },
      ),
    )
  }
  return out
}

/** Headers that claim numbers from..to but do not link: each has a made-up parent */
function unlinked(from: number, to: number): BlockHeader[] {
  const out: BlockHeader[] = []
  for (let n = from; n <= to; n++) {
    const parentHash = new Uint8Array(32).fill(n % 256)
    out.push(
      createBlockHeader(
        { number: BigInt(n), parentHash, gasLimit: 30_000_000n, timestamp: BigInt(n * 12), baseFeePerGas: 7n },
        { common },
      ),
    )
  }
  return out
}

/** A header peer over `headers` (by number), announcing `announced` (default: its last header) */
class FakeHeaderPeer implements HeaderPeer {
  readonly announcedHead: Uint8Array
  /** (block, max) of every call */
  readonly calls: { block: bigint | string; max: number }[] = []

  constructor(
    readonly id: string,
    private readonly headersByNumber: BlockHeader[],
    announced?: BlockHeader,
  ) {
    this.announcedHead = (announced ?? headersByNumber[headersByNumber.length - 1]).hash()
  }

  async headers(block: bigint | Uint8Array, max: number): Promise<BlockHeader[]> {
    this.calls.push({ block: typeof block === 'bigint' ? block : bytesToHex(block), max })
    if (typeof block !== 'bigint') {
      const h = this.headersByNumber.find((x) => equalsBytes(x.hash(), block))
      return h === undefined ? [] : [h]
    }
    const start = this.headersByNumber.findIndex((x) => x.number === block)
    return start < 0 ? [] : this.headersByNumber.slice(start, start + max)
  }
}

/**
 * A peer that announces `from` and answers every request for later headers with `max` new ones
 * that link (made up on the spot), after a macrotask as a network would; `stop` ends the chain.
 */
class EndlessPeer implements HeaderPeer {
  readonly id = 'endless'
  readonly announcedHead: Uint8Array
  stop = false
  served = 0
  /** Set once it has served `limit` headers: it then serves no more, and a finder still asking was stalled */
  stalled = false
  private readonly made: BlockHeader[]

  constructor(
    from: BlockHeader,
    private readonly limit = Number.POSITIVE_INFINITY,
  ) {
    this.announcedHead = from.hash()
    this.made = [from]
  }

  async headers(block: bigint | Uint8Array, max: number): Promise<BlockHeader[]> {
    await new Promise((r) => setImmediate(r))
    if (typeof block !== 'bigint') return equalsBytes(block, this.announcedHead) ? [this.made[0]] : []
    if (this.served >= this.limit) this.stalled = true
    if (this.stop || this.stalled) return []
    const base = this.made[0].number
    while (!this.stop && this.made.length <= Number(block - base) + max) {
      const parent = this.made[this.made.length - 1]
      const n = parent.number + 1n
      this.made.push(
        createBlockHeader(
          {
            number: n,
            parentHash: parent.hash(),
            gasLimit: 30_000_000n,
            timestamp: n * 12n,
            baseFeePerGas: 7n,
            extraData: Uint8Array.of(9),
          },
          { common },
        ),
      )
    }
    const out = this.made.slice(Number(block - base), Number(block - base) + max)
    this.served += out.length
    return out
  }
}

/** A validator that records the chains it was given, or throws */
function validator(fail = false): { validate: PivotOptions['validate']; seen: BlockHeader[][] } {
  const seen: BlockHeader[][] = []
  return {
    seen,
    validate: (headers) => {
      seen.push(headers)
      if (fail) throw new Error('bad seal')
    },
  }
}

const numbers = (hs: BlockHeader[]) => hs.map((h) => Number(h.number))

describe('[PivotFinder]', () => {
  const main = chain(300)
  const side = chain(400, { from: 101, base: main, tag: 1 })

  it('checkLinked: accepts a linked run, names the first break', () => {
    checkLinked(main.slice(10, 20))
    assert.throws(() => checkLinked([main[10], main[12]]), /header 12 follows 10/)
    assert.throws(() => checkLinked([main[150], side[151]]), /151 does not link/)
  })

  it('agreeing peers: pivot = head - distance; the headers up to the head are linked and validated', async () => {
    const v = validator()
    const finder = new PivotFinder({ minPeers: 2, distance: 64, validate: v.validate })
    // One peer announced an old head: the finder walks forward to its latest
    const peers = [
      new FakeHeaderPeer('a', main),
      new FakeHeaderPeer('b', main, main[100]),
      new FakeHeaderPeer('c', main.slice(0, 291)),
    ]
    const bad: BadHeadersError[] = []
    const pivot = await finder.find(peers, (e) => bad.push(e))
    assert.ok(pivot !== undefined)
    assert.equal(pivot.header.number, 236n)
    assert.equal(bytesToHex(pivot.header.hash()), bytesToHex(main[236].hash()))
    assert.equal(pivot.head.number, 300n)
    assert.deepEqual([...pivot.supporters].sort(), ['a', 'b'])
    assert.deepEqual(bad, [])
    assert.equal(v.seen.length, 1)
    assert.deepEqual(numbers(v.seen[0]), numbers(main.slice(236, 301)))
    checkLinked(v.seen[0])
  })

  it('two branches: the branch with minPeers supporters wins even when lower', async () => {
    const v = validator()
    const finder = new PivotFinder({ minPeers: 2, distance: 64, validate: v.validate })
    const peers = [
      new FakeHeaderPeer('side', side),
      new FakeHeaderPeer('m1', main),
      new FakeHeaderPeer('m2', main.slice(0, 281)),
    ]
    const bad: BadHeadersError[] = []
    const pivot = await finder.find(peers, (e) => bad.push(e))
    assert.ok(pivot !== undefined)
    // m2's head (280) is the highest one two peers share
    assert.equal(pivot.head.number, 280n)
    assert.equal(bytesToHex(pivot.header.hash()), bytesToHex(main[216].hash()))
    assert.deepEqual([...pivot.supporters].sort(), ['m1', 'm2'])
    assert.deepEqual(bad, [])
    assert.ok(
      v.seen.every((hs) => hs.every((h) => equalsBytes(h.hash(), main[Number(h.number)].hash()))),
      'only main-chain headers validated',
    )
  })

  it('a peer lying about a far higher head whose headers do not link is reported and passed over', async () => {
    const v = validator()
    const finder = new PivotFinder({ minPeers: 1, distance: 64, validate: v.validate })
    const lies = unlinked(4900, 5000)
    const liar = new FakeHeaderPeer('liar', lies)
    const honest = new FakeHeaderPeer('honest', main)
    const bad: BadHeadersError[] = []
    const pivot = await finder.find([liar, honest], (e) => bad.push(e))
    assert.deepEqual(
      bad.map((e) => [e.peerId, e instanceof BadHeadersError]),
      [['liar', true]],
    )
    assert.match(bad[0].message, /does not link/)
    assert.ok(pivot !== undefined)
    assert.equal(bytesToHex(pivot.header.hash()), bytesToHex(main[236].hash()))
    assert.deepEqual(pivot.supporters, ['honest'])
    assert.ok(
      v.seen.every((hs) => hs[hs.length - 1].number === 300n),
      'the lie never reached validation',
    )
  })

  it('minPeers not met: no pivot, nothing validated', async () => {
    const v = validator()
    const finder = new PivotFinder({ minPeers: 2, distance: 64, validate: v.validate })
    const bad: BadHeadersError[] = []
    assert.equal(await finder.find([new FakeHeaderPeer('a', main)], (e) => bad.push(e)), undefined)
    // Two peers, but on different branches: neither head has two supporters
    assert.equal(
      await finder.find([new FakeHeaderPeer('a', main), new FakeHeaderPeer('s', side)], (e) => bad.push(e)),
      undefined,
    )
    assert.deepEqual([v.seen.length, bad.length], [0, 0])
  })

  it('a head below the distance: pivot 1, headers 1..head validated', async () => {
    const v = validator()
    const finder = new PivotFinder({ minPeers: 1, distance: 64, validate: v.validate })
    const pivot = await finder.find([new FakeHeaderPeer('a', main.slice(0, 41))], () => assert.fail('no bad peer'))
    assert.equal(pivot?.header.number, 1n)
    assert.deepEqual(numbers(v.seen[0]), numbers(main.slice(1, 41)))
  })

  it('headers that fail validation: every peer serving them is reported, no pivot', async () => {
    const v = validator(true)
    const finder = new PivotFinder({ minPeers: 1, distance: 64, validate: v.validate })
    const bad: BadHeadersError[] = []
    const pivot = await finder.find([new FakeHeaderPeer('a', main), new FakeHeaderPeer('b', main)], (e) => bad.push(e))
    assert.equal(pivot, undefined)
    assert.deepEqual(bad.map((e) => e.peerId).sort(), ['a', 'b'])
    assert.match(bad[0].message, /bad seal/)
  })

  it('a peer feeding an endless linked chain does not stall pivot discovery', async () => {
    const finder = new PivotFinder({ minPeers: 1, distance: 64, validate: validator().validate })
    // Counted in headers, not time: a probe walks 1,024 of them at most; ten probes' worth is a stall
    const endless = new EndlessPeer(main[300], 10 * 1024)
    try {
      await finder.find([endless, new FakeHeaderPeer('honest', main)], () => {})
      assert.ok(!endless.stalled, `still probing after ${endless.served} fabricated headers`)
    } finally {
      endless.stop = true
    }
  })

  it('a peer that returns too few headers for the pivot run is passed over, not reported', async () => {
    const finder = new PivotFinder({ minPeers: 1, distance: 64, validate: validator().validate })
    const short = new FakeHeaderPeer('short', main)
    // Serves its head, but nothing (or two headers) of the run below it
    const headers = short.headers.bind(short)
    for (const served of [0, 2]) {
      short.headers = async (block, max) =>
        typeof block === 'bigint' && block < 300n && max > 1
          ? (await headers(block, max)).slice(0, served)
          : headers(block, max)
      const bad: BadHeadersError[] = []
      assert.equal(await finder.find([short], (e) => bad.push(e)), undefined)
      assert.deepEqual(bad, [])
    }
  })

  // Seen with real processes: the client matches eth replies by message code, not request id, and
  // a peer may answer out of order, so the block fetcher's reply to another GetBlockHeaders landed
  // on the pivot run's request and the honest peer was dropped ("headers do not end at the head",
  // "2 of 3 headers"), leaving the node without peers for minutes
  it(
    'a reply to another request is no proof of a lie: the honest ' +
      'peer is not reported, and names the pivot at the next look',
    async () => {
      const v = validator()
      const finder = new PivotFinder({ minPeers: 1, distance: 64, validate: v.validate })
      const honest = new FakeHeaderPeer('honest', main)
      const headers = honest.headers.bind(honest)
      // Its answer to the pivot run's request is another request's reply, once for each way it can go wrong
      const crossed: ((max: number) => Promise<BlockHeader[]>)[] = [
        async (max) => headers(100n, max), // another run, as long, linked
        async () => headers(299n, 2), // the fetcher's tip request: 2 headers
        async () => [], // an empty reply
        // a run that ends beside the head (a reorg)
        async (max) => (await headers(236n, max)).slice(0, -1).concat(side[300]),
      ]
      for (const reply of crossed) {
        let once = true
        honest.headers = async (block, max) => {
          if (once && block === 236n && max === 65) {
            once = false
            return reply(max)
          }
          return headers(block, max)
        }
        const bad: BadHeadersError[] = []
        assert.equal(await finder.find([honest], (e) => bad.push(e)), undefined)
        assert.equal(bad.length, 0, bad[0]?.message)
        const pivot = await finder.find([honest], (e) => bad.push(e))
        assert.equal(bytesToHex(pivot?.header.hash() ?? new Uint8Array()), bytesToHex(main[236].hash()))
        assert.deepEqual(bad, [])
      }
    },
  )

  it(
    'the announced head asked by hash, answered with another header: ' + 'that header is not taken as the head',
    async () => {
      const finder = new PivotFinder({ minPeers: 1, distance: 64, validate: validator().validate })
      const peer = new FakeHeaderPeer('a', main)
      const headers = peer.headers.bind(peer)
      peer.headers = async (block, max) => (typeof block === 'bigint' ? headers(block, max) : [unlinked(7000, 7000)[0]])
      assert.equal(await finder.probeHead(peer), undefined)
    },
  )
})

describe('[PivotFinder] memory', () => {
  it('keeps the heads of the peers connected now only, through peer churn and many head moves', async () => {
    const finder = new PivotFinder({ minPeers: 1, distance: 64, validate: validator().validate })
    const main = chain(400)
    // 500 looks (a staleness check every 10 s: 80 minutes), each with two peers that come and go,
    // and heads that move one block per look
    for (let look = 0; look < 500; look++) {
      const head = 100 + (look % 300)
      const peers = [
        new FakeHeaderPeer(`a-${look}`, main.slice(0, head + 1)),
        new FakeHeaderPeer(`b-${look}`, main.slice(0, head + 1)),
      ]
      assert.ok((await finder.find(peers, () => assert.fail('no bad peer'))) !== undefined)
    }
    assert.ok(finder.knownHeads <= 2, `${finder.knownHeads} heads kept for 2 connected peers`)
  })
})
