import { strict as assert } from 'node:assert'

import * as sinon from 'sinon'

import { toHex } from '../../src/trie/hex.js'
import {
  TrieVerifyError,
  keccak256,
  verifyAccountRange,
  verifyBytecodes,
  verifyStorageRange,
} from '../../src/trie/index.js'
import { encodeCompact } from '../../src/trie/nibbles.js'
import { nodeKey } from '../../src/trie/statedb.js'
import { BadReplyError } from '../../src/wire/codec.js'
import { RequestTimeoutError } from '../../src/wire/requester.js'

import { plusOne } from '../server/fixtures.js'

import { buildFakeState } from './fakestate.js'
import { FakePeerSource, FakeSnapPeer, UNUSED_NODE, fakePeers } from './fakepeer.js'

import type { FakeState } from './fakestate.js'
import type { Behaviour, SnapKind } from './fakepeer.js'
import type { TrieErrorCode } from '../../src/trie/index.js'
import type { ReceivedAccountRange, StorageRangesReply } from '../../src/wire/messages.js'

const ZERO = new Uint8Array(32)
const MAX = new Uint8Array(32).fill(0xff)
const TIMEOUT = 5000

/** A verdict on a reply: `ok`, a trie error code, or for trie nodes the syncer's drop reason */
type Verdict = 'ok' | TrieErrorCode | 'bad_node' | 'oversized'

/** A reply, what the requester side makes of it, and how many items it held */
interface Outcome {
  verdict: Verdict
  items: number
  /** Re-verifies the reply with its proof changed (for `extraProof`) */
  reverify: (proof: (p: Uint8Array[]) => Uint8Array[]) => Verdict
  proof: Uint8Array[]
}

function verdict(fn: () => unknown): Verdict {
  try {
    fn()
    return 'ok'
  } catch (err) {
    if (err instanceof TrieVerifyError) return err.code
    throw err
  }
}

/** What each case asks; the defaults are ranges cut by the byte limit, so they carry proofs */
interface Ask {
  /** accounts: the limit hash; storage: the accounts asked (the first one's range is cut) */
  accounts?: (s: FakeState) => Uint8Array[]
  limit?: (s: FakeState) => Uint8Array
  bytes?: bigint
}

function verifyAccounts(s: FakeState, limit: Uint8Array, r: ReceivedAccountRange, proof: Uint8Array[]): void {
  verifyAccountRange({
    root: s.root,
    origin: ZERO,
    limit,
    hashes: r.accounts.map((a) => a.hash),
    bodies: r.accounts.map((a) => a.slimBody),
    proof,
  })
}

/** Every slot list against its account's storage root; only the last one with the proof */
function verifyStorage(
  s: FakeState,
  accounts: Uint8Array[],
  limit: Uint8Array,
  r: StorageRangesReply,
  proof: Uint8Array[],
): void {
  r.slots.forEach((slots, i) => {
    const last = i === r.slots.length - 1
    const root = s.account(accounts[i])!.body.storageRoot
    verifyStorageRange({
      root,
      origin: ZERO,
      limit: i === 0 ? limit : undefined,
      hashes: slots.map((x) => x.hash),
      slots: slots.map((x) => x.body),
      proof: last ? proof : [],
    })
  })
}

async function askAccounts(s: FakeState, peer: FakeSnapPeer, ask: Ask): Promise<Outcome> {
  const limit = ask.limit?.(s) ?? s.accounts[60].hash
  const r = await peer.getAccountRange({ root: s.root, origin: ZERO, limit, bytes: ask.bytes ?? 3000n }, TIMEOUT)
  const reverify = (p: (p: Uint8Array[]) => Uint8Array[]) => verdict(() => verifyAccounts(s, limit, r, p(r.proof)))
  return { verdict: reverify((p) => p), items: r.accounts.length, reverify, proof: r.proof }
}

async function askStorage(s: FakeState, peer: FakeSnapPeer, ask: Ask): Promise<Outcome> {
  const accounts = ask.accounts?.(s) ?? [s.contracts(1000)[0].hash]
  const limit = ask.limit?.(s) ?? s.account(accounts[0])!.slots[100].hash
  const r = await peer.getStorageRanges(
    { root: s.root, accounts, origin: ZERO, limit, bytes: ask.bytes ?? 3000n },
    TIMEOUT,
  )
  const reverify = (p: (p: Uint8Array[]) => Uint8Array[]) =>
    verdict(() => verifyStorage(s, accounts, limit, r, p(r.proof)))
  return { verdict: reverify((p) => p), items: r.slots.flat().length, reverify, proof: r.proof }
}

async function askCodes(s: FakeState, peer: FakeSnapPeer, ask: Ask): Promise<Outcome> {
  const hashes = s.codeHashes().slice(0, 10)
  const r = await peer.getByteCodes({ hashes, bytes: ask.bytes ?? 100_000n }, TIMEOUT)
  return {
    verdict: verdict(() => verifyBytecodes(hashes, r.codes)),
    items: r.codes.length,
    reverify: () => 'ok',
    proof: [],
  }
}

/** The root node and its 16 children's paths; a node must be stored under its hash */
async function askNodes(s: FakeState, peer: FakeSnapPeer, ask: Ask): Promise<Outcome> {
  const paths = [
    [encodeCompact(new Uint8Array(0), 0, false)],
    ...Array.from({ length: 16 }, (_, i) => [encodeCompact(Uint8Array.of(i), 0, false)]),
  ]
  const r = await peer.getTrieNodes({ root: s.root, paths, bytes: ask.bytes ?? 100_000n }, TIMEOUT)
  const stored = await s.level.getMany(r.nodes.map((n) => nodeKey(keccak256(n))))
  const v: Verdict =
    r.nodes.length > paths.length ? 'oversized' : stored.every((x) => x !== undefined) ? 'ok' : 'bad_node'
  return { verdict: v, items: r.nodes.length, reverify: () => v, proof: [] }
}

const ASK: { [k in SnapKind]: (s: FakeState, peer: FakeSnapPeer, ask: Ask) => Promise<Outcome> } = {
  accounts: askAccounts,
  storage: askStorage,
  codes: askCodes,
  nodes: askNodes,
}

interface Case {
  kind: SnapKind
  /** Names a non-default request */
  label?: string
  behaviour: Behaviour
  expect: Verdict
  ask?: Ask
  /** Compares with the honest peer's outcome for the same request */
  check?: (got: Outcome, honest: Outcome) => void
}

const fewer = (got: Outcome, honest: Outcome) =>
  assert.ok(got.items > 0 && got.items < honest.items, `${got.items} of ${honest.items}`)
const more = (got: Outcome, honest: Outcome) => assert.ok(got.items > honest.items, `${got.items} vs ${honest.items}`)
/** The unused node is appended last: without it the reply verifies (what the syncer must accept) */
const extraOnly = (got: Outcome) => {
  assert.equal(toHex(got.proof[got.proof.length - 1]), toHex(UNUSED_NODE))
  assert.equal(
    got.reverify((p) => p.slice(0, -1)),
    'ok',
  )
}
const smallContracts = (s: FakeState) =>
  s
    .contracts()
    .filter((a) => a.slots.length < 100)
    .slice(0, 5)
    .map((a) => a.hash)
const completeStorage: Ask = { accounts: smallContracts, limit: () => MAX, bytes: 100_000n }
const wholeTrie: Ask = { limit: () => MAX, bytes: 1_000_000n }

/** What account and storage ranges share: the default request is a range cut by its byte limit */
const rangeCases: Omit<Case, 'kind'>[] = [
  { behaviour: 'honest', expect: 'ok' },
  { behaviour: 'corrupt', expect: 'ROOT_MISMATCH' },
  { behaviour: 'capped', expect: 'ok', check: fewer },
  { behaviour: 'dropProofNode', expect: 'PROOF_MISSING_NODE' },
  { behaviour: 'noProof', expect: 'ROOT_MISMATCH' },
  // Today's trie layer refuses unused proof nodes; the syncer's change will make this 'ok'
  { behaviour: 'extraProof', expect: 'PROOF_EXTRA_NODE', check: extraOnly },
  { behaviour: 'oversized', expect: 'KEY_OUT_OF_RANGE', check: more },
  { behaviour: 'lyingCont', expect: 'PROOF_MISSING_NODE', check: fewer },
  { behaviour: 'slow', expect: 'ok' },
]

const cases: Case[] = [
  ...rangeCases.flatMap((c): Case[] => [
    { ...c, kind: 'accounts' },
    { ...c, kind: 'storage' },
  ]),
  { kind: 'accounts', behaviour: 'empty', expect: 'EMPTY_RESPONSE' },
  // Edge proofs on a complete range (the honest form a syncer must accept), plus the unused node
  {
    kind: 'accounts',
    behaviour: 'extraProof',
    expect: 'PROOF_EXTRA_NODE',
    label: 'whole trie',
    ask: wholeTrie,
    check: extraOnly,
  },
  { kind: 'storage', behaviour: 'empty', expect: 'ok', check: (got) => assert.equal(got.items, 0) },
  { kind: 'storage', behaviour: 'corrupt', expect: 'ROOT_MISMATCH', label: 'complete ranges', ask: completeStorage },
  {
    kind: 'storage',
    behaviour: 'extraProof',
    expect: 'PROOF_EXTRA_NODE',
    label: 'complete ranges',
    ask: completeStorage,
    check: extraOnly,
  },
  {
    kind: 'storage',
    behaviour: 'lyingCont',
    expect: 'PROOF_MISSING_NODE',
    label: 'complete ranges',
    ask: completeStorage,
    check: fewer,
  },
  { kind: 'codes', behaviour: 'honest', expect: 'ok', check: (got) => assert.equal(got.items, 10) },
  { kind: 'codes', behaviour: 'empty', expect: 'ok', check: (got) => assert.equal(got.items, 0) },
  { kind: 'codes', behaviour: 'corrupt', expect: 'BYTECODE_UNREQUESTED' },
  { kind: 'codes', behaviour: 'capped', expect: 'ok', check: (got) => assert.equal(got.items, 1) },
  { kind: 'codes', behaviour: 'partialCodes', expect: 'ok', check: (got) => assert.equal(got.items, 5) },
  { kind: 'codes', behaviour: 'wrongCode', expect: 'BYTECODE_UNREQUESTED' },
  { kind: 'codes', behaviour: 'unrequested', expect: 'BYTECODE_UNREQUESTED', check: more },
  { kind: 'codes', behaviour: 'oversized', expect: 'ok', ask: { bytes: 300n }, check: more },
  { kind: 'nodes', behaviour: 'honest', expect: 'ok', check: (got) => assert.equal(got.items, 17) },
  { kind: 'nodes', behaviour: 'corrupt', expect: 'bad_node' },
  { kind: 'nodes', behaviour: 'capped', expect: 'ok', check: (got) => assert.equal(got.items, 1) },
  { kind: 'nodes', behaviour: 'unrequested', expect: 'oversized' },
  { kind: 'nodes', behaviour: 'oversized', expect: 'ok', ask: { bytes: 200n }, check: more },
]

describe('[FakeSnapPeer]', () => {
  let s: FakeState
  before(async () => {
    s = await buildFakeState()
  })

  describe('behaviours, as the trie layer sees the replies', () => {
    for (const c of cases) {
      it(`${c.kind}: ${c.behaviour}${c.label === undefined ? '' : ` (${c.label})`} -> ${c.expect}`, async () => {
        const honest = await ASK[c.kind](s, new FakeSnapPeer(s), c.ask ?? {})
        const peer = new FakeSnapPeer(s, { behaviour: c.behaviour, slowMs: 5 })
        const got = await ASK[c.kind](s, peer, c.ask ?? {})
        assert.equal(got.verdict, c.expect)
        c.check?.(got, honest)
        assert.deepEqual(peer.errors, [])
        assert.deepEqual([peer.stats[c.kind].requests, peer.stats[c.kind].items], [1, got.items])
      })
    }
  })

  it('an honest peer serves the whole account trie in verified ranges, with slim bodies', async () => {
    const peer = new FakeSnapPeer(s)
    const got: string[] = []
    let origin: Uint8Array = ZERO
    for (let more = true; more; ) {
      const r = await peer.getAccountRange({ root: s.root, origin, limit: MAX, bytes: 2000n }, TIMEOUT)
      const v = verifyAccountRange({
        root: s.root,
        origin,
        hashes: r.accounts.map((a) => a.hash),
        bodies: r.accounts.map((a) => a.slimBody),
        proof: r.proof,
      })
      for (const a of r.accounts) assert.equal(toHex(a.slimBody), toHex(s.account(a.hash)!.slim))
      got.push(...r.accounts.map((a) => toHex(a.hash)))
      more = v.more
      origin = plusOne(r.accounts[r.accounts.length - 1].hash)
    }
    assert.deepEqual(got, s.accountHashes().map(toHex))
    assert.ok(peer.stats.accounts.requests > 3)
    assert.equal(peer.stats.accounts.items, s.counts.accounts)
  })

  it('empty replies once the root is no longer served, answers again when it is', async () => {
    const peer = new FakeSnapPeer(s)
    const ask = () => peer.getAccountRange({ root: s.root, origin: ZERO, limit: MAX, bytes: 2000n }, TIMEOUT)
    s.served.delete(s.root)
    try {
      assert.equal((await ask()).accounts.length, 0)
    } finally {
      s.served.add(s.root)
    }
    assert.ok((await ask()).accounts.length > 0)
  })

  it('silent: the requester times out after timeoutMs (fake timers)', async () => {
    const clock = sinon.useFakeTimers()
    try {
      const peer = new FakeSnapPeer(s, { behaviour: 'silent' })
      const reply = peer.getByteCodes({ hashes: s.codeHashes(), bytes: 1000n }, 1000)
      let settled = false
      reply.catch(() => {}).finally(() => (settled = true))
      await clock.tickAsync(999)
      assert.equal(settled, false)
      await clock.tickAsync(1)
      await assert.rejects(reply, RequestTimeoutError)
      assert.equal(peer.stats.codes.requests, 1)
      assert.equal(peer.stats.codes.replies, 0)
    } finally {
      clock.restore()
    }
  })

  it('honest replies arrive under fake timers too', async () => {
    const clock = sinon.useFakeTimers()
    try {
      const reply = new FakeSnapPeer(s).getAccountRange({ root: s.root, origin: ZERO, limit: MAX, bytes: 2000n }, 1000)
      await clock.tickAsync(0)
      assert.ok((await reply).accounts.length > 0)
    } finally {
      clock.restore()
    }
  })

  it('slow: answers after slowMs, or times out when slower than the timeout (fake timers)', async () => {
    const clock = sinon.useFakeTimers()
    try {
      const peer = new FakeSnapPeer(s, { behaviour: 'slow', slowMs: 40 })
      const reply = peer.getByteCodes({ hashes: s.codeHashes(), bytes: 100_000n }, 1000)
      let settled = false
      reply.catch(() => {}).finally(() => (settled = true))
      await clock.tickAsync(39)
      assert.equal(settled, false)
      await clock.tickAsync(1)
      assert.equal((await reply).codes.length, s.counts.codes)
      const tooSlow = peer.getByteCodes({ hashes: s.codeHashes(), bytes: 100_000n }, 10)
      const late = assert.rejects(tooSlow, RequestTimeoutError)
      await clock.tickAsync(10)
      await late
    } finally {
      clock.restore()
    }
  })

  it('garbage: every kind fails decoding with BadReplyError', async () => {
    const peer = new FakeSnapPeer(s, { behaviour: 'garbage' })
    await assert.rejects(
      peer.getAccountRange({ root: s.root, origin: ZERO, limit: MAX, bytes: 1000n }, TIMEOUT),
      BadReplyError,
    )
    await assert.rejects(
      peer.getStorageRanges(
        { root: s.root, accounts: [s.contracts()[0].hash], origin: ZERO, limit: MAX, bytes: 1000n },
        TIMEOUT,
      ),
      BadReplyError,
    )
    await assert.rejects(peer.getByteCodes({ hashes: s.codeHashes(), bytes: 1000n }, TIMEOUT), BadReplyError)
    await assert.rejects(
      peer.getTrieNodes({ root: s.root, paths: [[Uint8Array.of(0)]], bytes: 1000n }, TIMEOUT),
      BadReplyError,
    )
  })

  it('per-kind plans and run-time switches: only storage misbehaves, then nothing does', async () => {
    const peer = new FakeSnapPeer(s, { behaviour: { storage: 'corrupt' } })
    assert.deepEqual([peer.behaviourFor('accounts'), peer.behaviourFor('storage')], ['honest', 'corrupt'])
    assert.equal((await askAccounts(s, peer, {})).verdict, 'ok')
    assert.equal((await askStorage(s, peer, {})).verdict, 'ROOT_MISMATCH')
    peer.setBehaviour({ default: 'empty', codes: 'honest' })
    assert.equal((await askCodes(s, peer, {})).items, 10)
    assert.equal((await askNodes(s, peer, {})).items, 0)
    peer.setBehaviour('honest')
    assert.equal((await askStorage(s, peer, {})).verdict, 'ok')
    assert.deepEqual([peer.stats.accounts.requests, peer.stats.storage.requests, peer.stats.codes.requests], [1, 2, 1])
    assert.deepEqual(
      peer.received.map((r) => r.kind),
      ['GetAccountRange', 'GetStorageRanges', 'GetByteCodes', 'GetTrieNodes', 'GetStorageRanges'],
    )
  })

  it('several requests in flight on one peer are matched by request id', async () => {
    const peer = new FakeSnapPeer(s)
    const hashes = s.codeHashes()
    const replies = await Promise.all(hashes.map((h) => peer.getByteCodes({ hashes: [h], bytes: 100_000n }, TIMEOUT)))
    for (const [i, r] of replies.entries()) assert.equal(toHex(keccak256(r.codes[0])), toHex(hashes[i]))
  })

  it('a disconnected peer fails what is in flight and what comes later', async () => {
    const peer = new FakeSnapPeer(s, { behaviour: 'silent' })
    const pending = peer.getByteCodes({ hashes: s.codeHashes(), bytes: 1000n }, TIMEOUT)
    peer.disconnect()
    await assert.rejects(pending, /disconnected/)
    await assert.rejects(peer.getByteCodes({ hashes: s.codeHashes(), bytes: 1000n }, TIMEOUT), /disconnected/)
  })

  it('a request the server would refuse as malformed fails at once, naming it', async () => {
    const peer = new FakeSnapPeer(s)
    await assert.rejects(
      peer.getAccountRange({ root: s.root, origin: new Uint8Array(5), limit: MAX, bytes: 1000n }, TIMEOUT),
      /malformed GetAccountRange: origin/,
    )
    assert.equal(peer.errors.length, 1)
  })

  it('FakePeerSource lists peers, records drops and disconnects the dropped', async () => {
    const [good, bad] = fakePeers(s, ['honest', 'corrupt'])
    assert.deepEqual([good.id, bad.id], ['honest-0', 'corrupt-1'])
    const source = new FakePeerSource([good, bad])
    source.drop(bad, 'invalid_proof', 'ROOT_MISMATCH')
    assert.deepEqual(
      source.peers().map((p) => p.id),
      ['honest-0'],
    )
    assert.deepEqual(source.reasonsFor('corrupt-1'), ['invalid_proof'])
    await assert.rejects(bad.getByteCodes({ hashes: [], bytes: 1n }, TIMEOUT), /disconnected/)
  })
})
