/**
 * A real EthereumJS client process (our `ethereumjs-snap` entry point) started by a test on
 * loopback, with its own free ports and a temporary data dir. Every started node is tracked and
 * killed when the test run ends, also when a test fails or times out.
 */
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  appendFileSync,
  closeSync,
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import { EngineClient } from './engine.js'
import { freePort } from './ports.js'
import { rpcCall } from './rpc.js'

import type { ChildProcess } from 'node:child_process'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const CLI = join(ROOT, 'dist', 'cli.js')
/** The test-only entry of a node whose snap server lies (run from source with tsx; not in dist/) */
export const LYING_NODE = join(ROOT, 'integration', 'harness', 'lyingnode.ts')
/** tsx's loader, for `node --import` (its package export `.` is the loader, whatever the condition) */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

export interface NodeOptions {
  /** Shown in errors and log file names */
  name: string
  genesisFile: string
  /** Seal blocks as the clique signer whose key is in this file */
  signerKeyFile?: string
  /** enode URLs to connect to */
  bootnodes?: string[]
  sync?: 'full' | 'snap' | 'none'
  /** Storage backend of the chain, state and meta DBs (`--db`); the client's default (level) when unset */
  db?: 'level' | 'rocksdb'
  /** Reuse a data dir (restart); by default a new temporary one */
  dataDir?: string
  /**
   * Start a new data dir as a copy of this one: the chain and state DBs of a node that loaded the devnet's
   * blocks (`Source.seedDir`), so that the node neither builds the genesis state nor executes those blocks
   */
  seedDir?: string
  /** Further client flags */
  args?: string[]
  /**
   * How long start() waits for JSON-RPC. The client answers only once its genesis state is built:
   * ~70 s for 20k accounts and 100k slots on 2 idle cores (more while another node works)
   */
  startTimeoutMs?: number
  /** Serve Prometheus metrics (`--prometheus`) on a free port */
  prometheus?: boolean
  /** Ports to listen on (a restart keeps them); by default free ones */
  ports?: NodePorts
  /** Serve the engine API (`--rpcEngine`) on a free port, with a JWT secret in the data dir */
  engine?: boolean
  /**
   * Test-only: the lie this node's snap server tells every request (one of `LIES` in
   * test/helpers/lies.ts); the node runs `lyingnode.ts --lie=KIND` instead of the CLI
   */
  lie?: string
}

/** The ports a node listens on */
export interface NodePorts {
  p2p: number
  rpc: number
  prometheus?: number
  engine?: number
}

/** The engine API's JWT secret, in the node's data dir */
const JWT_FILE = 'jwtsecret.hex'

/** Default start() timeout: a node with a large genesis alloc takes over a minute (see `startTimeoutMs`) */
const START_TIMEOUT_MS = 300_000

const running = new Set<ClientNode>()
const tempDirs = new Set<string>()

/** A new temporary dir; `removeTempDirs()` removes it if nothing else did */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

/** Removes every temporary dir made by the harness that is still there (run after stopAllNodes) */
export function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

/** Stops every node still running (SIGINT, then SIGKILL); for after-hooks */
export async function stopAllNodes(): Promise<void> {
  await Promise.all([...running].map((node) => node.stop()))
}

/** The last lines of every running node's output, for the report of a failed test */
export function runningNodeTails(lines = 60): string {
  return [...running]
    .map((node) => `--- ${node.options.name} (${node.logFile}), last ${lines} lines:\n${node.logTail(lines)}`)
    .join('\n')
}

process.on('exit', () => {
  for (const node of running) void node.kill()
})

export class ClientNode {
  readonly rpcUrl: string
  private exited: Promise<number | null>
  private exitCode: number | null | undefined

  private constructor(
    readonly options: NodeOptions,
    readonly dataDir: string,
    readonly ports: NodePorts,
    readonly logFile: string,
    /** Offset in the log file where this process's output begins (a restart appends to the same file) */
    readonly logStart: number,
    private readonly child: ChildProcess,
  ) {
    this.rpcUrl = `http://127.0.0.1:${ports.rpc}`
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
    const dataDir = options.dataDir ?? makeTempDir(`ejs-snap-${options.name}-`)
    if (options.seedDir !== undefined && options.dataDir === undefined)
      cpSync(options.seedDir, dataDir, { recursive: true })
    const ports = options.ports ?? {
      p2p: await freePort(),
      rpc: await freePort(),
      prometheus: options.prometheus === true ? await freePort() : undefined,
      engine: options.engine === true ? await freePort() : undefined,
    }
    const { p2p: port, rpc: rpcPort } = ports
    const args = [
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
      `--logLevel=${process.env.SNAP_TEST_LOG_LEVEL ?? 'info'}`,
    ]
    if (options.db !== undefined) args.push(`--db=${options.db}`)
    if (options.signerKeyFile !== undefined) {
      args.push(`--unlock=${options.signerKeyFile}`, '--mine', '--isSingleNode')
    }
    if (ports.prometheus !== undefined) args.push('--prometheus', `--prometheusPort=${ports.prometheus}`)
    if (ports.engine !== undefined) {
      // A restart on the same data dir keeps the secret
      const jwt = existsSync(join(dataDir, JWT_FILE))
        ? readFileSync(join(dataDir, JWT_FILE), 'utf8')
        : randomBytes(32).toString('hex')
      writeFileSync(join(dataDir, JWT_FILE), jwt)
      args.push(
        '--rpcEngine',
        `--rpcEnginePort=${ports.engine}`,
        '--rpcEngineAddr=127.0.0.1',
        `--jwtSecret=${join(dataDir, JWT_FILE)}`,
      )
    }
    if (options.bootnodes !== undefined && options.bootnodes.length > 0) {
      args.push(`--bootnodes=${options.bootnodes.join(',')}`)
    }
    args.push(...(options.args ?? []))
    // A lying node runs the test-only entry from source: what it adds to the CLI is not in dist/
    const lying = options.lie === undefined ? [] : [LYING_NODE, `--lie=${options.lie}`]
    const entry = options.lie === undefined ? [CLI] : ['--import', TSX_LOADER, ...lying]
    const logFile = join(dataDir, `${options.name}.log`)
    appendFileSync(
      logFile,
      `--- harness: ${options.name} started ${new Date().toISOString()}: ${[...lying, ...args].join(' ')}\n`,
    )
    const fd = openSync(logFile, 'a')
    const logStart = statSync(logFile).size
    const child = spawn(process.execPath, [...entry, ...args], { stdio: ['ignore', fd, fd] })
    closeSync(fd)
    const node = new ClientNode(options, dataDir, ports, logFile, logStart, child)
    running.add(node)
    try {
      await node.waitFor(async () => (await node.blockNumber().catch(() => undefined)) !== undefined, {
        what: 'JSON-RPC to answer',
        timeoutMs: options.startTimeoutMs ?? START_TIMEOUT_MS,
      })
    } catch (err) {
      await node.stop()
      throw err
    }
    return node
  }

  /** The client process's id (the benchmarks read its memory from /proc) */
  get pid(): number | undefined {
    return this.child.pid
  }

  /** Starts the node again on its data dir, ports and flags (after stop() or kill()), with `changes` */
  async restart(changes: Partial<NodeOptions> = {}): Promise<ClientNode> {
    if (this.exitCode === undefined) throw new Error(`${this.options.name} is still running`)
    return ClientNode.start({ ...this.options, dataDir: this.dataDir, ports: this.ports, ...changes })
  }

  get port(): number {
    return this.ports.p2p
  }

  get exitedWith(): number | null | undefined {
    return this.exitCode
  }

  async rpc<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    return rpcCall<T>(this.rpcUrl, method, params)
  }

  /** The engine API, as the node's consensus layer (the node must run with `engine: true`) */
  get engine(): EngineClient {
    if (this.ports.engine === undefined) throw new Error(`${this.options.name} runs without the engine API`)
    return new EngineClient(
      `http://127.0.0.1:${this.ports.engine}`,
      Buffer.from(readFileSync(join(this.dataDir, JWT_FILE), 'utf8'), 'hex'),
    )
  }

  async blockNumber(): Promise<bigint> {
    return BigInt(await this.rpc<string>('eth_blockNumber'))
  }

  /** The node's enode URL; a restart on the same data dir keeps it (the client keeps its key there) */
  async enode(): Promise<string> {
    const info = await this.rpc<{ enode: string; id: string }>('admin_nodeInfo')
    return `enode://${info.id}@127.0.0.1:${this.port}`
  }

  /**
   * Polls until check() is true; fails on timeout or when the process exits, with `context()` (by
   * default the log tail) in the message
   */
  async waitFor(
    check: () => Promise<boolean>,
    opts: { what: string; timeoutMs?: number; intervalMs?: number; context?: () => string },
  ): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
    const context = opts.context ?? (() => this.logTail())
    for (;;) {
      if (this.exitCode !== undefined) {
        throw new Error(
          `${this.options.name} exited (code ${this.exitCode}) while waiting for ${opts.what}\n${context()}`,
        )
      }
      if (await check()) return
      if (Date.now() > deadline) {
        throw new Error(`${this.options.name}: timed out waiting for ${opts.what}\n${context()}`)
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

  /**
   * The last block the node executed, from its log (`Executed blocks count=N first=F ... last=L`);
   * undefined before it executed any. `eth_blockNumber` is the head of the stored chain, which
   * execution may be behind, and a state answer at a block proves nothing when blocks without
   * transactions share their parent's state root.
   */
  executedHead(): bigint | undefined {
    const lasts = this.logLines(/Executed blocks/).map((l) => /last=(\d+)/.exec(l)?.[1])
    return lasts.reduce<bigint | undefined>(
      (max, n) => (n === undefined || (max !== undefined && max >= BigInt(n)) ? max : BigInt(n)),
      undefined,
    )
  }

  /** Waits until the node has executed block `height` */
  async waitForExecuted(height: bigint, timeoutMs = 120_000): Promise<void> {
    await this.waitFor(async () => (this.executedHead() ?? -1n) >= height, {
      what: `block ${height} executed`,
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

  /** The node's output since this process started */
  log(): string {
    try {
      return readFileSync(this.logFile).subarray(this.logStart).toString('utf8')
    } catch {
      return ''
    }
  }

  /** The lines of this process's output that match `pattern` */
  logLines(pattern: RegExp): string[] {
    return this.log()
      .split('\n')
      .filter((line) => pattern.test(line))
  }

  /** The last lines of the node's output */
  logTail(lines = 40): string {
    return this.log().split('\n').slice(-lines).join('\n') || '(no log)'
  }

  /** Waits for a line of output matching `pattern`; returns the first one */
  async waitForLog(pattern: RegExp, timeoutMs = 120_000): Promise<string> {
    let found: string | undefined
    await this.waitFor(async () => (found = this.logLines(pattern)[0]) !== undefined, {
      what: `a log line ${pattern}`,
      timeoutMs,
    })
    return found!
  }

  /** The node's Prometheus metrics (it must run with `prometheus: true`), by name with labels */
  async metrics(): Promise<Map<string, number>> {
    if (this.ports.prometheus === undefined) throw new Error(`${this.options.name} runs without --prometheus`)
    const text = await (
      await fetch(`http://127.0.0.1:${this.ports.prometheus}/metrics`, { signal: AbortSignal.timeout(10_000) })
    ).text()
    const metrics = new Map<string, number>()
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)/.exec(line)
      if (m === null) continue
      // The client's registry labels every metric with app="ethereumjs-client": drop that default
      // label so that a metric without labels of its own reads under its bare name
      metrics.set(m[1].replace(/\{app="[^"]*"\}$/, '').replace(/app="[^"]*",?/, ''), Number(m[2]))
    }
    return metrics
  }

  /** SIGINT, then SIGKILL after a grace period; resolves when the process is gone */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.exitCode !== undefined) return
    this.child.kill('SIGINT')
    const timer = setTimeout(() => void this.kill(), graceMs)
    await this.exited
    clearTimeout(timer)
  }

  /** Immediate SIGKILL (a crash: nothing is flushed or closed); resolves when the process is gone */
  async kill(): Promise<void> {
    if (this.exitCode !== undefined) return
    this.child.kill('SIGKILL')
    await this.exited
  }

  /**
   * Ends the node and removes its data dir. SIGKILL: nothing of it is kept, so a clean shutdown (about
   * 8 s of the client's) would only cost time
   */
  async destroy(): Promise<void> {
    await this.kill()
    rmSync(this.dataDir, { recursive: true, force: true })
  }
}

/**
 * Starts a node that must refuse to start: it exits with code 1 before answering JSON-RPC, saying
 * `message`, without a stack trace
 */
export async function assertStartRefused(options: NodeOptions, message: RegExp): Promise<void> {
  const err = await ClientNode.start(options).then(
    async (node) => {
      await node.stop()
      return undefined
    },
    (e: Error) => e,
  )
  assert.ok(err !== undefined, `${options.name} started`)
  assert.match(err.message, /exited \(code 1\) while waiting for JSON-RPC/, err.message)
  assert.match(err.message, message, err.message)
  assert.doesNotMatch(err.message, /^\s+at /m, 'no stack trace')
}
