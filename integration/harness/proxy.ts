/**
 * A TCP proxy on loopback between a node and its peer, with a bandwidth cap that a test can change
 * at any time. The RLPx session runs end to end through it (the proxy only moves bytes), so a node
 * given `enode://<peer id>@127.0.0.1:<proxy port>` talks to the peer as usual, only slower: a snap
 * sync that takes a second at full speed then lasts long enough to be caught, and killed, midway.
 *
 * A latency, when set, holds every chunk that long after it arrived before it moves on (both
 * directions, so a round trip gains twice it), as a far peer's link would. Reads wait while a chunk
 * is held, so a latency also bounds the throughput to about a socket read (≤ 64 KiB) per latency.
 *
 * The client reaches a bootnode through discovery first, even with `--discV4=false`: it pings the
 * enode's port over UDP and dials TCP only once the ping is answered. So the proxy relays UDP on its
 * port number too (uncapped: a few small packets).
 */
import { createSocket } from 'node:dgram'
import { createConnection, createServer } from 'node:net'

import { freePort } from './ports.js'

import type { Socket as UdpSocket } from 'node:dgram'
import type { Server, Socket } from 'node:net'

/** Bytes a paced write carries at most: small enough that a cap is kept smoothly */
const SLICE = 4096
/** How often a held connection looks whether it may go on */
const HOLD_POLL_MS = 50

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class ThrottledProxy {
  /** Bytes per second in each direction; Infinity for no cap */
  private rate: number
  /** ms each chunk is held after it arrived, each direction */
  private latencyMs = 0
  private readonly sockets = new Set<Socket>()
  private bytes = 0

  private constructor(
    private readonly server: Server,
    private readonly udp: UdpSocket,
    private readonly udpUpstream: UdpSocket,
    readonly port: number,
    private readonly target: { host: string; port: number },
    rate: number,
  ) {
    this.rate = rate
    server.on('connection', (client) => this.pipe(client))
    // One node talks through the proxy: the peer's answers go to whoever sent last
    let sender: { address: string; port: number } | undefined
    udp.on('message', (msg, from) => {
      sender = from
      udpUpstream.send(msg, target.port, target.host)
    })
    udpUpstream.on('message', (msg) => {
      if (sender !== undefined) udp.send(msg, sender.port, sender.address)
    })
  }

  /** Listens on a free loopback port (TCP and UDP) and forwards to the peer's `targetPort` */
  static async start(targetPort: number, bytesPerSecond = Infinity): Promise<ThrottledProxy> {
    const port = await freePort()
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    const bind = async (socket: UdpSocket, at: number) => {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.bind(at, '127.0.0.1', () => resolve())
      })
      return socket
    }
    const udp = await bind(createSocket('udp4'), port)
    const upstream = await bind(createSocket('udp4'), 0)
    return new ThrottledProxy(server, udp, upstream, port, { host: '127.0.0.1', port: targetPort }, bytesPerSecond)
  }

  /** The peer's enode URL with the proxy's port in place of the peer's */
  enodeVia(enode: string): string {
    return enode.replace(/@[^@]+$/, `@127.0.0.1:${this.port}`)
  }

  /** Changes the cap for all connections, open and future; Infinity lifts it, 0 holds every byte */
  setRate(bytesPerSecond: number): void {
    this.rate = bytesPerSecond
  }

  /** Adds `ms` of latency each way to all connections, open and future; 0 removes it */
  setLatency(ms: number): void {
    this.latencyMs = ms
  }

  /** Bytes forwarded so far, both directions */
  get forwarded(): number {
    return this.bytes
  }

  /** Closes the listener and every connection */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    this.udp.close()
    this.udpUpstream.close()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private pipe(client: Socket): void {
    const upstream = createConnection(this.target)
    for (const socket of [client, upstream]) {
      this.sockets.add(socket)
      socket.on('close', () => {
        this.sockets.delete(socket)
        client.destroy()
        upstream.destroy()
      })
      socket.on('error', () => socket.destroy())
    }
    this.forward(client, upstream)
    this.forward(upstream, client)
  }

  /** Moves bytes from one socket to the other, in slices spaced to keep to the cap */
  private forward(from: Socket, to: Socket): void {
    const queue: { chunk: Buffer; at: number }[] = []
    let busy = false
    const drain = async () => {
      busy = true
      while (queue.length > 0 && !to.destroyed) {
        const { chunk, at } = queue.shift()!
        const hold = at + this.latencyMs - Date.now()
        if (hold > 0) await sleep(hold)
        for (let off = 0; off < chunk.length && !to.destroyed; off += SLICE) {
          while (this.rate === 0 && !to.destroyed) await sleep(HOLD_POLL_MS)
          const slice = chunk.subarray(off, off + SLICE)
          this.bytes += slice.length
          if (!to.write(slice)) await new Promise((resolve) => to.once('drain', resolve))
          if (Number.isFinite(this.rate)) await sleep((slice.length / this.rate) * 1000)
        }
      }
      busy = false
      from.resume()
    }
    from.on('data', (chunk: Buffer) => {
      queue.push({ chunk, at: Date.now() })
      // Backpressure: read no more while slices wait
      from.pause()
      if (!busy) void drain()
    })
  }
}
