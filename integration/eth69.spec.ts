/**
 * eth/69 and eth/70 beside eth/68 (issue 24), with real client processes on loopback. A mines a clique
 * chain and offers only eth/69 and eth/70, as go-ethereum ≥ 1.17.1 does. B (all versions) snap-syncs
 * from A over eth/70, executes to the head and follows A with no block propagation (eth/69 has none:
 * the block range updates and head polls carry the head). C, offering only eth/69, and E, offering only
 * eth/68, snap-sync from B at once; D (all versions) then snap-syncs from the mixed set C and E. Receipts
 * asked over each version equal `eth_getTransactionReceipt`'s and rebuild each block's receipts root.
 */
import { strict as assert } from 'node:assert'

import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt, bytesToHex, hexToBytes } from '@ethereumjs/util'
import { encodeReceipt } from '@ethereumjs/vm'

import { connectEth } from './harness/ethpeer.js'
import { ClientNode, startSnapNode, startSource, waitSnapDone } from './harness/index.js'
import { chainInfo } from './snapPeer.js'

import type { ReceiptsAnswer, WireReceipt } from './harness/ethpeer.js'
import type { Source } from './harness/index.js'

const DEVNET = { accounts: 2_000, contracts: 200, slotsPerContract: 10, period: 1, seed: 'eth69' }
// Transfers in every block of the loaded chain: receipts to compare
// 90 blocks: B's pivot, 16 below A's head when B starts, falls among them
const PLAN = { newAccounts: 300, touchedAccounts: 150, txsPerBlock: 5 }
const PIVOT_DISTANCE = 16
// Blocks B must follow A after its sync, with no NewBlock on eth/69 (range updates carry the head)
const FOLLOW = 20n

interface RpcReceipt {
  status: string
  cumulativeGasUsed: string
  logs: { address: string; topics: string[]; data: string }[]
  type: string
}

interface RpcBlock {
  hash: string
  number: string
  receiptsRoot: string
  transactions: string[]
}

/** The eth version `node` speaks with its peer `enode`'s id, from `admin_peers` */
async function peerVersion(node: ClientNode, peerNode: ClientNode): Promise<number | undefined> {
  const id = (await peerNode.rpc<{ id: string }>('admin_nodeInfo')).id
  const peers = await node.rpc<{ id: string; protocols: { eth: { version: number } } }[]>('admin_peers')
  return peers.find((p) => p.id === id || `0x${p.id}` === id || p.id === `0x${id}`)?.protocols.eth.version
}

async function block(node: ClientNode, n: bigint): Promise<RpcBlock> {
  return node.rpc<RpcBlock>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])
}

// JSON-RPC receipts by node and tx hash: each is compared over several versions
const rpcReceipts = new Map<string, RpcReceipt>()

/** Checks a block's served receipts against JSON-RPC and against its receipts root */
async function checkReceipts(node: ClientNode, b: RpcBlock, served: WireReceipt[], what: string): Promise<void> {
  assert.equal(served.length, b.transactions.length, `${what}: one receipt per transaction of block ${b.number}`)
  for (const [i, hash] of b.transactions.entries()) {
    const key = `${node.options.name}:${hash}`
    const rpc = rpcReceipts.get(key) ?? (await node.rpc<RpcReceipt>('eth_getTransactionReceipt', [hash]))
    rpcReceipts.set(key, rpc)
    const r = served[i]
    assert.equal(r.status, Number(rpc.status), `${what}: status of ${hash}`)
    assert.equal(r.cumulativeBlockGasUsed, BigInt(rpc.cumulativeGasUsed), `${what}: gas of ${hash}`)
    assert.equal(r.txType, Number(rpc.type), `${what}: type of ${hash}`)
    const logs = r.logs.map(([address, topics, data]) => ({
      address: bytesToHex(address),
      topics: topics.map(bytesToHex),
      data: bytesToHex(data),
    }))
    assert.deepEqual(
      logs,
      rpc.logs.map((l) => ({ address: l.address.toLowerCase(), topics: l.topics, data: l.data })),
      `${what}: logs of ${hash}`,
    )
  }
  const trie = new MerklePatriciaTrie()
  for (const [i, r] of served.entries()) await trie.put(RLP.encode(i), encodeReceipt(r as never, r.txType as never))
  assert.equal(bytesToHex(trie.root()), b.receiptsRoot, `${what}: receipts root of block ${b.number}`)
}

describe('[eth/69 and eth/70] snap sync and serving with peers that do not speak eth/68', () => {
  let source: Source | undefined
  let a: ClientNode
  let b: ClientNode | undefined
  let c: ClientNode | undefined
  let d: ClientNode | undefined
  let e: ClientNode | undefined
  let pivotB: bigint

  before(async function () {
    this.timeout(600_000)
    source = await startSource({ devnet: DEVNET, plan: PLAN, args: ['--ethVersions=69,70'] })
    a = source.node
    await a.waitForHeight(source.chain.head.number + 4n)
  })

  after(async () => {
    await Promise.all([b?.destroy(), c?.destroy(), d?.destroy(), e?.destroy()])
    await source?.destroy()
  })

  it('B (all versions) snap-syncs from A (eth/69 and 70 only) over eth/70 and follows A', async () => {
    b = await startSnapNode(source!, { pivotDistance: PIVOT_DISTANCE })
    const done = await waitSnapDone(b, { timeoutMs: 300_000 })
    pivotB = BigInt(done.fields.pivot)
    assert.equal(await peerVersion(b, a), 70, 'B and A speak eth/70')
    assert.equal(await peerVersion(a, b), 70, 'A and B speak eth/70')
    const target = (await a.blockNumber()) + FOLLOW
    await a.waitForHeight(target, 120_000)
    await b.waitForHeight(target, 120_000)
    assert.equal((await block(b, target)).hash, (await block(a, target)).hash, `B's block ${target} is A's`)
  })

  it('receipts over eth/69 and eth/70 from A, and eth/68, 69, 70 from B, equal the RPC receipts', async () => {
    const info = await chainInfo((m, p) => a.rpc(m, p), source!.devnet.genesis as never)
    const loaded = source!.chain.blocks.filter((x) => x.txs > 0).map((x) => x.number)
    const blocks = await Promise.all(loaded.slice(0, 4).map((n) => block(a, n)))
    for (const version of [69, 70] as const) {
      const peer = await connectEth(await a.enode(), info, version)
      try {
        assert.equal(peer.version, version)
        assert.equal(bytesToBigInt(peer.status.earliestBlock as Uint8Array), 0n, "A's Status: history from genesis")
        const answer = await peer.getReceipts(blocks.map((x) => hexToBytes(x.hash as `0x${string}`)))
        assert.equal(answer.receipts.length, blocks.length, `eth/${version}: one list per block`)
        for (const [i, x] of blocks.entries()) await checkReceipts(a, x, answer.receipts[i], `A eth/${version}`)
        if (version === 70) {
          const from3: ReceiptsAnswer = await peer.getReceipts([hexToBytes(blocks[0].hash as `0x${string}`)], 3)
          assert.deepEqual(
            from3.receipts[0].map((r) => r.cumulativeBlockGasUsed),
            answer.receipts[0].slice(3).map((r) => r.cumulativeBlockGasUsed),
            'eth/70: the first list starts at firstBlockReceiptIndex',
          )
          assert.equal(from3.lastBlockIncomplete, false)
        }
      } finally {
        peer.close()
      }
    }
    await assert.rejects(connectEth(await a.enode(), info, 68), /handshake|disconnected|negotiated/)

    // B executed the blocks above its pivot: it has their receipts, and none below (docs/serving.md)
    const above = loaded.filter((n) => n > pivotB)
    const below = loaded.filter((n) => n <= pivotB)
    assert.ok(above.length > 0 && below.length > 0, `loaded blocks with txs on both sides of B's pivot ${pivotB}`)
    const asked = await Promise.all([...above, below[0], above[0]].map((n) => block(b!, n)))
    for (const version of [68, 69, 70] as const) {
      const peer = await connectEth(await b!.enode(), info, version)
      try {
        assert.equal(peer.version, version)
        if (version >= 69) {
          const earliest = bytesToBigInt(peer.status.earliestBlock as Uint8Array)
          assert.equal(earliest, pivotB + 1n, "B's Status: history from above its pivot")
        }
        const answer = await peer.getReceipts(asked.map((x) => hexToBytes(x.hash as `0x${string}`)))
        assert.equal(answer.receipts.length, above.length, `B eth/${version}: lists up to the block below the pivot`)
        for (const [i, x] of asked.slice(0, above.length).entries()) {
          await checkReceipts(b!, x, answer.receipts[i], `B eth/${version}`)
        }
      } finally {
        peer.close()
      }
    }
  })

  it('C (eth/69 only) and E (eth/68 only) snap-sync from B at once, and follow it', async () => {
    const bootnode = await b!.enode()
    ;[c, e] = await Promise.all([
      startSnapNode(source!, { name: 'C', bootnode, pivotDistance: PIVOT_DISTANCE, args: ['--ethVersions=69'] }),
      startSnapNode(source!, { name: 'E', bootnode, pivotDistance: PIVOT_DISTANCE, args: ['--ethVersions=68'] }),
    ])
    await Promise.all([c, e].map((n) => waitSnapDone(n, { timeoutMs: 300_000 })))
    assert.equal(await peerVersion(c, b!), 69, 'C and B speak eth/69')
    assert.equal(await peerVersion(b!, c), 69, 'B and C speak eth/69')
    assert.equal(await peerVersion(e, b!), 68, 'E and B speak eth/68')
    assert.equal(await peerVersion(b!, e), 68, 'B and E speak eth/68')
    const target = (await a.blockNumber()) + 5n
    await Promise.all([c, e].map((n) => n.waitForHeight(target, 120_000)))
    const hashes = await Promise.all([a, c, e].map(async (n) => (await block(n, target)).hash))
    assert.deepEqual(hashes, [hashes[0], hashes[0], hashes[0]], `C's and E's block ${target} are A's`)
  })

  it('D (all versions) snap-syncs from the mixed set C (eth/69) and E (eth/68), and follows', async () => {
    d = await ClientNode.start({
      name: 'D',
      genesisFile: source!.files.genesisFile,
      sync: 'snap',
      bootnodes: [await c!.enode(), await e!.enode()],
      args: [`--snapPivotDistance=${PIVOT_DISTANCE}`, '--snapMinPeers=2'],
    })
    await waitSnapDone(d, { timeoutMs: 300_000 })
    assert.equal(await peerVersion(d, c!), 69, 'D and C speak eth/69')
    assert.equal(await peerVersion(d, e!), 68, 'D and E speak eth/68')
    const target = (await a.blockNumber()) + 5n
    await d.waitForHeight(target, 120_000)
    assert.equal((await block(d, target)).hash, (await block(a, target)).hash, `D's block ${target} is A's`)
  })
})
