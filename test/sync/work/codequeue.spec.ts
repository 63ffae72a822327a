import { strict as assert } from 'node:assert'

import { CodeQueue } from '../../../src/sync/work/codequeue.js'

const hash = (n: number) => new Uint8Array(32).fill(n)

describe('[CodeQueue]', () => {
  it('a hash wanted twice is fetched once; both waiters are called when it is stored', () => {
    const q = new CodeQueue()
    const calls: string[] = []
    assert.equal(
      q.want(hash(1), () => calls.push('a')),
      true,
    )
    assert.equal(
      q.want(hash(1), () => calls.push('b')),
      false,
    )
    assert.deepEqual(q.take(10), [hash(1)])
    q.stored(hash(1))
    assert.deepEqual(calls, ['a', 'b'])
    assert.equal(q.pending, 0)
  })

  it('a code stored moments ago (maybe still in an unflushed batch) is not fetched again', () => {
    const q = new CodeQueue()
    q.want(hash(2), () => {})
    q.take(1)
    q.stored(hash(2))
    let called = false
    assert.equal(
      q.want(hash(2), () => (called = true)),
      false,
    )
    assert.equal(called, true)
    assert.equal(q.queued, 0)
  })

  it('hashes not delivered go back to the front of the queue, in order', () => {
    const q = new CodeQueue()
    for (const n of [1, 2, 3]) q.want(hash(n), () => {})
    const taken = q.take(2)
    q.requeue(taken)
    assert.deepEqual(q.take(3), [hash(1), hash(2), hash(3)])
  })
})
