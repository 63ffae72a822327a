/**
 * The serve benchmark's server process: our snap server (`SnapServerHandler` over the state
 * LevelDB, the client's `SnapProtocol` codec for the wire format) behind a devp2p RLPx listener
 * on loopback. A separate process so that server and requester do not share an event loop.
 * Usage: tsx serve-node.ts <stateDir> <rootHex> <port>; prints its enode, then serves until killed.
 */
import { randomBytes } from 'node:crypto'

import { SnapProtocol } from '@ethereumjs/client/dist/esm/src/net/protocol/snapprotocol.js'
import { Common, Mainnet } from '@ethereumjs/common'
import { ETH, RLPx, SNAP } from '@ethereumjs/devp2p'
import { bytesToUnprefixedHex, equalsBytes, hexToBytes, intToBytes } from '@ethereumjs/util'
import { Level } from 'level'

import { FlatState } from '../../src/server/flat/flatstate.js'
import { FlatStateFollower } from '../../src/server/flat/follower.js'
import { generateFlatState, trieReaders } from '../../src/server/flat/generator.js'
import { SnapServerHandler } from '../../src/server/handler.js'
import { LevelStateReader } from '../../src/trie/reader.js'
import { DBStateView } from '../../src/server/stateview.js'

import type { Peer } from '@ethereumjs/devp2p'

/** Genesis hash both sides of the benchmark put in their eth status (any value, the same on both) */
export const BENCH_GENESIS_HASH = `0x${'11'.repeat(32)}`

async function main(): Promise<void> {
  const [dir, rootHex, port] = process.argv.slice(2)
  const root = hexToBytes(rootHex as `0x${string}`)
  const level = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await level.open()
  const store = new LevelStateReader(level as never)
  const served = { has: (r: Uint8Array) => equalsBytes(r, root) }
  let follower: FlatStateFollower | undefined
  // SNAP_BENCH_FLAT=0: serve every range from the trie; otherwise from the flat state, generated
  // here first if the state dir does not hold it yet (a serving node keeps it current)
  if (process.env.SNAP_BENCH_FLAT !== '0') {
    const readers = trieReaders(store, 4096)
    const flat = await FlatState.open(level as never)
    if (!flat.holds(root)) {
      const started = performance.now()
      const stats = await generateFlatState(flat, readers, root)
      const seconds = (performance.now() - started) / 1000
      process.stderr.write(
        `bench server: flat state generated (${stats.accounts} accounts, ${stats.slots} slots) ` +
          `in ${seconds.toFixed(1)} s\n`,
      )
      // For the suite, which keeps it beside the cached state: later runs reuse the flat state
      process.stdout.write(`flat-generated ${seconds}\n`)
    }
    follower = new FlatStateFollower(flat, { readers, isServedRoot: (r) => served.has(r) })
  }
  const view = new DBStateView(store, served, async () => follower)
  const handler = new SnapServerHandler({ view })
  const codec = new SnapProtocol({ config: {} as never, chain: {} as never })
  const byCode = new Map(codec.messages.map((m) => [m.code, m]))
  const byName = new Map(codec.messages.map((m) => [m.name, m]))
  const rlpx = new RLPx(randomBytes(32), {
    dpt: null,
    maxPeers: 8,
    capabilities: [ETH.eth68, SNAP.snap],
    common: new Common({ chain: Mainnet }),
    listenPort: Number(port),
  })
  rlpx.events.on('error', () => {})
  rlpx.events.on('peer:added', (peer: Peer) => {
    const eth = peer.getProtocols().find((p) => p instanceof ETH) as ETH
    const snap = peer.getProtocols().find((p) => p instanceof SNAP) as SNAP
    const genesisHash = hexToBytes(BENCH_GENESIS_HASH as `0x${string}`)
    eth.sendStatus({ td: intToBytes(1), bestHash: genesisHash, genesisHash })
    const served = {
      id: bytesToUnprefixedHex(peer.getId() ?? new Uint8Array()),
      snap: {
        send: (name: string, args: unknown) =>
          snap.sendMessage(byName.get(name)!.code as never, codec.encode(byName.get(name)!, args) as never),
      },
    }
    snap.events.on('message', (code: number, payload: unknown) => {
      const message = byCode.get(code)
      if (message?.response === undefined) return
      void handler.handle({ name: message.name, data: codec.decode(message, payload) }, served)
    })
  })
  rlpx.listen(Number(port), '127.0.0.1')
  process.stdout.write(`enode://${bytesToUnprefixedHex(rlpx.id!)}@127.0.0.1:${port}\n`)
  process.on('SIGTERM', () => {
    rlpx.destroy()
    void level.close().then(() => process.exit(0))
  })
}

if (process.argv[1]?.endsWith('serve-node.ts')) {
  main().catch((err: Error) => {
    console.error(err.message)
    process.exit(1)
  })
}
