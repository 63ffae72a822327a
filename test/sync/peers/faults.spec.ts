/** How a failed request or reply is sorted: only known peer faults blame the peer, anything else is thrown back */
import { strict as assert } from 'node:assert'

import { PeerFault, RootUnavailable, classify } from '../../../src/sync/peers/faults.js'
import { TrieVerifyError } from '../../../src/trie/index.js'
import { BadReplyError } from '../../../src/wire/codec.js'
import { RequestLostError, RequestTimeoutError } from '../../../src/wire/requester.js'

import type { Failure } from '../../../src/sync/peers/faults.js'

describe('[classify]', () => {
  const cases: { name: string; err: unknown; expect: Failure['kind'] | 'thrown' }[] = [
    { name: 'a PeerFault', err: new PeerFault('oversized', 'too big'), expect: 'fault' },
    { name: 'a reply that does not decode', err: new BadReplyError('not a list'), expect: 'fault' },
    { name: 'a failed proof', err: new TrieVerifyError('ROOT_MISMATCH', 'bad'), expect: 'fault' },
    { name: 'an empty reply', err: new RootUnavailable('empty'), expect: 'unavailable' },
    { name: 'a timeout', err: new RequestTimeoutError('late'), expect: 'timeout' },
    { name: 'a connection gone', err: new RequestLostError('peer disconnected'), expect: 'lost' },
    // This node's bugs: no peer may be blamed for them
    { name: 'a TypeError', err: new TypeError('x is undefined'), expect: 'thrown' },
    { name: 'a RangeError', err: new RangeError('invalid array length'), expect: 'thrown' },
    { name: 'a plain Error', err: new Error('something else'), expect: 'thrown' },
    { name: 'a thrown string', err: 'oops', expect: 'thrown' },
  ]
  for (const c of cases) {
    it(`${c.name}: ${c.expect === 'thrown' ? 'thrown back, no peer blamed' : c.expect}`, () => {
      if (c.expect === 'thrown')
        assert.throws(
          () => classify(c.err),
          (e: unknown) => e === c.err,
        )
      else assert.equal(classify(c.err).kind, c.expect)
    })
  }
})
