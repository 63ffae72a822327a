import { strict as assert } from 'node:assert'

import { ServeScheduler } from '../../src/server/scheduler.js'

/** A task that resolves when released, recording when it started */
function gate(log: string[], name: string) {
  let release!: () => void
  const done = new Promise<void>((r) => (release = r))
  return {
    task: async () => {
      log.push(name)
      await done
      return name
    },
    release: () => release(),
  }
}

describe('[ServeScheduler]', () => {
  it('runs at most maxConcurrent in total and maxConcurrentPerPeer per peer, peers in turn', async () => {
    const s = new ServeScheduler({ maxConcurrent: 2, maxConcurrentPerPeer: 1, maxQueuedPerPeer: 10 })
    const log: string[] = []
    const gates = ['a1', 'a2', 'a3', 'b1', 'b2', 'c1'].map((n) => ({ n, g: gate(log, n) }))
    const results = gates.map(({ n, g }) => s.submit(n[0], g.task)!)
    await Promise.resolve()
    assert.deepEqual(log, ['a1', 'b1'])
    assert.equal(s.active, 2)
    gates.find((x) => x.n === 'a1')!.g.release()
    await results[0]
    await new Promise((r) => setImmediate(r))
    // c has not been served yet, so it goes before a's second request
    assert.deepEqual(log, ['a1', 'b1', 'c1'])
    for (const { g } of gates) g.release()
    await Promise.all(results)
    assert.deepEqual([...log].sort(), ['a1', 'a2', 'a3', 'b1', 'b2', 'c1'])
    assert.equal(s.active, 0)
  })

  it('drops requests beyond a peer queue, without affecting others', () => {
    const s = new ServeScheduler({ maxConcurrent: 1, maxConcurrentPerPeer: 1, maxQueuedPerPeer: 2 })
    const never = () => new Promise<void>(() => {})
    const accepted = Array.from({ length: 10 }, () => s.submit('flood', never)).filter((p) => p !== undefined)
    assert.equal(accepted.length, 3) // one running, two waiting
    assert.notEqual(s.submit('other', never), undefined)
  })

  it('a failing task rejects its own promise and frees its slot', async () => {
    const s = new ServeScheduler({ maxConcurrent: 1, maxConcurrentPerPeer: 1, maxQueuedPerPeer: 2 })
    await assert.rejects(
      s.submit('p', async () => {
        throw new Error('boom')
      })!,
      /boom/,
    )
    assert.equal(await s.submit('p', async () => 7), 7)
  })

  it("drops a gone peer's waiting requests (they settle undefined) and keeps its running ones", async () => {
    const s = new ServeScheduler({ maxConcurrent: 1, maxConcurrentPerPeer: 1, maxQueuedPerPeer: 16 })
    let release!: () => void
    const running = s.submit('gone', () => new Promise<string>((r) => (release = () => r('ran'))))!
    const ran: string[] = []
    const waiting = [1, 2, 3].map(
      (i) =>
        s.submit('gone', async () => {
          ran.push(`gone ${i}`)
          return i
        })!,
    )
    const other = s.submit('other', async () => 'other')!
    s.dropPeer('gone')
    release()
    assert.equal(await running, 'ran')
    assert.deepEqual(await Promise.all(waiting), [undefined, undefined, undefined])
    assert.equal(await other, 'other')
    assert.deepEqual(ran, [], 'no waiting job of the gone peer ran')
    assert.equal(s.active, 0)
  })
})
