/**
 * eth/69 and eth/70 in `@ethereumjs/devp2p` (patches/@ethereumjs+devp2p+10.0.0.patch): the Status without
 * total difficulty `[version, networkid, genesis, forkid, earliest, latest, latestHash]` and its checks,
 * BlockRangeUpdate (0x11) and its checks (EIP-7642, caps/eth.md, go-ethereum's `handshake.go`), no block
 * propagation, and 18 message codes. Two protocol objects are wired to each other; the dist file is
 * imported by path (under tsx the package name resolves to devp2p's unpatched TypeScript source).
 */
import { strict as assert } from 'node:assert'

import { Common, Hardfork, Mainnet } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, hexToBytes, intToBytes, intToUnpaddedBytes } from '@ethereumjs/util'

import { ETH, EthMessageCodes, checkBlockRange } from '../../node_modules/@ethereumjs/devp2p/dist/esm/protocol/eth.js'

const GENESIS = hexToBytes('0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3')
const HEAD = hexToBytes(`0x${'feedbeef'.padStart(64, '0')}`)

interface Wired {
  eth: ETH
  sent: { code: number; payload: unknown }[]
  statuses: Record<string, unknown>[]
  messages: { code: number; payload: unknown }[]
}

function endpoint(version: number): Wired {
  const common = new Common({ chain: Mainnet, hardfork: Hardfork.Prague })
  const sent: Wired['sent'] = []
  const eth = new ETH(
    version,
    { common, _socket: {}, _hello: null, disconnect: () => {} } as never,
    (code: number, payload: Uint8Array) => sent.push({ code, payload: RLP.decode(payload) }),
  )
  const statuses: Wired['statuses'] = []
  const messages: Wired['messages'] = []
  eth.events.on('status', (s: Record<string, unknown>) => statuses.push(s))
  eth.events.on('message', (code: number, payload: unknown) => messages.push({ code, payload }))
  return { eth, sent, statuses, messages }
}

/** Hands `from`'s first message (its Status) to `to` */
function deliver(from: Wired, to: Wired): void {
  const { code, payload } = from.sent[0]
  ;(to.eth as unknown as { _handleMessage(code: number, data: Uint8Array): void })._handleMessage(
    code,
    RLP.encode(payload as never),
  )
}

const status = (latest: number, extra: object = {}) => ({
  td: intToBytes(1),
  bestHash: HEAD,
  genesisHash: GENESIS,
  latestBlock: intToBytes(latest),
  ...extra,
})

describe('[devp2p eth/69 and eth/70] Status, BlockRangeUpdate, message codes', () => {
  it('eth/69 and eth/70 have 18 message codes (BlockRangeUpdate is 0x11), eth/68 17', () => {
    assert.equal(ETH.eth68.length, 17)
    assert.equal(ETH.eth69.length, 18)
    assert.equal(ETH.eth70.length, 18)
    assert.equal(EthMessageCodes.BLOCK_RANGE_UPDATE, 0x11)
  })

  for (const version of [69, 70]) {
    it(`eth/${version} Status is [version, networkid, genesis, forkid, earliest, latest, latestHash], no td`, () => {
      const a = endpoint(version)
      const b = endpoint(version)
      a.eth.sendStatus(status(3333, { earliestBlock: intToBytes(100) }))
      b.eth.sendStatus(status(5))
      const sent = a.sent[0].payload as Uint8Array[]
      assert.equal(a.sent[0].code, EthMessageCodes.STATUS)
      assert.equal(sent.length, 7)
      assert.deepEqual(sent[0], intToBytes(version))
      assert.deepEqual(sent[1], intToBytes(1))
      assert.deepEqual(sent[2], GENESIS)
      assert.equal((sent[3] as unknown as Uint8Array[]).length, 2, 'forkid [hash, next]')
      assert.deepEqual([sent[4], sent[5], sent[6]], [intToBytes(100), hexToBytes('0x0d05'), HEAD])
      deliver(a, b)
      deliver(b, a)
      assert.equal(b.statuses.length, 1)
      const got = b.statuses[0]
      assert.equal(got.td, undefined)
      assert.deepEqual(got.bestHash, HEAD)
      assert.deepEqual(got.genesisHash, GENESIS)
      assert.deepEqual([got.earliestBlock, got.latestBlock], [intToBytes(100), hexToBytes('0x0d05')])
      assert.equal(a.statuses.length, 1)
    })
  }

  it("Status bytes: go-ethereum's encoding of Status69/70 (fork id, range and hash set as in the vectors)", () => {
    // Computed with a checked RLP encoder from go-ethereum's StatusPacket fields (issue notes): mainnet's
    // genesis, fork id {0xdeadbeef, next}, earliest, latest 3333, latest hash 0x…feedbeef
    const cases = [
      [69, 0n, 0, 'f84f4501a0d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3c684deadbeef8080820d05a0'],
      [
        70,
        1234n,
        100,
        'f8514601a0d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3c884deadbeef8204d264820d05a0',
      ],
    ] as const
    for (const [version, next, earliest, prefix] of cases) {
      const a = endpoint(version)
      Object.assign(a.eth, { _forkHash: '0xdeadbeef', _nextForkBlock: next })
      a.eth.sendStatus(status(3333, { earliestBlock: intToUnpaddedBytes(earliest) }))
      assert.equal(bytesToHex(RLP.encode(a.sent[0].payload as never)), `0x${prefix}${'feedbeef'.padStart(64, '0')}`)
    }
  })

  it('an eth/69 Status with no earliest block says 0', () => {
    const a = endpoint(69)
    a.eth.sendStatus(status(7))
    assert.deepEqual((a.sent[0].payload as Uint8Array[])[4], new Uint8Array())
  })

  it('a bad eth/69 Status is refused: genesis, fork id, field count, range, version', () => {
    const cases: [string, (s: unknown[]) => unknown[], RegExp][] = [
      ['another genesis', (s) => [s[0], s[1], new Uint8Array(32).fill(1), ...s.slice(3)], /Genesis block mismatch/],
      [
        'an unknown fork hash',
        (s) => [...s.slice(0, 3), [hexToBytes('0xdeadbeef'), new Uint8Array()], ...s.slice(4)],
        /fork hash/i,
      ],
      ['six fields', (s) => s.slice(0, 6), /6 fields, expected 7/],
      ['earliest above latest', (s) => [...s.slice(0, 4), intToBytes(9), intToBytes(8), s[6]], /earliest above latest/],
      ['a zero latest hash', (s) => [...s.slice(0, 6), new Uint8Array(32)], /latest hash/],
      ['a short latest hash', (s) => [...s.slice(0, 6), new Uint8Array(31).fill(1)], /latest hash/],
      ['a number over 64 bits', (s) => [...s.slice(0, 5), new Uint8Array(9).fill(1), s[6]], /64 bits/],
      ['another version', (s) => [intToBytes(70), ...s.slice(1)], /Protocol version mismatch/],
    ]
    for (const [what, change, error] of cases) {
      const a = endpoint(69)
      const b = endpoint(69)
      a.eth.sendStatus(status(10))
      b.eth.sendStatus(status(10))
      const bad = change(a.sent[0].payload as unknown[])
      assert.throws(
        () =>
          (b.eth as unknown as { _handleMessage(c: number, d: Uint8Array): void })._handleMessage(
            EthMessageCodes.STATUS,
            RLP.encode(bad as never),
          ),
        error,
        what,
      )
      assert.equal(b.statuses.length, 0, `${what}: no status emitted`)
    }
  })

  it('BlockRangeUpdate: a valid range is passed on; earliest > latest or a zero hash throws (a disconnect)', () => {
    const b = endpoint(69)
    const handle = (payload: unknown) =>
      (b.eth as unknown as { _handleMessage(c: number, d: Uint8Array): void })._handleMessage(
        EthMessageCodes.BLOCK_RANGE_UPDATE,
        RLP.encode(payload as never),
      )
    // go-ethereum's form of BlockRangeUpdate{0, 3333, feedbeef}
    const vector = hexToBytes('0xe580820d05a000000000000000000000000000000000000000000000000000000000feedbeef')
    ;(b.eth as unknown as { _handleMessage(c: number, d: Uint8Array): void })._handleMessage(
      EthMessageCodes.BLOCK_RANGE_UPDATE,
      vector,
    )
    assert.equal(b.messages.length, 1)
    assert.deepEqual(b.messages[0].payload, [new Uint8Array(), hexToBytes('0x0d05'), HEAD])
    assert.throws(() => handle([intToBytes(11), intToBytes(10), HEAD]), /earliest above latest/)
    assert.throws(() => handle([intToBytes(1), intToBytes(10), new Uint8Array(32)]), /latest hash/)
    assert.throws(() => handle([intToBytes(1), intToBytes(10)]), /expected \[earliest, latest, latestHash\]/)
    assert.throws(() => handle([[], intToBytes(10), HEAD]), /byte strings/)
    assert.equal(b.messages.length, 1)

    const old = endpoint(68)
    ;(old.eth as unknown as { _handleMessage(c: number, d: Uint8Array): void })._handleMessage(
      EthMessageCodes.BLOCK_RANGE_UPDATE,
      vector,
    )
    assert.equal(old.messages.length, 0, 'eth/68 has no code 0x11')
  })

  it('checkBlockRange accepts equal earliest and latest', () => {
    checkBlockRange(intToBytes(5), intToBytes(5), HEAD)
    checkBlockRange(new Uint8Array(), new Uint8Array(), HEAD)
  })

  it('no NewBlock or NewBlockHashes on eth/69: refused on send, ignored on receipt; eth/68 keeps them', () => {
    const a = endpoint(69)
    assert.throws(() => a.eth.sendMessage(EthMessageCodes.NEW_BLOCK, [] as never), /not allowed with version 69/)
    assert.throws(() => a.eth.sendMessage(EthMessageCodes.NEW_BLOCK_HASHES, [] as never), /not allowed/)
    a.eth.sendMessage(EthMessageCodes.BLOCK_RANGE_UPDATE, [new Uint8Array(), intToBytes(1), HEAD] as never)
    assert.equal(a.sent.length, 1)
    ;(a.eth as unknown as { _handleMessage(c: number, d: Uint8Array): void })._handleMessage(
      EthMessageCodes.NEW_BLOCK_HASHES,
      RLP.encode([[HEAD, intToBytes(1)]]),
    )
    assert.equal(a.messages.length, 0)

    const old = endpoint(68)
    old.eth.sendMessage(EthMessageCodes.NEW_BLOCK_HASHES, [[HEAD, intToBytes(1)]] as never)
    assert.equal(old.sent.length, 1)
    assert.throws(() => old.eth.sendMessage(EthMessageCodes.BLOCK_RANGE_UPDATE, [] as never), /not allowed/)
    assert.equal(bytesToHex(RLP.encode(old.sent[0].payload as never)).length > 0, true)
  })
})
