/**
 * The RLPx frame MAC as patched in `@ethereumjs/devp2p` (patches/@ethereumjs+devp2p+10.0.0.patch): a
 * WASM keccak whose running state each MAC saves and loads, instead of the pure-JS keccak. It must
 * give the stock MAC's digests byte for byte, with many MACs stepping in turn (two per connection).
 */
import { strict as assert } from 'node:assert'
import { createCipheriv, randomBytes } from 'node:crypto'

import { keccak256 } from 'ethereum-cryptography/keccak.js'

// The dist file itself (see messageguard.spec.ts)
import { MAC } from '../../node_modules/@ethereumjs/devp2p/dist/esm/rlpx/mac.js'
import { rng } from '../helpers/rng.js'

interface FrameMac {
  update(data: Uint8Array): void
  updateHeader(data: Uint8Array): void
  updateBody(data: Uint8Array): void
  digest(): Uint8Array
}

const xor = (a: Uint8Array, b: Uint8Array) => a.map((x, i) => x ^ b[i]).subarray(0, Math.min(a.length, b.length))

/** devp2p 10.0.0's MAC as published: the pure-JS keccak's running hash, cloned for each digest */
class StockMac implements FrameMac {
  private readonly hash = keccak256.create()
  constructor(private readonly secret: Uint8Array) {}
  update(data: Uint8Array): void {
    this.hash.update(data)
  }
  updateHeader(data: Uint8Array): void {
    const encrypted = createCipheriv('aes-256-ecb', this.secret, '').update(this.digest())
    this.hash.update(xor(encrypted, data))
  }
  updateBody(data: Uint8Array): void {
    this.hash.update(data)
    const prev = this.digest()
    const encrypted = createCipheriv('aes-256-ecb', this.secret, '').update(prev)
    this.hash.update(xor(encrypted, prev))
  }
  digest(): Uint8Array {
    return Uint8Array.from(this.hash.clone().digest().subarray(0, 16))
  }
}

describe('[devp2p patch] the RLPx frame MAC', () => {
  it("gives the stock MAC's digests for the handshake seed, headers and bodies of any size", function () {
    // The stock MAC's pure-JS keccak takes ~0.1 s a MiB here
    this.timeout(30_000)
    const random = rng(8)
    const secret = randomBytes(32)
    // Three connections' MACs stepping in turn, as a node's peers do
    const pairs = [0, 1, 2].map(() => [new MAC(secret) as FrameMac, new StockMac(secret)] as const)
    for (const [patched, stock] of pairs) {
      const seed = randomBytes(200)
      patched.update(seed)
      stock.update(seed)
    }
    for (let step = 0; step < 300; step++) {
      const [patched, stock] = pairs[step % pairs.length]
      const header = randomBytes(16)
      const body = randomBytes(Math.floor(random() * 20_000))
      patched.updateHeader(header)
      stock.updateHeader(header)
      assert.deepEqual(patched.digest(), stock.digest(), `header digest at step ${step}`)
      patched.updateBody(body)
      stock.updateBody(body)
      assert.deepEqual(patched.digest(), stock.digest(), `body digest at step ${step} (${body.length} bytes)`)
    }
  })

  it('returns a digest the next step does not change (a copy, 16 bytes)', () => {
    const mac = new MAC(randomBytes(32)) as FrameMac
    mac.update(randomBytes(64))
    const first = mac.digest()
    const kept = Uint8Array.from(first)
    mac.updateBody(randomBytes(1000))
    assert.equal(first.length, 16)
    assert.deepEqual(first, kept)
    assert.notDeepEqual(mac.digest(), kept)
  })
})
