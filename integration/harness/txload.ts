/**
 * A transaction load for a mining devnet node: value transfers to new accounts, contract deployments
 * and storage writes into the deployed contracts, sent as signed raw transactions over JSON-RPC by
 * the devnet's signer (the one funded key). Each round sends a few of each; what was sent is kept,
 * so that a test can sample old and new accounts, contracts and slots afterwards.
 */
import { createCommonFromGethGenesis } from '@ethereumjs/common'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import {
  bytesToHex,
  bytesToUnprefixedHex,
  createAddressFromString,
  generateAddress,
  hexToBytes,
  intToBytes,
} from '@ethereumjs/util'

import { derive } from './genesis.js'

import type { Devnet } from './genesis.js'
import type { ClientNode } from './node.js'
import type { Common, GethGenesis } from '@ethereumjs/common'

/**
 * Runtime code of a storage writer: SSTORE(calldata[0:32], calldata[32:64]), then STOP; a 32-byte
 * tag after the STOP makes each deployment's code distinct (its own code hash to download).
 * 6020 35 6000 35 55 00: PUSH1 32, CALLDATALOAD (value), PUSH1 0, CALLDATALOAD (slot), SSTORE, STOP
 */
function writerRuntime(tag: Uint8Array): string {
  return `6020356000355500${bytesToUnprefixedHex(tag)}`
}

/** Init code returning `runtime`: CODECOPY(0, 12, len), RETURN(0, len) */
function initCode(runtime: string): Uint8Array {
  const len = (runtime.length / 2).toString(16).padStart(2, '0')
  return hexToBytes(`0x60${len}600c60003960${len}6000f3${runtime}`)
}

/** What one round sends */
export interface TxLoadRound {
  transfers: number
  deployments: number
  writes: number
}

const DEFAULT_ROUND: TxLoadRound = { transfers: 10, deployments: 2, writes: 10 }
const GWEI = 10n ** 9n

/** See the module comment */
export class TxLoad {
  /** Accounts created by transfers, in order */
  readonly newAccounts: string[] = []
  /** Contracts deployed (their deploy transactions were sent; a contract exists once sealed) */
  readonly contracts: string[] = []
  /** Storage written: contract, slot and value (32-byte hex words) */
  readonly writes: { contract: string; slot: string; value: string }[] = []
  /** Hashes of every transaction sent, in nonce order */
  readonly sent: string[] = []
  private nonce: bigint | undefined
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private rounds = 0
  private readonly key: Uint8Array
  private readonly sender: string
  private readonly common: Common

  constructor(
    private readonly node: ClientNode,
    private readonly devnet: Devnet,
    private readonly round: TxLoadRound = DEFAULT_ROUND,
  ) {
    this.key = hexToBytes(`0x${devnet.signerKey}`)
    this.sender = devnet.signerAddress
    this.common = createCommonFromGethGenesis(devnet.genesis as unknown as GethGenesis, { chain: 'devnet' })
  }

  /** Waits until every transaction sent is sealed; throws if one failed. Returns the highest block */
  async waitSealed(timeoutMs = 60_000): Promise<bigint> {
    let highest = 0n
    for (const hash of this.sent) {
      let receipt: { status: string; blockNumber: string } | null = null
      await this.node.waitFor(
        async () =>
          (receipt = await this.node.rpc<typeof receipt>('eth_getTransactionReceipt', [hash]).catch(() => null)) !==
          null,
        {
          what: `transaction ${hash} sealed`,
          timeoutMs,
        },
      )
      const { status, blockNumber } = receipt!
      if (status !== '0x1') throw new Error(`transaction ${hash} failed in block ${BigInt(blockNumber)}`)
      if (BigInt(blockNumber) > highest) highest = BigInt(blockNumber)
    }
    return highest
  }

  /** Sends a round every `intervalMs` until {@link stop} */
  start(intervalMs = 1_000): void {
    this.timer ??= setInterval(() => {
      this.running ??= this.sendRound()
        .catch(() => {})
        .finally(() => (this.running = undefined))
    }, intervalMs)
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }

  /** Sends one round: transfers, deployments, then writes into contracts already sent */
  async sendRound(): Promise<void> {
    this.nonce ??= BigInt(await this.node.rpc<string>('eth_getTransactionCount', [this.sender, 'pending']))
    const r = this.rounds++
    for (let i = 0; i < this.round.transfers; i++) {
      const to = bytesToHex(derive(this.devnet.seed, `load${r}`, i).subarray(12))
      await this.send({ to, value: BigInt(r * 1000 + i + 1) * 10n ** 12n, gasLimit: 21_000n })
      this.newAccounts.push(to)
    }
    for (let i = 0; i < this.round.deployments; i++) {
      const address = bytesToHex(
        generateAddress(hexToBytes(this.sender as `0x${string}`), intToBytes(Number(this.nonce))),
      )
      await this.send({ data: initCode(writerRuntime(derive(this.devnet.seed, `code${r}`, i))), gasLimit: 200_000n })
      this.contracts.push(address)
    }
    for (let i = 0; i < this.round.writes && this.contracts.length > 0; i++) {
      const contract = this.contracts[(r * this.round.writes + i) % this.contracts.length]
      const slot = bytesToHex(derive(this.devnet.seed, `slot${r}`, i))
      const value = bytesToHex(derive(this.devnet.seed, `value${r}`, i))
      await this.send({ to: contract, data: hexToBytes(`0x${slot.slice(2)}${value.slice(2)}`), gasLimit: 60_000n })
      this.writes.push({ contract, slot, value })
    }
  }

  private async send(tx: { to?: string; value?: bigint; data?: Uint8Array; gasLimit: bigint }): Promise<void> {
    const signed = createFeeMarket1559Tx(
      {
        nonce: this.nonce,
        maxFeePerGas: 10n * GWEI,
        // A tip, so that the signer is paid: the block builder must run each transaction in a sealed block
        maxPriorityFeePerGas: GWEI,
        gasLimit: tx.gasLimit,
        to: tx.to === undefined ? undefined : createAddressFromString(tx.to),
        value: tx.value ?? 0n,
        data: tx.data,
      },
      { common: this.common },
    ).sign(this.key)
    const hash = await this.node.rpc<string>('eth_sendRawTransaction', [bytesToHex(signed.serialize())])
    this.sent.push(hash)
    this.nonce = (this.nonce ?? 0n) + 1n
  }
}
