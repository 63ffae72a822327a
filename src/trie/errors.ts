/**
 * Errors of the trie layer. Each failure kind has its own code, so that the syncer can tell which peer
 * lied and how (and a test can assert the exact kind).
 */

/** Why a range, account body or bytecode response was rejected. */
export type TrieErrorCode =
  /** keys and values differ in count */
  | 'LENGTH_MISMATCH'
  /** a key is not 32 bytes */
  | 'BAD_KEY_LENGTH'
  /** keys not strictly increasing */
  | 'KEYS_UNSORTED'
  /** the same key twice */
  | 'DUPLICATE_KEY'
  /** a key before the origin, or a key after the limit that is not the last one */
  | 'KEY_OUT_OF_RANGE'
  /** an empty value (the trie never stores one) or a storage value that is not a canonical RLP string */
  | 'BAD_VALUE'
  /** a slim account body that does not decode */
  | 'BAD_ACCOUNT'
  /** a node the verification needs is not in the proof (this includes a proof for another root) */
  | 'PROOF_MISSING_NODE'
  /** the proof holds a node that neither edge path uses */
  | 'PROOF_EXTRA_NODE'
  /** a proof node that does not decode as a trie node */
  | 'PROOF_BAD_NODE'
  /** the proof's edge paths and the keys overlap: no trie can have both */
  | 'PROOF_INCONSISTENT'
  /** the keys, values and proof hash to another root */
  | 'ROOT_MISMATCH'
  /** an empty response whose proof shows keys at or after the origin */
  | 'HIDDEN_KEYS'
  /** an empty response without a proof for a non-empty trie (the peer lacks that state) */
  | 'EMPTY_RESPONSE'
  /** keccak(code) differs from the code hash */
  | 'BYTECODE_MISMATCH'
  /** a bytecode that was not requested (or not in request order) */
  | 'BYTECODE_UNREQUESTED'

/** A rejected response, with a code per failure kind and, where it helps, the offending index. */
export class TrieVerifyError extends Error {
  override name = 'TrieVerifyError'
  readonly code: TrieErrorCode
  /** Index of the key, value or code at fault, when there is one. */
  readonly index: number | undefined

  constructor(code: TrieErrorCode, message: string, index?: number) {
    super(`${code}: ${message}`)
    this.code = code
    this.index = index
  }
}
