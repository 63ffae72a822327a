import { strict as assert } from 'node:assert'

import sinon from 'sinon'

import { RequestRate } from '../../../src/sync/scheduler/requestrate.js'

describe('[RequestRate] --snapRequestRate', () => {
  let clock: sinon.SinonFakeTimers
  beforeEach(() => (clock = sinon.useFakeTimers({ now: 1_000_000 })))
  afterEach(() => clock.restore())

  it('spaces requests evenly at the rate, without a burst', async () => {
    const rate = new RequestRate(4)
    const sent: number[] = []
    for (let t = 0; t <= 1_000; t += 50) {
      if (rate.tryTake()) sent.push(Date.now() - 1_000_000)
      await clock.tickAsync(50)
    }
    assert.deepEqual(sent, [0, 250, 500, 750, 1000])
  })

  it('a request after a quiet spell goes at once', async () => {
    const rate = new RequestRate(2)
    assert.equal(rate.tryTake(), true)
    await clock.tickAsync(5_000)
    assert.equal(rate.msUntilNext(), 0)
    assert.equal(rate.tryTake(), true)
  })

  it(
    'tryTake (the scheduler asks before it sends): one turn per 1/rate s, ' + 'and says how long until the next',
    async () => {
      const rate = new RequestRate(10)
      assert.equal(rate.tryTake(), true)
      assert.equal(rate.tryTake(), false)
      assert.equal(rate.msUntilNext(), 100)
      await clock.tickAsync(100)
      assert.equal(rate.msUntilNext(), 0)
      assert.equal(rate.tryTake(), true)
    },
  )

  it('refuses a rate that is not positive', () => {
    assert.throws(() => new RequestRate(0), /request rate must be positive, got 0/)
  })
})
