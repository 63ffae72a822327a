/**
 * A real EthereumJS client process (our `ethereumjs-snap` entry point) started by a test on
 * loopback, with its own free ports and a temporary data dir. Every started node is tracked and
 * killed when the test run ends, also when a test fails or times out.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, closeSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { freePort } from './ports.js'
import { rpcCall } from './rpc.js'

import type { ChildProcess } from 'node:child_process'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const CLI = join(ROOT, 'dist', 'cli.js')

export interface NodeOptions {
  /** Shown in errors and log file names */
  name: string
  genesisFile: string
  /** Seal blocks as the clique signer whose key is in this file */
  signerKeyFile?: string
  /** enode URLs to connect to */
  bootnodes?: string[]
  sync?: 'full' | 'snap' | 'none'
  /** Reuse a data dir (restart); by default a new temporary one */
  dataDir?: string
  /** Further client flags */
  args?: string[]
  /** How long start() waits for JSON-RPC */
  startTimeoutMs?: number
}

const running = new Set<ClientNode>()

/** Stops every node still running (SIGINT, then SIGKILL); for after-hooks */
export async function stopAllNodes(): Promise<void> {
  await Promise.all([...running].map((node) => node.stop()))
}

process.on('exit', () => {
  for (const node of running) node.kill()
})

export class ClientNode {
  readonly rpcUrl: string
  private exited: Promise<number | null>
  private exitCode: number | null | undefined

  private constructor(
    readonly options: NodeOptions,
    readonly dataDir: string,
    readonly port: number,
    readonly rpcPort: number,
    readonly logFile: string,
    private readonly child: ChildProcess,
  ) {
    this.rpcUrl = `http://127.0.0.1:${rpcPort}`
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.exitCode = code
        running.delete(this)
        resolve(code)
      })
    })
  }

  /** Starts a client process and waits until it answers JSON-RPC */
  static async start(options: NodeOptions): Promise<ClientNode> {
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `ejs-snap-${options.name}-`))
    const [port, rpcPort] = [await freePort(), await freePort()]
    const args = [
      CLI,
      `--gethGenesis=${options.genesisFile}`,
      `--dataDir=${dataDir}`,
      `--port=${port}`,
      '--extIP=127.0.0.1',
      '--discV4=false',
      '--discDns=false',
      '--rpc',
      `--rpcPort=${rpcPort}`,
      '--rpcAddr=127.0.0.1',
      `--sync=${options.sync ?? 'full'}`,
      '--logLevel=info',
    ]
    if (options.signerKeyFile !== undefined) {
      args.push(`--unlock=${options.signerKeyFile}`, '--mine', '--isSingleNode')
    }
    if (options.bootnodes !== undefined && options.bootnodes.length > 0) {
      args.push(`--bootnodes=${options.bootnodes.join(',')}`)
    }
    args.push(...(options.args ?? []))
    const logFile = join(dataDir, `${options.name}.log`)
    const fd = openSync(logFile, 'a')
    const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    const node = new ClientNode(options, dataDir, port, rpcPort, logFile, child)
    running.add(node)
    try {
      await node.waitFor(async () => (await node.blockNumber().catch(() => undefined)) !== undefined, {
        what: 'JSON-RPC to answer',
        timeoutMs: options.startTimeoutMs ?? 120_000,
      })
    } catch (err) {
      await node.stop()
      throw err
    }
    return node
  }

  get exitedWith(): number | null | undefined {
    return this.exitCode
  }

  async rpc<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    return rpcCall<T>(this.rpcUrl, method, params)
  }

  async blockNumber(): Promise<bigint> {
    return BigInt(await this.rpc<string>('eth_blockNumber'))
  }

  /** The node's enode URL; it changes on every start (the client does not keep its key) */
  async enode(): Promise<string> {
    const info = await this.rpc<{ enode: string; id: string }>('admin_nodeInfo')
    return `enode://${info.id}@127.0.0.1:${this.port}`
  }

  /** Polls until check() is true; fails with the log tail on timeout or when the process exits */
  async waitFor(check: () => Promise<boolean>, opts: { what: string; timeoutMs?: number; intervalMs?: number }): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
    for (;;) {
      if (this.exitCode !== undefined) {
        throw new Error(`${this.options.name} exited (code ${this.exitCode}) while waiting for ${opts.what}\n${this.logTail()}`)
      }
      if (await check()) return
      if (Date.now() > deadline) {
        throw new Error(`${this.options.name}: timed out waiting for ${opts.what}\n${this.logTail()}`)
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500))
    }
  }

  /** Waits until the node's head is at least `height` */
  async waitForHeight(height: bigint, timeoutMs = 120_000): Promise<void> {
    await this.waitFor(async () => (await this.blockNumber().catch(() => -1n)) >= height, {
      what: `block ${height}`,
      timeoutMs,
    })
  }

  /** Waits for the process to end by itself; returns its exit code */
  async waitForExit(timeoutMs = 60_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.options.name} did not exit\n${this.logTail()}`)), timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** The last lines of the node's output */
  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n')
    } catch {
      return '(no log)'
    }
  }

  /** SIGINT, then SIGKILL after a grace period; resolves when the process is gone */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.exitCode !== undefined) return
    this.child.kill('SIGINT')
    const timer = setTimeout(() => this.kill(), graceMs)
    await this.exited
    clearTimeout(timer)
  }

  /** Immediate SIGKILL */
  kill(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL')
  }

  /** Stops the node and removes its data dir */
  async destroy(): Promise<void> {
    await this.stop()
    rmSync(this.dataDir, { recursive: true, force: true })
  }
}
