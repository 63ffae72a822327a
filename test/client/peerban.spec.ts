/**
 * The client's bans, and the peer that comes back after one (issue 23 item 11): a post-merge node whose
 * only peer (its bootnode) was banned never got it back. The stock pool, at the ban's end, called
 * `connect()` on the banned peer object: a peer the server accepted stays marked connected, so that did
 * nothing and put the dead peer back in the pool, where syncs waited on it for good. Here: the pool dials
 * a peer we dialled again through the server, the server tells the peers it dialled from those that dialled
 * it, and the block fetcher keeps its only peer when a request times out.
 */
import { strict as assert } from 'node:assert'

import sinon from 'sinon'

import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { RlpxPeer } from '@ethereumjs/client/dist/esm/src/net/peer/rlpxpeer.js'
import { PeerPool } from '@ethereumjs/client/dist/esm/src/net/peerpool.js'
import { RlpxServer } from '@ethereumjs/client/dist/esm/src/net/server/rlpxserver.js'
import { Fetcher } from '@ethereumjs/client/dist/esm/src/sync/fetcher/fetcher.js'
import { Event } from '@ethereumjs/client/dist/esm/src/types.js'

import type { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'
import type { Job } from '@ethereumjs/client/dist/esm/src/sync/fetcher/types.js'

const ID_A = 'aa'.repeat(64)
const ID_B = 'bb'.repeat(64)
const BAN_MS = 10_000

/** A server whose ban and dial are recorded */
function fakeServer() {
  return { ban: sinon.spy(), dial: sinon.spy(async (_peer: { id: string; host: string; port: number }) => {}) }
}

/** A pooled RLPx peer as the server makes it: accepted, so marked connected */
function serverPeer(config: Config, id: string, server: ReturnType<typeof fakeServer>, inbound: boolean): RlpxPeer {
  const peer = new RlpxPeer({ config, id, host: '127.0.0.1', port: 30303, inbound, protocols: [] })
  Object.assign(peer, { server, connected: true })
  return peer
}

describe('[PeerPool] a banned peer when its ban ends', () => {
  let clock: sinon.SinonFakeTimers
  let config: Config
  let pool: PeerPool
  beforeEach(async () => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    config = new Config({ accountCache: 1000, storageCache: 1000, maxPeers: 5 })
    pool = new PeerPool({ config })
    await pool.open()
    await pool.start()
  })
  afterEach(async () => {
    await pool.stop()
    clock.restore()
  })

  it('a peer we dialled (a bootnode) is dialled again through the server, not put back dead', async () => {
    const server = fakeServer()
    const peer = serverPeer(config, ID_A, server, false)
    pool.add(peer)
    pool.ban(peer, BAN_MS)
    assert.equal(server.ban.callCount, 1)
    assert.equal(pool.contains(peer), false)
    await clock.tickAsync(BAN_MS)
    assert.equal(server.dial.callCount, 0, 'dialled before the ban ended')
    await clock.tickAsync(1_000)
    assert.equal(pool.contains(peer), false, 'the banned peer object, its connection closed, was put back in the pool')
    assert.deepEqual(server.dial.args, [[{ id: ID_A, host: '127.0.0.1', port: 30303 }]])
  })

  it('a peer that dialled us is not dialled (its port is not one it listens on), nor one back already', async () => {
    const server = fakeServer()
    const inbound = serverPeer(config, ID_A, server, true)
    const back = serverPeer(config, ID_B, server, false)
    pool.add(inbound)
    pool.add(back)
    pool.ban(inbound, BAN_MS)
    pool.ban(back, BAN_MS)
    // It dialled us again meanwhile: a new connection, in the pool under the same id
    pool.add(serverPeer(config, ID_B, server, true))
    await clock.tickAsync(BAN_MS + 1_000)
    assert.equal(server.dial.callCount, 0)
  })

  it('a pool stopped before the ban ends dials nobody', async () => {
    const server = fakeServer()
    const peer = serverPeer(config, ID_A, server, false)
    pool.add(peer)
    pool.ban(peer, BAN_MS)
    await pool.stop()
    await clock.tickAsync(BAN_MS + 1_000)
    assert.equal(server.dial.callCount, 0)
  })
})

describe('[RlpxServer] the peers it dialled and those that dialled it', () => {
  for (const [socketServer, inbound] of [
    [null, false],
    [{}, true],
  ] as const) {
    const socketIs = socketServer === null ? 'null (we dialled)' : 'set'
    it(`a connection whose socket's server is ${socketIs}: inbound=${inbound}`, async () => {
      const config = new Config({ accountCache: 1000, storageCache: 1000 })
      const server = new RlpxServer({ config })
      // Without a port it listens nowhere: only its RLPx's events are used
      void (server as unknown as { initRlpx(): Promise<void> }).initRlpx()
      const connected = new Promise<Peer>((resolve) => config.events.once(Event.PEER_CONNECTED, resolve))
      const socket = { remoteAddress: '127.0.0.1', remotePort: 30303, server: socketServer }
      const rlpxPeer = { getId: () => Buffer.from(ID_A, 'hex'), _socket: socket, getProtocols: () => [] }
      server.rlpx!.events.emit('peer:added', rlpxPeer as never)
      assert.equal((await connected).inbound, inbound)
      server.rlpx!.destroy()
    })
  }
})

/** One task, asked of whichever peer is idle; the first request fails after the fetcher's timeout */
class OneTaskFetcher extends Fetcher<number, number[], number> {
  readonly asked: string[] = []
  private enqueued = false

  constructor(pool: PeerPool) {
    const config = new Config({ accountCache: 1000, storageCache: 1000 })
    super({ config, pool, interval: 100, timeout: 1_000, banTime: BAN_MS })
  }

  override tasks(): number[] {
    return [1]
  }

  jobStr(job: Job<number, number[], number>): string {
    return `task ${job.task}`
  }

  override nextTasks(): void {
    if (this.enqueued) return
    this.enqueued = true
    this.enqueueTask(1)
  }

  async request(job?: Job<number, number[], number>): Promise<number[] | undefined> {
    this.asked.push(job!.peer!.id)
    // The first one is never answered: the protocol's own timeout fails it after the fetcher's; later ones
    // are answered at once
    if (this.asked.length === 1)
      return new Promise((_, reject) => setTimeout(() => reject(new Error('Request timed out')), 1_500))
    return [job!.task]
  }

  process(_job?: Job<number, number[], number>, result?: number[]): number[] {
    return result!
  }

  // As the block fetchers: a failed request bans its peer
  processStoreError(): { destroyFetcher: boolean; banPeer: boolean; stepBack: bigint } {
    return { destroyFetcher: false, banPeer: true, stepBack: 0n }
  }

  async store(): Promise<void> {}
}

describe('[Fetcher] a request that times out', () => {
  let clock: sinon.SinonFakeTimers
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
  })
  afterEach(() => clock.restore())

  /** Pool peers whose bans are recorded; each is idle */
  function peersIn(pool: PeerPool, ids: string[]): { bans: string[] } {
    const bans: string[] = []
    for (const id of ids) {
      const peer = { id, idle: true, server: { ban: () => bans.push(id) }, handleMessageQueue() {} }
      pool.add(peer as unknown as Peer)
    }
    return { bans }
  }

  it('on the only peer: the peer is kept, and the job is asked of it again', async () => {
    const pool = new PeerPool({ config: new Config({ accountCache: 1000, storageCache: 1000 }) })
    const { bans } = peersIn(pool, [ID_A])
    const fetcher = new OneTaskFetcher(pool)
    const done = fetcher.blockingFetch()
    await clock.tickAsync(1_000)
    assert.deepEqual(bans, [], 'the only peer was banned for one slow reply')
    assert.equal(pool.contains(ID_A), true)
    await clock.tickAsync(2_000)
    await done
    assert.deepEqual(fetcher.asked, [ID_A, ID_A])
  })

  it('beside another peer: the slow one is banned and the job goes to the other', async () => {
    const pool = new PeerPool({ config: new Config({ accountCache: 1000, storageCache: 1000 }) })
    const { bans } = peersIn(pool, [ID_A, ID_B])
    const fetcher = new OneTaskFetcher(pool)
    const done = fetcher.blockingFetch()
    await clock.tickAsync(2_000)
    await done
    // Banned at the fetcher's timeout, and again when its request fails
    assert.ok(bans.length > 0 && bans.every((id) => id === bans[0]), bans.join())
    assert.deepEqual(fetcher.asked, [bans[0], bans[0] === ID_A ? ID_B : ID_A])
  })
})
