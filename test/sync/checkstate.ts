/**
 * The end check of every sync scenario: walk the target DB from the source root with the trie
 * layer's completeness walker, and compare what it saw with what the source holds.
 */
import { toHex, toHex0x } from '../../src/trie/hex.js'
import { StateWalker } from '../../src/trie/walker.js'

import type { FakeState } from './fakestate.js'
import type { StateStore } from '../../src/trie/statedb.js'
import type { WalkFinding, WalkStats } from '../../src/trie/walker.js'

/** What a walk of a synced DB found */
export interface SyncCheck {
  /** Nothing missing or corrupt, and every count equals the source's */
  readonly ok: boolean
  readonly stats: WalkStats
  /** The first findings (at most `maxFindings`) */
  readonly findings: WalkFinding[]
  /** Human-readable reasons when not ok */
  readonly problems: string[]
}

function describe(f: WalkFinding): string {
  const owner = (o: Uint8Array | undefined) => (o === undefined ? 'account trie' : `storage of ${toHex0x(o)}`)
  switch (f.kind) {
    case 'node':
      return `missing node ${toHex0x(f.hash)} at [${toHex(f.path)}] in ${owner(f.owner)}`
    case 'code':
      return `missing code ${toHex0x(f.codeHash)} of ${toHex0x(f.account)}`
    case 'corrupt':
      return `corrupt at [${toHex(f.path)}] in ${owner(f.owner)}: ${f.reason}`
  }
}

/** Walks `db` from `source.root` and compares the counts with the source's */
export async function checkSynced(db: StateStore, source: FakeState, maxFindings = 10): Promise<SyncCheck> {
  const walker = new StateWalker(db)
  const findings: WalkFinding[] = []
  for await (const f of walker.walk(source.root)) if (findings.length < maxFindings) findings.push(f)
  const { stats } = walker
  const problems = findings.map(describe)
  const expect: [string, number, number][] = [
    ['accounts', stats.accounts, source.counts.accounts],
    ['slots', stats.slots, source.counts.slots],
    ['codes', stats.codes, source.counts.codeAccounts],
  ]
  for (const [what, got, want] of expect) if (got !== want) problems.push(`${what}: ${got}, source has ${want}`)
  return { ok: walker.complete && problems.length === 0, stats, findings, problems }
}

/** Throws unless `db` holds the whole of `source` (see {@link checkSynced}); returns the walk's counts */
export async function assertSynced(db: StateStore, source: FakeState): Promise<WalkStats> {
  const check = await checkSynced(db, source)
  if (!check.ok)
    throw new Error(`synced state differs from the source ${toHex0x(source.root)}:\n  ${check.problems.join('\n  ')}`)
  return check.stats
}
