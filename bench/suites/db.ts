/**
 * The storage backends side by side (`--db=level|rocksdb`), in one run: the trie layer's build of 1M
 * sorted leaves into a state DB of each backend (trie.ts's child process, the same leaves), then a snap
 * sync of the full-versus-snap benchmark chain (chainsync.ts) by a client started empty on each
 * backend, from the same source process. Ratios are RocksDB over LevelDB.
 */
import { BENCH_CHAIN } from './chainspecs.js'
import { cachedChain } from './chain.js'
import { say, syncChain, withSource } from './chainsync.js'
import { runChild } from './trie.js'

import type { SyncRun } from './chainsync.js'

/** Leaves of the build: the trie suite's first size */
const LEAVES = 1_000_000

/** The `db` suite: see the module comment */
export async function dbSuite(): Promise<{ [name: string]: number }> {
  say(`trie build of ${LEAVES} leaves: LevelDB`)
  const levelBuild = await runChild(LEAVES, false, 'level')
  say('trie build: RocksDB')
  const rocksBuild = await runChild(LEAVES, false, 'rocksdb')
  const chain = await cachedChain(BENCH_CHAIN, say)
  const { level, rocks } = await withSource(chain, async (source) => {
    say('snap sync: LevelDB')
    const level: SyncRun = await syncChain(source, chain, 'snap', say, ['--db=level'])
    say(`snap sync: ${level.seconds.toFixed(0)} s; RocksDB`)
    const rocks: SyncRun = await syncChain(source, chain, 'snap', say, ['--db=rocksdb'])
    say(`snap sync: ${rocks.seconds.toFixed(0)} s`)
    return { level, rocks }
  })
  const buildLevel = levelBuild.leaves / levelBuild.buildSeconds
  const buildRocks = rocksBuild.leaves / rocksBuild.buildSeconds
  return {
    buildLeaves: LEAVES,
    buildLeavesPerSecLevel: Math.round(buildLevel),
    buildLeavesPerSecRocksdb: Math.round(buildRocks),
    rocksdbOverLevelBuild: buildRocks / buildLevel,
    buildPeakRssBytesLevel: levelBuild.peakRssBytes,
    buildPeakRssBytesRocksdb: rocksBuild.peakRssBytes,
    snapSyncSecondsLevel: level.seconds,
    snapSyncSecondsRocksdb: rocks.seconds,
    snapStateSecondsLevel: level.stateSeconds ?? 0,
    snapStateSecondsRocksdb: rocks.stateSeconds ?? 0,
    // A speed ratio: above 1 when RocksDB syncs faster
    rocksdbOverLevelSnapSpeed: level.seconds / rocks.seconds,
    snapPeakRssBytesLevel: level.peakRssBytes,
    snapPeakRssBytesRocksdb: rocks.peakRssBytes,
    dataDirBytesLevel: level.dataDirBytes,
    dataDirBytesRocksdb: rocks.dataDirBytes,
  }
}
