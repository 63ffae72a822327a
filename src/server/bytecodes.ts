/**
 * GetByteCodes (snap.md §GetByteCodes 0x04, §ByteCodes 0x05).
 */
import { KECCAK256_NULL, equalsBytes } from '@ethereumjs/util'

import { softLimit } from './common.js'

import type { Budget } from './budget.js'
import type { StateView } from './stateview.js'
import type { ServeLimits } from '../wire/constants.js'
import type { ByteCodesReply, GetByteCodesRequest } from '../wire/messages.js'

/** Codes read per DB batch: large enough to amortise a read, small enough to stop near the limit */
const READ_BATCH = 32

/**
 * Codes in request order, unknown ones skipped without placeholders, until the byte limit or
 * the budget; at most `maxCodeLookups` hashes are looked at. The empty code is answered
 * without a read (geth does the same; peers should not ask for it).
 */
export async function serveByteCodes(
  view: StateView,
  req: GetByteCodesRequest,
  limits: ServeLimits,
  budget: Budget,
): Promise<ByteCodesReply> {
  const maxBytes = softLimit(req.bytes, limits.maxResponseBytes)
  const hashes = req.hashes.slice(0, limits.maxCodeLookups)
  const codes: Uint8Array[] = []
  let bytes = 0
  for (let start = 0; start < hashes.length; start += READ_BATCH) {
    if (codes.length > 0 && budget.exhausted()) break
    const batch = hashes.slice(start, start + READ_BATCH)
    const found = await view.getCodes(batch, budget)
    for (let i = 0; i < batch.length; i++) {
      if (equalsBytes(batch[i], KECCAK256_NULL)) {
        codes.push(new Uint8Array())
      } else {
        const code = found[i]
        if (code === undefined || code.length === 0) continue
        codes.push(code)
        bytes += code.length
      }
      if (bytes > maxBytes) return { codes }
    }
  }
  return { codes }
}
