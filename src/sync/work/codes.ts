/**
 * Bytecodes (snap.md §GetByteCodes): hashes deduplicated by the code queue, each code checked by
 * its hash; a server may leave some out (they are asked again), never add or reorder.
 */
import { verifyBytecodes } from '../../trie/index.js'
import { byteLength, checkReplySize, PeerFault, RootUnavailable } from '../peers/faults.js'

import type { SnapPeer } from '../peers/snappeer.js'
import type { Applied, SyncContext, WorkKind } from './kind.js'
import type { ByteCodesReply } from '../../wire/messages.js'

/** See the module comment */
export class ByteCodes implements WorkKind<Uint8Array[], ByteCodesReply> {
  readonly kind = 'codes'
  readonly byHash = true

  constructor(private readonly ctx: SyncContext) {}

  pick(items: number): Uint8Array[] | undefined {
    const hashes = this.ctx.codes.take(items)
    return hashes.length === 0 ? undefined : hashes
  }

  fetch(peer: SnapPeer, hashes: Uint8Array[], timeoutMs: number, bytes: number): Promise<ByteCodesReply> {
    return peer.getByteCodes({ hashes, bytes: BigInt(bytes) }, timeoutMs)
  }

  verify(hashes: Uint8Array[], reply: ByteCodesReply): void {
    this.verified(hashes, reply)
  }

  async apply(hashes: Uint8Array[], reply: ByteCodesReply): Promise<Applied> {
    const { bytes, verified } = this.verified(hashes, reply)
    for (const { hash, code } of verified) {
      this.ctx.writer.putCode(hash, code)
      this.ctx.codes.stored(hash)
    }
    this.ctx.counters.codes += verified.length
    // Left out by the server: asked again
    this.ctx.codes.requeue(hashes)
    return { items: verified.length, bytes }
  }

  requeue(hashes: Uint8Array[]): void {
    this.ctx.codes.requeue(hashes)
  }

  private verified(hashes: Uint8Array[], reply: ByteCodesReply) {
    if (reply.codes.length === 0) throw new RootUnavailable('empty bytecodes')
    if (reply.codes.length > hashes.length)
      throw new PeerFault('oversized', `${reply.codes.length} codes for ${hashes.length} hashes`)
    const bytes = byteLength(reply.codes)
    checkReplySize(bytes, this.ctx.requestBytes, 'ByteCodes')
    return { bytes, verified: verifyBytecodes(hashes, reply.codes) }
  }
}
