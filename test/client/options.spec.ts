import { strict as assert } from 'node:assert'

import { DEFAULT_SNAP_OPTIONS, parseSnapOptions, snapCliOptions } from '../../src/client/options.js'
import { SERVED_STATE_BLOCKS } from '../../src/wire/constants.js'

describe('[parseSnapOptions]', () => {
  it('gives the defaults when no plugin flag is set, frozen', () => {
    const options = parseSnapOptions({})
    assert.deepEqual(options, {
      serve: true,
      minPeers: 1,
      pivotDistance: 64,
      accountTasks: 16,
      requestRate: 0,
      db: 'level',
    })
    assert.deepEqual(options, DEFAULT_SNAP_OPTIONS)
    assert.ok(Object.isFrozen(options))
  })

  it('shows the defaults in --help', () => {
    assert.equal(snapCliOptions.snapServe.default, DEFAULT_SNAP_OPTIONS.serve)
    assert.equal(snapCliOptions.snapMinPeers.default, DEFAULT_SNAP_OPTIONS.minPeers)
    assert.equal(snapCliOptions.snapPivotDistance.default, DEFAULT_SNAP_OPTIONS.pivotDistance)
    assert.equal(snapCliOptions.snapAccountTasks.default, DEFAULT_SNAP_OPTIONS.accountTasks)
    assert.equal(snapCliOptions.snapRequestRate.default, DEFAULT_SNAP_OPTIONS.requestRate)
    assert.equal(snapCliOptions.db.default, DEFAULT_SNAP_OPTIONS.db)
  })

  it('reads every flag at its bounds', () => {
    const low = parseSnapOptions({
      snapServe: false,
      snapMinPeers: 1,
      snapPivotDistance: 1,
      snapAccountTasks: 1,
      snapRequestRate: 0,
      db: 'level',
    })
    assert.deepEqual(low, { serve: false, minPeers: 1, pivotDistance: 1, accountTasks: 1, requestRate: 0, db: 'level' })
    const high = parseSnapOptions({
      snapMinPeers: 64,
      snapPivotDistance: SERVED_STATE_BLOCKS - 8,
      snapAccountTasks: 256,
      snapRequestRate: 10_000,
      db: 'rocksdb',
    })
    assert.deepEqual(high, {
      serve: true,
      minPeers: 64,
      pivotDistance: SERVED_STATE_BLOCKS - 8,
      accountTasks: 256,
      requestRate: 10_000,
      db: 'rocksdb',
    })
  })

  it("takes the client's list flags given more than once (--bootnodes, ...)", () => {
    const lists = {
      bootnodes: ['enode://a@127.0.0.1:1', 'enode://b@127.0.0.1:2'],
      multiaddrs: [],
      dnsNetworks: ['x'],
      loadBlocksFromRlp: ['a.rlp', 'b.rlp'],
      _: [],
    }
    assert.doesNotThrow(() => parseSnapOptions(lists))
  })

  it('takes --db=rocksdb with any --sync mode (it is the storage, not the sync)', () => {
    for (const sync of ['full', 'snap', 'none', undefined]) {
      assert.equal(parseSnapOptions({ sync, maxPeers: 25, db: 'rocksdb' }).db, 'rocksdb', String(sync))
    }
  })

  const bad: { name: string; args: { [key: string]: unknown }; error: RegExp }[] = [
    {
      name: 'snapServe not a boolean',
      args: { snapServe: 'maybe' },
      error: /^--snapServe must be true or false, got maybe$/,
    },
    {
      name: 'snapMinPeers 0',
      args: { snapMinPeers: 0 },
      error: /^--snapMinPeers must be a whole number from 1 to 64, got 0$/,
    },
    { name: 'snapMinPeers 65', args: { snapMinPeers: 65 }, error: /^--snapMinPeers must be .* got 65$/ },
    { name: 'snapMinPeers fractional', args: { snapMinPeers: 1.5 }, error: /^--snapMinPeers must be .* got 1.5$/ },
    {
      name: 'snapMinPeers NaN (yargs on a word)',
      args: { snapMinPeers: NaN },
      error: /^--snapMinPeers must be .* got NaN$/,
    },
    {
      name: 'snapPivotDistance 0',
      args: { snapPivotDistance: 0 },
      error: /^--snapPivotDistance must be a whole number from 1 to 120, got 0$/,
    },
    {
      name: 'snapPivotDistance beyond the served roots',
      args: { snapPivotDistance: SERVED_STATE_BLOCKS },
      error: /^--snapPivotDistance must be .* got 128$/,
    },
    {
      name: 'snapRequestRate negative',
      args: { snapRequestRate: -1 },
      error: /^--snapRequestRate must be a whole number from 0 to 10000, got -1$/,
    },
    {
      name: 'snapRequestRate fractional',
      args: { snapRequestRate: 0.5 },
      error: /^--snapRequestRate must be .* got 0.5$/,
    },
    {
      name: 'snapAccountTasks 0',
      args: { snapAccountTasks: 0 },
      error: /^--snapAccountTasks must be a whole number from 1 to 256, got 0$/,
    },
    { name: 'snapAccountTasks 257', args: { snapAccountTasks: 257 }, error: /^--snapAccountTasks must be .* got 257$/ },
    {
      name: 'snapAccountTasks a string',
      args: { snapAccountTasks: '16' },
      error: /^--snapAccountTasks must be .* got 16$/,
    },
    { name: 'db an unknown backend', args: { db: 'sqlite' }, error: /^--db must be level or rocksdb, got sqlite$/ },
    {
      name: 'db given twice (yargs makes an array)',
      args: { db: ['level', 'rocksdb'] },
      error: /^--db was given 2 times \(level, rocksdb\): give it once$/,
    },
    {
      name: 'a client flag given twice (the client took it silently: --logLevel twice turned the log off)',
      args: { logLevel: ['info', 'debug'], 'log-level': ['info', 'debug'] },
      error: /^--logLevel was given 2 times \(info, debug\): give it once$/,
    },
    {
      name: 'a plugin flag given twice',
      args: { snapMinPeers: [1, 2] },
      error: /^--snapMinPeers was given 2 times \(1, 2\): give it once$/,
    },
    { name: 'db in capitals', args: { db: 'RocksDB' }, error: /^--db must be level or rocksdb, got RocksDB$/ },
  ]
  for (const c of bad) {
    it(`throws, naming the flag: ${c.name}`, () => {
      assert.throws(
        () => parseSnapOptions(c.args),
        (err: Error) => c.error.test(err.message),
      )
    })
  }

  describe('flags that contradict --sync=snap', () => {
    const snap = { sync: 'snap', maxPeers: 25 }
    const conflicts: { name: string; args: { [key: string]: unknown }; error: RegExp }[] = [
      {
        name: '--isSingleNode',
        args: { isSingleNode: true },
        error: /^--sync=snap cannot run with --isSingleNode: a single node has no peer/,
      },
      { name: '--dev', args: { dev: 'poa' }, error: /^--sync=snap cannot run with --dev: / },
      { name: '--dev given alone', args: { dev: '' }, error: /^--sync=snap cannot run with --dev: / },
      {
        name: '--prefixStorageTrieKeys=false',
        args: { prefixStorageTrieKeys: false },
        error: /cannot run with --prefixStorageTrieKeys=false: .*would not find them/,
      },
      {
        name: '--useStringValueTrieDB',
        args: { useStringValueTrieDB: true },
        error: /cannot run with --useStringValueTrieDB: /,
      },
      {
        name: '--statefulVerkle',
        args: { statefulVerkle: true },
        error: /cannot run with --statefulVerkle: snap\/1 downloads a Merkle-Patricia state/,
      },
      {
        name: '--statelessVerkle',
        args: { statelessVerkle: true },
        error: /cannot run with --statelessVerkle: snap\/1 /,
      },
      {
        name: '--maxPeers=0',
        args: { maxPeers: 0 },
        error: /^--sync=snap with --maxPeers=0: the pivot needs --snapMinPeers=1 peers/,
      },
      {
        name: '--maxPeers below --snapMinPeers',
        args: { maxPeers: 2, snapMinPeers: 3 },
        error: /--maxPeers=2: the pivot needs --snapMinPeers=3 peers/,
      },
    ]
    for (const c of conflicts) {
      it(`refuses ${c.name}`, () => {
        assert.throws(
          () => parseSnapOptions({ ...snap, ...c.args }),
          (err: Error) => c.error.test(err.message),
        )
      })
    }

    it('takes them in another sync mode (they do not concern snap sync there)', () => {
      for (const c of conflicts)
        assert.doesNotThrow(() => parseSnapOptions({ sync: 'full', maxPeers: 25, ...c.args }), c.name)
    })

    it(
      'takes the client defaults and --mine (a signer mines once synced); ' + 'refuses --dev=false (a single node too)',
      () => {
        const defaults = {
          ...snap,
          isSingleNode: undefined,
          dev: undefined,
          prefixStorageTrieKeys: true,
          useStringValueTrieDB: false,
          statefulVerkle: false,
          statelessVerkle: false,
        }
        assert.deepEqual(parseSnapOptions(defaults), DEFAULT_SNAP_OPTIONS)
        assert.doesNotThrow(() => parseSnapOptions({ ...defaults, mine: true, maxPeers: 1 }))
        assert.throws(() => parseSnapOptions({ ...defaults, dev: 'false' }), /--dev/)
      },
    )
  })

  // The lying modes are test-only (integration/harness/lyingnode.ts): the client's CLI, strict about
  // unknown flags, refuses --snapTestLies (integration/cli.spec.ts)
  it(
    'defines no --snapTestLies and no lying mode: the flag is not an option, ' +
      'and is ignored if it reaches the parser',
    () => {
      assert.equal(Object.hasOwn(snapCliOptions, 'snapTestLies'), false)
      assert.deepEqual(
        Object.keys(snapCliOptions).filter((name) => /lie/i.test(name)),
        [],
      )
      assert.deepEqual(parseSnapOptions({ snapTestLies: 'corrupt', gethGenesis: 'g.json' }), DEFAULT_SNAP_OPTIONS)
    },
  )
})
