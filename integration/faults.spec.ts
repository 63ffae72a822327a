/**
 * Lying peers beside an honest one, real processes: each liar is a client process on the same devnet
 * whose snap server tells one lie to every request (the test-only entry `harness/lyingnode.ts`). B snap-syncs
 * with A (honest) and the liars as peers: it drops each liar it asked, naming the peer and the
 * reason in its log, finishes from A, and ends with A's state.
 *
 * A lying head: a peer in the test process (`harness/lyinghead.ts`) announces a head far above the
 * chain, with made-up headers that are badly sealed or do not link. It never names the pivot: B
 * drops it for its headers when it is a candidate, and waits rather than take a head that fewer
 * than `--snapMinPeers` peers hold.
 */
import { strict as assert } from 'node:assert'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'

import {
  ClientNode,
  ThrottledProxy,
  compareNodes,
  field,
  sampleState,
  snapLines,
  startSource,
  verifyState,
  waitSnapDone,
} from './harness/index.js'
import { LyingHeadPeer } from './harness/lyinghead.js'

import type { SnapLine, Source } from './harness/index.js'
import type { LyingHeadMode, LyingHeadOptions } from './harness/lyinghead.js'

// Many contracts with distinct codes: code requests go to every peer, so code liars are asked too
const DEVNET = {
  accounts: 3_000,
  contracts: 400,
  slotsPerContract: 8,
  largeContracts: [3_000],
  period: 1,
  seed: 'faults',
}
const PLAN = { newAccounts: 200, touchedAccounts: 100 }

/** The served counts of B's per-peer line (`Snap sync: peer <id> served accounts=… slots=… codes=… nodes=…`) */
type Served = 'accounts' | 'slots' | 'codes' | 'nodes'

/**
 * Each lie: the drop reasons it may earn (the first check that catches it names it), and the replies it
 * always shows in, by the served count that would carry them. B meets a lie only if it asks that peer
 * for such a reply: a sync of a few seconds with six peers may get its 401 codes, or its account ranges,
 * from the others (seen for a code liar 2 runs in 3 on a slow day, and for `oversized` and `lyingCont`
 * once each on a loaded machine). A liar not dropped must have served none of them (the unit tests meet
 * every lie with fake peers: test/sync/scheduler/statesync.spec.ts). Storage is not among them: a small
 * storage trie is asked whole and answered without a proof, which several lies leave alone. Not here:
 * `extraProof` (unused proof nodes are tolerated, as geth does), and the valid short replies `capped` and
 * `partialCodes`.
 */
const LIES: { [lie: string]: { reason: RegExp; showsIn: Served[] } } = {
  corrupt: { reason: /invalid_proof|bad_code|bad_node/, showsIn: ['accounts', 'codes', 'nodes'] },
  lyingCont: { reason: /invalid_proof/, showsIn: ['accounts'] },
  dropProofNode: { reason: /invalid_proof/, showsIn: ['accounts'] },
  noProof: { reason: /invalid_proof/, showsIn: ['accounts'] },
  // Keys past the limit and 10x the bytes: in every account range but the space's last one, which has no
  // key past its limit and may be smaller than asked (a fresh-clone CI run: 204 accounts, accepted)
  oversized: { reason: /oversized/, showsIn: [] },
  wrongCode: { reason: /bad_code/, showsIn: ['codes'] },
  unrequested: { reason: /bad_code|bad_node|oversized/, showsIn: ['codes', 'nodes'] },
  // Asked anything, it times out: it can have served nothing
  silent: { reason: /timeout/, showsIn: ['accounts', 'slots', 'codes', 'nodes'] },
  // Ranges and nodes of its genesis state: their proofs and hashes fail against the pivot's root
  otherRoot: { reason: /invalid_proof|bad_node/, showsIn: ['accounts', 'nodes'] },
}

/** Groups of liars that B meets at once (each group costs one sync) */
const GROUPS = [
  ['corrupt', 'lyingCont', 'dropProofNode', 'wrongCode', 'silent'],
  ['noProof', 'oversized', 'unrequested', 'otherRoot'],
]

/** B executed from its downloaded state: it answers as A at the last block it executed, and its state is complete */
async function assertAState(source: Source, b: ClientNode, done: SnapLine): Promise<void> {
  await b.waitForExecuted(BigInt(done.fields.pivot) + 1n, 120_000)
  const at = b.executedHead()!
  const sample = sampleState(source.devnet, source.chain, 50)
  const { compared, differences } = await compareNodes(source.node, b, at, sample)
  assert.deepEqual(differences.slice(0, 10), [], `${differences.length} of ${compared} answers differ`)
  await b.stop()
  const result = await verifyState(b.dataDir)
  assert.ok(result.complete, result.output)
}

/** Why each made-up chain is refused, as B's drop line gives it */
const HEAD_LIES: { [mode in LyingHeadMode]: RegExp } = {
  badSeal: new RegExp(
    /reason=invalid_proof \(headers \d+\.\.\d+ \(0x[0-9a-f]+\): /.source +
      /header \d+ is not sealed by an authorised clique signer\)/.source,
  ),
  unlinked: /reason=invalid_proof \(headers \d+\.\.\d+ \(0x[0-9a-f]+\): header \d+ does not link to its parent\)/,
}

describe('[snap sync] lying peers beside an honest one', () => {
  let source: Source | undefined

  before(async function () {
    this.timeout(600_000)
    source = await startSource({ devnet: DEVNET, plan: PLAN })
    await source.node.waitForHeight(source.chain.head.number + 2n)
  })

  after(async () => {
    await source?.destroy()
  })

  for (const [g, group] of GROUPS.entries()) {
    it(`drops each liar (${group.join(', ')}), names it and why, and ends with A's state`, async function () {
      this.timeout(900_000)
      const a = source!.node
      const liars: { lie: string; node: ClientNode; id: string }[] = []
      let b: ClientNode | undefined
      try {
        // Started together: each opens its DBs and computes the genesis root, which two cores do in half the
        // time of one after another
        const started = group.map(async (lie) => {
          const node = await ClientNode.start({
            name: `L-${lie}`,
            genesisFile: source!.files.genesisFile,
            sync: 'full',
            lie,
            bootnodes: [await a.enode()],
            // A copy of A's data dir once it had loaded the chain, not a full sync from A: five full syncs from
            // A at once on 2 cores left one liar behind now and then. A mines empty blocks on top, which keep
            // the state root of the chain's head, so a liar there serves the root B's pivot has
            seedDir: source!.seedDir,
          })
          liars.push({ lie, node, id: (await node.enode()).slice('enode://'.length, 'enode://'.length + 8) })
        })
        await Promise.all(started)
        await Promise.all(liars.map((l) => l.node.waitForHeight(source!.chain.head.number)))
        for (const l of liars) assert.match(l.node.log(), /snap server: TEST MODE, every reply lies \(--lie=/)
        b = await ClientNode.start({
          name: `B${g}`,
          genesisFile: source!.files.genesisFile,
          sync: 'snap',
          bootnodes: [await a.enode(), ...(await Promise.all(liars.map((l) => l.node.enode())))],
          // The pivot waits for every peer (A and each liar) to name a head, so that each is connected
          // when the download starts and is asked at once: a liar that connected after a short sync had
          // ended was never asked, and could not be dropped (seen once, with the spec files run in parallel)
          args: ['--snapPivotDistance=2', `--snapMinPeers=${group.length + 1}`],
        })
        const done = await waitSnapDone(b, { timeoutMs: 600_000 })
        console.log(`      B${g}: ${done.text}`)
        const drops = snapLines(b).filter((l) => l.kind === 'drop')
        for (const l of drops) console.log(`      ${l.text}`)
        for (const liar of liars) {
          const drop = drops.find((l) => l.text.startsWith(`Snap sync: dropped peer ${liar.id} `))
          const { reason, showsIn } = LIES[liar.lie]
          if (drop === undefined) {
            // Not dropped: B must have asked it for nothing its lie shows in
            const served: SnapLine | undefined = snapLines(b).find((l) =>
              l.text.startsWith(`Snap sync: peer ${liar.id} served `),
            )
            const met: string[] = showsIn.filter((kind) => served === undefined || field(served, kind) !== 0)
            const text: string = served?.text ?? '(no served line)'
            assert.deepEqual(met, [], `${liar.lie} (${liar.id}) was not dropped: ${text}`)
            const what = showsIn.length === 0 ? 'only replies its lie may not show in' : `no ${showsIn.join(', ')}`
            console.log(`      ${liar.lie} (${liar.id}) served ${what}: its lie was not met (${text})`)
            continue
          }
          assert.match(drop.fields.reason, reason, `${liar.lie}: ${drop.text}`)
        }
        // A run in which B met no lie at all would prove nothing
        const met = liars.filter((l) => drops.some((d) => d.text.startsWith(`Snap sync: dropped peer ${l.id} `)))
        assert.ok(met.length > 0, `none of the ${liars.length} liars was dropped`)
        // A, the honest one, is never dropped
        const aId = (await a.enode()).slice('enode://'.length, 'enode://'.length + 8)
        assert.ok(!drops.some((l) => l.text.includes(aId)), 'A was dropped')
        await assertAState(source!, b, done)
      } catch (err) {
        if (process.env.SNAP_TEST_KEEP_LOGS !== undefined && b !== undefined)
          copyFileSync(b.logFile, join(process.env.SNAP_TEST_KEEP_LOGS, `faults-B${g}.log`))
        throw err
      } finally {
        await b?.destroy()
        await Promise.all(liars.map((l) => l.node.destroy()))
      }
    })
  }
  describe('a lying head (a peer in this process: far-higher head, made-up headers)', () => {
    const options = async (mode: LyingHeadMode): Promise<LyingHeadOptions> => ({
      mode,
      genesis: source!.devnet.genesis as unknown as LyingHeadOptions['genesis'],
      genesisHash: source!.chain.genesisHash,
      realHead: await source!.node.blockNumber(),
    })

    it(
      'badly sealed or unlinked headers: each liar is dropped, ' +
        "saying why; the pivot is on A's chain; B ends with A's state",
      async function () {
        this.timeout(600_000)
        const a = source!.node
        // A is held back (every byte, both ways): B meets the liars alone first, as its only pivot candidates
        const proxy = await ThrottledProxy.start(a.port, 0)
        const liars: LyingHeadPeer[] = []
        let b: ClientNode | undefined
        try {
          b = await ClientNode.start({
            name: 'B-head',
            genesisFile: source!.files.genesisFile,
            sync: 'snap',
            bootnodes: [proxy.enodeVia(await a.enode())],
            args: ['--snapPivotDistance=2'],
          })
          for (const mode of ['badSeal', 'unlinked'] as const)
            liars.push(await LyingHeadPeer.connect(await b.enode(), await options(mode)))
          for (const liar of liars) {
            const line = await b.waitForLog(new RegExp(`Snap sync: dropped peer ${liar.shortId} `), 60_000)
            console.log(`      ${liar.mode}: ${line.slice(line.indexOf('Snap sync: '))}`)
            assert.match(line, HEAD_LIES[liar.mode])
          }
          assert.deepEqual(
            snapLines(b).filter((l) => l.kind === 'pivot'),
            [],
            'a pivot from the liars alone',
          )
          // The block pipeline may have taken a liar's head as its target: it is given up with the liar
          for (const l of b.logLines(/Sync target \d+ was named by a banned peer only/))
            console.log(`      ${l.slice(l.indexOf('Sync target'))}`)
          proxy.setRate(Infinity)
          const done = await waitSnapDone(b, { timeoutMs: 300_000 })
          console.log(`      B-head: ${done.text}`)
          // Every pivot B took (the first and any move) is A's block at that height
          const pivots = snapLines(b).filter((l) => l.kind === 'pivot' || l.kind === 'moved')
          assert.ok(pivots.length > 0)
          for (const p of pivots) {
            const block = await a.rpc<{ hash: string } | null>('eth_getBlockByNumber', [
              `0x${BigInt(p.fields.block).toString(16)}`,
              false,
            ])
            assert.equal(p.fields.hash, block?.hash, `pivot not on A's chain: ${p.text}`)
          }
          for (const liar of liars)
            assert.ok(liar.disconnected, `${liar.mode} is still connected (a dropped peer is banned)`)
          await assertAState(source!, b, done)
        } catch (err) {
          if (process.env.SNAP_TEST_KEEP_LOGS !== undefined && b !== undefined)
            copyFileSync(b.logFile, join(process.env.SNAP_TEST_KEEP_LOGS, 'faults-B-head.log'))
          throw err
        } finally {
          for (const liar of liars) liar.close()
          await b?.destroy()
          await proxy.close()
        }
      },
    )

    it(
      '--snapMinPeers=2 with A and a liar: ' + 'the liar vouches for no real head, so B takes no pivot and waits',
      async function () {
        this.timeout(300_000)
        const a = source!.node
        let liar: LyingHeadPeer | undefined
        let b: ClientNode | undefined
        try {
          b = await ClientNode.start({
            name: 'B-wait',
            genesisFile: source!.files.genesisFile,
            sync: 'snap',
            bootnodes: [await a.enode()],
            args: ['--snapPivotDistance=2', '--snapMinPeers=2'],
          })
          liar = await LyingHeadPeer.connect(await b.enode(), await options('unlinked'))
          // Both counted, neither head held by two: B says so and waits (a lookup every 2 s, this line at
          // most every 8 s)
          const waiting = /Snap sync: waiting: 2 peers, fewer than 2 agree on a head/
          await b.waitForLog(waiting, 60_000)
          const since = liar.asked.length
          // B's next waiting line follows lookups that found no pivot again; a pivot or a drop would come instead
          const node = b
          const decided = () => snapLines(node).filter((l) => l.kind === 'pivot' || l.kind === 'drop')
          await node.waitFor(async () => node.logLines(waiting).length > 1 || decided().length > 0, {
            what: 'a second waiting line (or a pivot, or a drop)',
            timeoutMs: 60_000,
          })
          assert.deepEqual(decided(), [])
          // B kept asking the liar whether it holds A's head, and it never did
          assert.ok(liar.asked.length > since, JSON.stringify(liar.asked.slice(-5)))
          assert.ok(!liar.disconnected)
        } catch (err) {
          if (process.env.SNAP_TEST_KEEP_LOGS !== undefined && b !== undefined)
            copyFileSync(b.logFile, join(process.env.SNAP_TEST_KEEP_LOGS, 'faults-B-wait.log'))
          throw err
        } finally {
          liar?.close()
          await b?.destroy()
        }
      },
    )
  })
})
