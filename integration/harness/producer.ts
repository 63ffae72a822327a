/**
 * The test as a block-producing consensus layer: for each slot it asks a node to build a payload
 * (`forkchoiceUpdatedV3` with payload attributes), takes it with the `getPayload` version of the
 * payload's fork (V4 for Prague, V5 from Osaka on), imports it (`newPayloadV4`) and makes it the head.
 * The built blocks can be replayed to another node, as a beacon node gossips them.
 */
import { computeVersionedHash, intToHex } from '@ethereumjs/util'

import type { ClientNode } from './node.js'

export interface BlobsBundle {
  commitments: string[]
  proofs: string[]
  blobs: string[]
}

export interface BuiltPayload {
  executionPayload: { blockHash: string; blockNumber: string; timestamp: string; transactions: string[] }
  blockValue: string
  blobsBundle: BlobsBundle
  executionRequests: string[]
  shouldOverrideBuilder: boolean
}

export interface BuiltBlock {
  number: number
  hash: string
  timestamp: number
  /** The getPayload method that returned it */
  method: string
  payload: BuiltPayload
  /** newPayloadV4's parameters: payload, versioned hashes, parent beacon root, requests */
  newPayloadParams: unknown[]
}

interface PayloadStatus {
  status: string
  validationError: string | null
}

/** A beacon root for a slot: any 32 bytes do, the EL only stores it (EIP-4788) */
const beaconRoot = (timestamp: number) => `0x${timestamp.toString(16).padStart(64, '0')}`

export class BlockProducer {
  readonly blocks: BuiltBlock[] = []

  constructor(
    private readonly node: ClientNode,
    private head: string,
    /** The getPayload version for a payload's timestamp */
    private readonly getPayloadVersion: (timestamp: number) => number,
  ) {}

  /** The forkchoice that names `hash` head, safe and finalized */
  static forkchoice(hash: string) {
    return { headBlockHash: hash, safeBlockHash: hash, finalizedBlockHash: hash }
  }

  /** Starts building on the head for `timestamp`; the payload id */
  async start(timestamp: number): Promise<string> {
    const attributes = {
      timestamp: intToHex(timestamp),
      prevRandao: beaconRoot(timestamp + 1),
      suggestedFeeRecipient: `0x${'fe'.repeat(20)}`,
      withdrawals: [],
      parentBeaconBlockRoot: beaconRoot(timestamp),
    }
    const answer = await this.node.engine.call<{ payloadStatus: PayloadStatus; payloadId: string | null }>(
      'engine_forkchoiceUpdatedV3',
      [BlockProducer.forkchoice(this.head), attributes],
    )
    if (answer.payloadStatus.status !== 'VALID' || answer.payloadId === null)
      throw new Error(`forkchoiceUpdatedV3 with attributes: ${JSON.stringify(answer)}`)
    return answer.payloadId
  }

  /** Builds, imports and names head the block of `timestamp` */
  async produce(timestamp: number): Promise<BuiltBlock> {
    const payloadId = await this.start(timestamp)
    const version = this.getPayloadVersion(timestamp)
    const method = `engine_getPayloadV${version}`
    const payload = await this.node.engine.call<BuiltPayload>(method, [payloadId])
    return this.import(payload, method, timestamp)
  }

  /** Imports a payload on the producing node and names it head */
  async import(payload: BuiltPayload, method: string, timestamp: number): Promise<BuiltBlock> {
    const versionedHashes = payload.blobsBundle.commitments.map((c) => computeVersionedHash(c as `0x${string}`, 1))
    const newPayloadParams = [
      payload.executionPayload,
      versionedHashes,
      beaconRoot(timestamp),
      payload.executionRequests,
    ]
    const block: BuiltBlock = {
      number: Number(BigInt(payload.executionPayload.blockNumber)),
      hash: payload.executionPayload.blockHash,
      timestamp,
      method,
      payload,
      newPayloadParams,
    }
    const status = await BlockProducer.send(this.node, block)
    if (status.join() !== 'VALID,VALID') throw new Error(`block ${block.number} on its producer: ${status.join()}`)
    this.head = block.hash
    this.blocks.push(block)
    return block
  }

  /** newPayloadV4 then forkchoiceUpdatedV3 of `block` to `node`: the two statuses */
  static async send(node: ClientNode, block: BuiltBlock): Promise<string[]> {
    const imported = await node.engine.call<PayloadStatus>('engine_newPayloadV4', block.newPayloadParams)
    const chosen = await node.engine.call<{ payloadStatus: PayloadStatus }>('engine_forkchoiceUpdatedV3', [
      BlockProducer.forkchoice(block.hash),
      null,
    ])
    const why = (s: PayloadStatus) => (s.validationError === null ? s.status : `${s.status} (${s.validationError})`)
    return [why(imported), why(chosen.payloadStatus)]
  }
}
