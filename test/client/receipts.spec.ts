/**
 * Receipts on the wire (client patch, `net/protocol/receipts.js` and the eth protocol's GetReceipts and
 * Receipts): the eth/66–68 form (legacy receipt as a list, typed as `type || rlp`), the eth/69 form
 * without bloom (EIP-7642), eth/70's index and cut last list (EIP-7975), and the serving rules of
 * caps/eth.md. The vectors come from go-ethereum's `eth/protocols/eth/protocol_test.go` (facts, not code);
 * the eth/70 ones are its eth/69 vectors with the new field, checked by hand.
 */
import { strict as assert } from 'node:assert'

import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { Config } from '@ethereumjs/client/dist/esm/src/config.js'
import { EthProtocol } from '@ethereumjs/client/dist/esm/src/net/protocol/ethprotocol.js'
import { receiptFromWire, receiptToWire, serveReceipts } from '@ethereumjs/client/dist/esm/src/net/protocol/receipts.js'
import { RLP } from '@ethereumjs/rlp'
import { KECCAK256_RLP, bytesToHex, hexToBytes, setLengthLeft } from '@ethereumjs/util'

import type { TypedReceipt } from '@ethereumjs/client/dist/esm/src/net/protocol/receipts.js'

const hash = (h: string) => setLengthLeft(hexToBytes(`0x${h.padStart(h.length + (h.length % 2), '0')}`), 32)
const address = (b: string) => setLengthLeft(hexToBytes(`0x${b}`), 20)

// go-ethereum's ReceiptsPacket69 test: a failed legacy receipt and a successful access-list one
const GETH_RECEIPTS: TypedReceipt[] = [
  {
    txType: 0,
    status: 0,
    cumulativeBlockGasUsed: 333n,
    bitvector: new Uint8Array(256),
    logs: [[address('11'), [hash('dead'), hash('beef')], hexToBytes('0x0100ff')]],
  },
  {
    txType: 1,
    status: 1,
    cumulativeBlockGasUsed: 444n,
    bitvector: new Uint8Array(256),
    logs: [[address('22'), [hash('05668'), hash('9773')], hexToBytes('0x020f0f0f0608')]],
  },
]
const RECEIPTS69_BODY =
  'f8d5f8d3f866808082014df85ff85d940000000000000000000000000000000000000011f842a0000000000000000000000000' +
  '000000000000000000000000000000000000deada0000000000000000000000000000000000000000000000000000000000000beef' +
  '830100fff86901018201bcf862f860940000000000000000000000000000000000000022f842a000000000000000000000000000' +
  '00000000000000000000000000000000005668a0000000000000000000000000000000000000000000000000000000000000977386' +
  '020f0f0f0608'
const RECEIPTS69 = `f8da820457${RECEIPTS69_BODY}`
const GET_RECEIPTS69 =
  'f847820457f842a000000000000000000000000000000000000000000000000000000000deadc0dea0000000000000000000000000' +
  '00000000000000000000000000000000feedbeef'

function protocol(): EthProtocol {
  const common = new Common({ chain: Mainnet, hardfork: Hardfork.Prague })
  const config = new Config({ common, accountCache: 10000, storageCache: 1000 })
  return new EthProtocol({ config, chain: { config } as never })
}

const message = (p: EthProtocol, name: string) => p.messages.find((m) => m.name === name)!
const encodeHex = (p: EthProtocol, name: string, args: unknown, version: number) =>
  bytesToHex(RLP.encode(p.encode(message(p, name), args, version) as never)).slice(2)
const decodeHex = (p: EthProtocol, name: string, hex: string, version: number) =>
  p.decode(message(p, name), RLP.decode(hexToBytes(`0x${hex}`)) as never, version)

/** The fields a receipt is compared by (the decoder computes the bloom from the logs on eth/69) */
const fields = (r: TypedReceipt) => ({
  txType: r.txType,
  status: 'status' in r ? r.status : undefined,
  gas: r.cumulativeBlockGasUsed,
  logs: r.logs.map(([a, t, d]) => [bytesToHex(a), t.map(bytesToHex), bytesToHex(d)]),
})

describe('[receipts on the wire] eth/68, eth/69 and eth/70 forms', () => {
  it("eth/69 Receipts encode to go-ethereum's vector and decode back", () => {
    const p = protocol()
    assert.equal(encodeHex(p, 'Receipts', { reqId: 1111n, receipts: [GETH_RECEIPTS] }, 69), RECEIPTS69)
    const [reqId, lists] = decodeHex(p, 'Receipts', RECEIPTS69, 69) as [bigint, TypedReceipt[][]]
    assert.equal(reqId, 1111n)
    assert.deepEqual(lists[0].map(fields), GETH_RECEIPTS.map(fields))
    assert.equal(encodeHex(p, 'Receipts', { reqId: 1111n, receipts: [] }, 69), 'c4820457c0')
  })

  it('eth/70 Receipts carry lastBlockIncomplete before the lists', () => {
    const p = protocol()
    for (const [flag, byte] of [
      [false, '80'],
      [true, '01'],
    ] as const) {
      const hex = `f8db820457${byte}${RECEIPTS69_BODY}`
      const args = { reqId: 1111n, receipts: [GETH_RECEIPTS], lastBlockIncomplete: flag }
      assert.equal(encodeHex(p, 'Receipts', args, 70), hex)
      const [reqId, lists, incomplete] = decodeHex(p, 'Receipts', hex, 70) as [bigint, TypedReceipt[][], boolean]
      assert.equal(reqId, 1111n)
      assert.equal(incomplete, flag)
      assert.deepEqual(lists[0].map(fields), GETH_RECEIPTS.map(fields))
    }
  })

  it("GetReceipts: go-ethereum's eth/69 vector; eth/70 adds firstBlockReceiptIndex", () => {
    const p = protocol()
    const hashes = [hash('deadc0de'), hash('feedbeef')]
    assert.equal(encodeHex(p, 'GetReceipts', { reqId: 1111n, hashes }, 69), GET_RECEIPTS69)
    assert.equal(encodeHex(p, 'GetReceipts', { reqId: 1111n, hashes }, 68), GET_RECEIPTS69)
    const get70 = `f84882045704${GET_RECEIPTS69.slice(10)}`
    assert.equal(encodeHex(p, 'GetReceipts', { reqId: 1111n, hashes, firstBlockReceiptIndex: 4 }, 70), get70)
    assert.deepEqual(decodeHex(p, 'GetReceipts', get70, 70), { reqId: 1111n, firstBlockReceiptIndex: 4, hashes })
    assert.deepEqual(decodeHex(p, 'GetReceipts', GET_RECEIPTS69, 69), {
      reqId: 1111n,
      firstBlockReceiptIndex: 0,
      hashes,
    })
  })

  it('eth/68: a legacy receipt is its RLP list, a typed one the string type || rlp, each with the bloom', () => {
    const withBloom = GETH_RECEIPTS.map((r, i) => ({ ...r, bitvector: new Uint8Array(256).fill(i + 1) }))
    const [legacy, typed] = withBloom.map((r) => receiptToWire(r, 68))
    assert.ok(Array.isArray(legacy) && legacy.length === 4, 'legacy: a list')
    assert.ok(typed instanceof Uint8Array && typed[0] === 1, 'typed: a string starting with its type')
    assert.deepEqual(RLP.decode(typed.subarray(1)), [
      Uint8Array.of(1),
      hexToBytes('0x01bc'),
      withBloom[1].bitvector,
      withBloom[1].logs,
    ])
    for (const [i, wire] of [legacy, typed].entries()) {
      const back = receiptFromWire(RLP.decode(RLP.encode(wire as never)) as never, 68)
      assert.deepEqual(fields(back), fields(withBloom[i]))
      assert.deepEqual(back.bitvector, withBloom[i].bitvector, 'the bloom as sent')
    }
  })

  it('eth/69 decoding computes the bloom from the logs', () => {
    const r = receiptFromWire(receiptToWire(GETH_RECEIPTS[0], 69), 69)
    assert.equal(r.bitvector.length, 256)
    assert.ok(
      r.bitvector.some((b) => b !== 0),
      'a receipt with a log has bits set',
    )
    assert.deepEqual(
      receiptFromWire(receiptToWire({ ...GETH_RECEIPTS[0], logs: [] }, 69), 69).bitvector,
      new Uint8Array(256),
    )
  })

  it('malformed receipts are refused with a clear error', () => {
    const good = receiptToWire(GETH_RECEIPTS[1], 69) as Uint8Array[]
    const cases: [string, unknown, number, RegExp][] = [
      ['three fields', good.slice(0, 3), 69, /expected 4 fields/],
      ['type 0 as 0x00', [Uint8Array.of(0), ...good.slice(1)], 69, /tx type/],
      ['type above 0x7f', [Uint8Array.of(0x80), ...good.slice(1)], 69, /tx type/],
      ['status of 2 bytes', [good[0], Uint8Array.of(1, 1), ...good.slice(2)], 69, /status/],
      ['gas over 64 bits', [good[0], good[1], new Uint8Array(9).fill(1), good[3]], 69, /64 bits/],
      ['logs not a list', [...good.slice(0, 3), Uint8Array.of(1)], 69, /logs is not a list/],
      ['short address', [...good.slice(0, 3), [[new Uint8Array(19), [], new Uint8Array()]]], 69, /address/],
      ['bloom of 255 bytes', [Uint8Array.of(1), Uint8Array.of(1), new Uint8Array(255), []], 68, /bloom/],
    ]
    for (const [what, item, version, error] of cases) {
      assert.throws(() => receiptFromWire(item as never, version), error, what)
    }
  })
})

/** A chain of blocks by hash, each with `txs` transactions of type 2, and receipts where stored */
function fakeChain(blocks: { txs: number; stored: boolean }[]) {
  const receiptOf = (block: number, i: number): TypedReceipt => ({
    txType: 2,
    status: 1,
    cumulativeBlockGasUsed: BigInt(21_000 * (i + 1)),
    bitvector: new Uint8Array(256),
    logs: [[address('aa'), [hash(`${block}${i}`)], new Uint8Array(100).fill(block)]],
  })
  const hashes = blocks.map((_, i) => hash(`b10c${i}`))
  const byHash = new Map(hashes.map((h, i) => [bytesToHex(h), i]))
  const chain = {
    async getBlock(h: Uint8Array) {
      const i = byHash.get(bytesToHex(h))
      if (i === undefined) throw new Error('NotFound')
      const txs = Array.from({ length: blocks[i].txs }, () => ({ type: 2 }))
      return { header: { receiptTrie: blocks[i].txs === 0 ? KECCAK256_RLP : hash('77') }, transactions: txs }
    },
  }
  /** The `calcBloom` argument of each getReceipts call */
  const blooms: boolean[] = []
  const manager = {
    async getReceipts(h: Uint8Array, calcBloom = false) {
      blooms.push(calcBloom)
      const i = byHash.get(bytesToHex(h))!
      if (!blocks[i].stored) return []
      return Array.from({ length: blocks[i].txs }, (_, j) => ({ ...receiptOf(i, j), txType: undefined }))
    },
  }
  return { chain: chain as never, manager: manager as never, hashes, blooms }
}

describe('[receipts serving] one list per block, in request order (caps/eth.md)', () => {
  it('answers each block in order; a block without transactions is the empty list', async () => {
    const { chain, manager, hashes } = fakeChain([
      { txs: 2, stored: true },
      { txs: 0, stored: false },
      { txs: 3, stored: true },
    ])
    const { receipts, lastBlockIncomplete } = await serveReceipts(chain, manager, [hashes[2], hashes[1], hashes[0]], 69)
    assert.deepEqual(
      receipts.map((l) => l.length),
      [3, 0, 2],
    )
    assert.equal(receipts[0][0].txType, 2, 'the type comes from the block')
    assert.equal(lastBlockIncomplete, false)
  })

  it('asks the receipts manager for blooms on eth/66–68 only: eth/69+ sends none', async () => {
    const { chain, manager, hashes, blooms } = fakeChain([{ txs: 2, stored: true }])
    for (const version of [66, 68, 69, 70]) await serveReceipts(chain, manager, [hashes[0]], version)
    assert.deepEqual(blooms, [true, true, false, false])
  })

  it('ends at the first block not here or whose receipts are not here, and at a malformed hash', async () => {
    const { chain, manager, hashes } = fakeChain([
      { txs: 2, stored: true },
      { txs: 1, stored: false },
    ])
    const unknown = hash('404')
    assert.equal((await serveReceipts(chain, manager, [hashes[0], unknown, hashes[0]], 69)).receipts.length, 1)
    assert.equal((await serveReceipts(chain, manager, [hashes[0], hashes[1], hashes[0]], 69)).receipts.length, 1)
    assert.equal((await serveReceipts(chain, undefined, [hashes[1]], 69)).receipts.length, 0, 'receipts not saved')
    for (const bad of [hashes[0].subarray(1), [hashes[0]], 5]) {
      assert.equal((await serveReceipts(chain, manager, [hashes[0], bad, hashes[0]], 68)).receipts.length, 1)
    }
  })

  it('stops after the soft limit, and after the most lists', async () => {
    const { chain, manager, hashes } = fakeChain(Array.from({ length: 10 }, () => ({ txs: 4, stored: true })))
    const size = RLP.encode(
      receiptToWire((await serveReceipts(chain, manager, [hashes[0]], 69)).receipts[0][0], 69) as never,
    ).length
    // Past the soft limit within the third block: that block is whole, the fourth is not asked
    const soft = await serveReceipts(chain, manager, hashes, 69, 0, { soft: size * 9 })
    assert.deepEqual(
      soft.receipts.map((l) => l.length),
      [4, 4, 4],
    )
    assert.equal((await serveReceipts(chain, manager, hashes, 69, 0, { lists: 5 })).receipts.length, 5)
  })

  it('eth/70: the first list starts at firstBlockReceiptIndex; a last list over the hard limit is cut', async () => {
    const { chain, manager, hashes } = fakeChain(Array.from({ length: 3 }, () => ({ txs: 4, stored: true })))
    const from = await serveReceipts(chain, manager, hashes, 70, 3)
    assert.deepEqual(
      from.receipts.map((l) => l.length),
      [1, 4, 4],
    )
    assert.equal(from.receipts[0][0].cumulativeBlockGasUsed, 84_000n, "the first block's fourth receipt")
    assert.deepEqual(
      (await serveReceipts(chain, manager, hashes, 69, 3)).receipts.map((l) => l.length),
      [4, 4, 4],
      'eth/69 has no index',
    )
    const size = RLP.encode(receiptToWire(from.receipts[0][0], 70) as never).length
    const cut = await serveReceipts(chain, manager, hashes, 70, 0, { hard: size * 6 })
    assert.deepEqual(
      cut.receipts.map((l) => l.length),
      [4, 2],
    )
    assert.equal(cut.lastBlockIncomplete, true)
    // The limit falls before the block's first receipt: the reply ends before that block, complete
    const atBoundary = await serveReceipts(chain, manager, hashes, 70, 0, { hard: size * 4 })
    assert.deepEqual(
      atBoundary.receipts.map((l) => l.length),
      [4],
    )
    assert.equal(atBoundary.lastBlockIncomplete, false)
    // eth/69 never cuts a list
    assert.deepEqual(
      (await serveReceipts(chain, manager, hashes, 69, 0, { hard: size * 6 })).receipts.map((l) => l.length),
      [4, 4, 4],
    )
  })
})
