/**
 * The lying snap server (test-only, not in the package): the handler's `answerer` in a client process
 * started through `integration/harness/lyingnode.ts --lie=KIND`, and in the handler's unit tests. It
 * tells one of the lies of `lies.ts` to every request.
 */
import { itemCount, tell } from './lies.js'

import type { Lie, ServedReply } from './lies.js'
import type { ServedReply as HandlerReply, SnapAnswerer } from '../../src/server/handler.js'
import type { StateView } from '../../src/server/stateview.js'
import type { ServeLimits } from '../../src/wire/constants.js'
import type { SnapRequest } from '../../src/wire/messages.js'

/** How long a `slow` lying server holds each reply */
export const SLOW_REPLY_MS = 2_000

/**
 * How long a `slowOnce` lying server holds its first reply: past the 15 s a syncer gives a peer it
 * has not measured yet (src/sync/peers/peertracker.ts, half of maxTimeoutMs)
 */
export const SLOW_ONCE_MS = 20_000

/** A snap server that tells one lie to every request (the handler's `answerer`, see `LIES` in `lies.ts`) */
export class LyingServer implements SnapAnswerer {
  /** `slowOnce`: the first reply was held */
  private heldOnce = false

  constructor(
    readonly lie: Lie,
    private readonly view: StateView,
    /** The state `otherRoot` answers from (read at each request: the chain may open after this) */
    private readonly otherRoot: () => Uint8Array | undefined = () => undefined,
    /** Told when `slowOnce` holds its first reply (the lying node logs it) */
    private readonly onHold: (ms: number) => void = () => {},
  ) {}

  /** The reply to send instead of the honest one; undefined: send none (`silent`) */
  async answer(req: SnapRequest, limits: ServeLimits): Promise<HandlerReply | undefined> {
    const b = this.lie
    if (b === 'silent') return undefined
    if (b === 'slow') await new Promise((r) => setTimeout(r, SLOW_REPLY_MS))
    if (b === 'slowOnce' && !this.heldOnce) {
      this.heldOnce = true
      this.onHold(SLOW_ONCE_MS)
      await new Promise((r) => setTimeout(r, SLOW_ONCE_MS))
    }
    const told = await tell(b, req, limits, {
      view: this.view,
      codes: new Map(),
      otherRoot: b === 'otherRoot' ? this.otherRoot() : undefined,
    })
    return {
      args: told.reply,
      items: { [told.kind === 'storage' ? 'slots' : told.kind]: itemCount(told) },
      bytes: replyBytes(told),
    }
  }
}

const sum = (list: Uint8Array[]) => list.reduce((n, b) => n + b.length, 0)

/** Payload bytes of a reply (keys, values, codes, nodes and proof), for the serving metrics */
function replyBytes(told: ServedReply): number {
  switch (told.kind) {
    case 'accounts':
      return told.reply.accounts.reduce((n, a) => n + a.hash.length + sum(a.body), 0) + sum(told.reply.proof)
    case 'storage':
      return told.reply.slots.flat().reduce((n, x) => n + x.hash.length + x.body.length, 0) + sum(told.reply.proof)
    case 'codes':
      return sum(told.reply.codes)
    case 'nodes':
      return sum(told.reply.nodes)
  }
}
