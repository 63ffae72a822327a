/**
 * The client's side of eth/69 (client patch): the versions offered (`ethVersions`), the Status fields
 * (the served range, no td), `BlockRangeAnnouncer` (when a range update is due: go-ethereum's 32 blocks,
 * caps/eth.md's two minutes), a peer's head from its range (`Peer.latest()`), and the pre-merge best peer
 * among peers without total difficulty (`FullSynchronizer.best()`).
 */
import { strict as assert } from 'node:assert'

import { createBlockHeader } from '@ethereumjs/block'
import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { Chain } from '@ethereumjs/client/dist/esm/src/blockchain/chain.js'
import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { Peer } from '@ethereumjs/client/dist/esm/src/net/peer/peer.js'
import { RlpxPeer } from '@ethereumjs/client/dist/esm/src/net/peer/rlpxpeer.js'
import { EthProtocol } from '@ethereumjs/client/dist/esm/src/net/protocol/ethprotocol.js'
import { BlockRangeAnnouncer } from '@ethereumjs/client/dist/esm/src/service/blockrange.js'
import { FullSynchronizer } from '@ethereumjs/client/dist/esm/src/sync/fullsync.js'
import { Event } from '@ethereumjs/client/dist/esm/src/types.js'
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt, bytesToHex, hexToBytes } from '@ethereumjs/util'

const common = () => new Common({ chain: Mainnet, hardfork: Hardfork.Prague })
const HASH = (n: number) => hexToBytes(`0x${n.toString(16).padStart(64, '0')}`)

describe('[client eth/69] versions, Status, range updates, best peer', () => {
  it('offers eth/66–70 by default; ethVersions narrows it; an unknown version is refused', () => {
    const versions = (ethVersions?: number[]) =>
      new EthProtocol({ config: new Config({ common: common(), ethVersions }), chain: {} as never }).versions
    assert.deepEqual(versions(), [66, 67, 68, 69, 70])
    assert.deepEqual(versions([69, 70]), [69, 70])
    const caps = RlpxPeer.capabilities([{ name: 'eth', versions: [69, 70] } as never])
    assert.deepEqual(
      caps.map((c: { version: number; length: number }) => [c.version, c.length]),
      [
        [69, 18],
        [70, 18],
      ],
    )
    assert.throws(() => new Config({ common: common(), ethVersions: [68, 71] }), /Unsupported eth versions: 71/)
    assert.throws(() => new Config({ common: common(), ethVersions: [] }), /none given/)
  })

  it('Status carries the served range; a td-less Status decodes to the range', () => {
    const config = new Config({ common: common() })
    const latest = { header: { number: 500n }, hash: () => HASH(500) }
    // The chain's own getters (blocks, genesis, chainId) over fake storage
    const chain = Object.assign(Object.create(Chain.prototype), {
      _blocks: { latest, td: 7n },
      historyStart: 0n,
      config,
      blockchain: { genesisBlock: { hash: () => HASH(0) } },
    })
    const protocol = new EthProtocol({ config, chain })
    chain.historyStart = 301n
    const status = protocol.encodeStatus() as { earliestBlock: Uint8Array; latestBlock: Uint8Array }
    assert.equal(bytesToBigInt(status.earliestBlock), 301n)
    assert.equal(bytesToBigInt(status.latestBlock), 500n)
    // A start above the head (a node before its first executed block) is the head alone
    chain.historyStart = 2n ** 64n - 1n
    assert.deepEqual(chain.servedRange(), { earliest: 500n, latest: 500n, latestHash: HASH(500) })
    const decoded = protocol.decodeStatus({
      chainId: Uint8Array.of(1),
      td: undefined,
      bestHash: HASH(9),
      genesisHash: HASH(0),
      earliestBlock: new Uint8Array(),
      latestBlock: Uint8Array.of(9),
    })
    assert.deepEqual(decoded, {
      chainId: 1n,
      earliestBlock: 0n,
      latestBlock: 9n,
      bestHash: HASH(9),
      genesisHash: HASH(0),
    })
    assert.equal('td' in decoded, false)
  })

  it("BlockRangeUpdate encodes to go-ethereum's form of {0, 3333, 0x…feedbeef} and decodes back", () => {
    const protocol = new EthProtocol({ config: new Config({ common: common() }), chain: {} as never })
    const message = protocol.messages.find((m) => m.name === 'BlockRangeUpdate')!
    const range = { earliest: 0n, latest: 3333n, latestHash: hexToBytes(`0x${'feedbeef'.padStart(64, '0')}`) }
    const encoded = RLP.encode(protocol.encode(message, range, 69))
    assert.equal(bytesToHex(encoded), `0xe580820d05a0${'feedbeef'.padStart(64, '0')}`)
    assert.deepEqual(protocol.decode(message, RLP.decode(encoded), 69), range)
  })

  it('BlockRangeAnnouncer: after 32 blocks or 2 minutes, at once when the head moves back; eth/69+ peers only', () => {
    const config = new Config({ common: common() })
    let range = { earliest: 0n, latest: 100n, latestHash: HASH(100) }
    const sent: [string, number, unknown][] = []
    const peer = (version: number) => ({
      eth: { version, send: (name: string, r: unknown) => sent.push([name, version, r]) },
    })
    const pool = { peers: [peer(68), peer(69), peer(70), {}] }
    const announcer = new BlockRangeAnnouncer({ config, chain: { servedRange: () => range }, pool: pool as never })
    const at = (latest: bigint, earliest = range.earliest) => {
      range = { earliest, latest, latestHash: HASH(Number(latest)) }
    }
    const t0 = Date.now()
    announcer.start()
    at(131n)
    assert.equal(announcer.update(t0 + 1_000), false, '31 blocks, 1 s: not due')
    at(132n)
    assert.equal(announcer.update(t0 + 2_000), true, '32 blocks: due')
    assert.deepEqual(
      sent.map(([name, v]) => [name, v]),
      [
        ['BlockRangeUpdate', 69],
        ['BlockRangeUpdate', 70],
      ],
    )
    assert.deepEqual(sent[0][2], range)
    at(133n)
    assert.equal(announcer.update(t0 + 60_000), false)
    assert.equal(announcer.update(t0 + 122_000), true, 'two minutes since the last: due')
    at(120n)
    assert.equal(announcer.update(t0 + 123_000), true, 'the head moved back: at once')
    at(120n, 50n)
    assert.equal(announcer.update(t0 + 124_000), true, 'the earliest block changed: at once')
    assert.equal(announcer.update(t0 + 500_000), false, 'an unchanged range is not sent again')
    // Sent on the client's chain updates while started, not after stop
    const before = sent.length
    at(200n)
    config.events.emit(Event.CHAIN_UPDATED)
    assert.equal(sent.length, before + 2)
    announcer.stop()
    at(300n)
    config.events.emit(Event.CHAIN_UPDATED)
    assert.equal(sent.length, before + 2)
  })

  it('BlockRangeAnnouncer before the merge: also every 4 s while the head moves (no eth/69 block propagation)', () => {
    const config = new Config({ common: new Common({ chain: Mainnet, hardfork: Hardfork.London }) })
    let range = { earliest: 0n, latest: 10n, latestHash: HASH(10) }
    const sent: unknown[] = []
    const pool = { peers: [{ eth: { version: 69, send: (_: string, r: unknown) => sent.push(r) } }] }
    const announcer = new BlockRangeAnnouncer({ config, chain: { servedRange: () => range }, pool: pool as never })
    const t0 = Date.now()
    announcer.start()
    range = { earliest: 0n, latest: 12n, latestHash: HASH(12) }
    assert.equal(announcer.update(t0 + 3_000), false, '3 s: not yet')
    assert.equal(announcer.update(t0 + 4_000), true, '4 s and a new head: due')
    assert.equal(announcer.update(t0 + 9_000), false, 'the same head is not sent again')
    assert.deepEqual(sent, [range])
  })

  it("Peer.latest(): a range naming a higher block than the peer's known head asks for the named head", async () => {
    const c = new Common({ chain: Mainnet, hardfork: Hardfork.Paris })
    const head = (n: bigint) => createBlockHeader({ number: n, timestamp: 1n, gasLimit: 30_000_000n }, { common: c })
    class TestPeer extends Peer {
      async connect(): Promise<void> {}
    }
    const peer = new TestPeer({ config: new Config({ common: c }), id: 'p', address: '127.0.0.1:1', transport: 'rlpx' })
    const asked: (bigint | string)[] = []
    const eth = {
      status: { bestHash: head(10n).hash(), latestBlock: 10n } as { bestHash: Uint8Array; latestBlock: bigint },
      updatedBestHeader: undefined,
      async getBlockHeaders({ block }: { block: bigint | Uint8Array }) {
        asked.push(
          typeof block === 'bigint' ? block : bytesToBigInt(block) === bytesToBigInt(head(50n).hash()) ? 'h50' : 'h10',
        )
        if (typeof block === 'bigint') return [0n, []]
        return [0n, [bytesToBigInt(block) === bytesToBigInt(head(50n).hash()) ? head(50n) : head(10n)]]
      },
    }
    ;(peer as unknown as { eth: object }).eth = eth
    assert.equal((await peer.latest())?.number, 10n)
    assert.equal((await peer.latest())?.number, 10n, 'a guess the peer lacks keeps the head')
    // A BlockRangeUpdate (fullethereumservice.js) sets the status to the new range
    Object.assign(eth.status, { bestHash: head(50n).hash(), latestBlock: 50n })
    assert.equal((await peer.latest())?.number, 50n)
    assert.deepEqual([asked[0], asked[2]], ['h10', 'h50'])
  })

  it('best peer before the merge: highest td, else the eth/69 peer with the highest block not below ours', async () => {
    // A chain without the merge (mainnet has Paris: any eth peer would do)
    const chainCommon = { consensusAlgorithm: () => 'ethash', hardforkBlock: () => null }
    const peer = (id: string, status: object) => ({ id, eth: { status } })
    const best = (peers: object[], ours = { td: 100n, height: 50n }) =>
      FullSynchronizer.prototype.best.call({
        pool: { peers },
        config: { minPeers: 1, chainCommon },
        chain: { blocks: ours },
        syncable: () => true,
        forceSync: false,
      } as never) as Promise<{ id: string } | undefined>
    const low69 = peer('low69', { latestBlock: 40n })
    const high69 = peer('high69', { latestBlock: 70n })
    const mid69 = peer('mid69', { latestBlock: 60n })
    const td68 = peer('td68', { td: 120n })
    const lowTd = peer('lowTd', { td: 90n })
    assert.equal((await best([low69, mid69, high69]))?.id, 'high69')
    assert.equal((await best([low69]))?.id, undefined, 'below our head')
    assert.equal((await best([mid69, td68, high69]))?.id, 'td68', 'a td peer above ours first')
    assert.equal((await best([lowTd, mid69]))?.id, 'mid69')
    assert.equal((await best([peer('same', { latestBlock: 50n })]))?.id, 'same', 'at our head, as td >= ours')
  })

  it('the client does not send NewBlock or NewBlockHashes to eth/69 peers', async () => {
    const sent: [string, string][] = []
    const peer = (id: string, version: number) => ({
      id,
      eth: { version, send: (name: string) => sent.push([name, id]) },
    })
    const self = {
      addToKnownByPeer: () => false,
      chain: { blocks: { td: 1n } },
    }
    await FullSynchronizer.prototype.sendNewBlock.call(
      self as never,
      { hash: () => HASH(1) } as never,
      [peer('p68', 68), peer('p69', 69), peer('p70', 70)] as never,
    )
    assert.deepEqual(sent, [['NewBlock', 'p68']])
  })
})
