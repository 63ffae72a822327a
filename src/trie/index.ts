/**
 * The trie layer: range-proof verification fused with sorted-leaf trie building, the client's state
 * DB layout with batched writes, reading tries from the DB (leaves in key order, proofs, nodes by path)
 * and the completeness walker. No network here; the server, the syncer and `verify-state`
 * use it. Call `initKeccak()` once before hot use.
 */
export {
  EMPTY_CODE_HASH,
  decodeFullAccount,
  decodeSlimAccount,
  encodeFullAccount,
  encodeSlimAccount,
  hasCode,
  hasStorage,
  slimToFull,
} from './account.js'
export type { AccountBody } from './account.js'
export { TrieVerifyError } from './errors.js'
export type { TrieErrorCode } from './errors.js'
export { initKeccak, keccak256 } from './keccak.js'
export { walkLeaves } from './leafwalk.js'
export type { LeafVisitor, WalkEnd } from './leafwalk.js'
export {
  KEY_NIBBLES,
  bytesToNibbles,
  compareBytes,
  compareNibbles,
  hexToNibbles,
  nibblesToBytes,
  nibblesToHex,
} from './nibbles.js'
export { NodeDecodeError, decodeNode } from './node.js'
export type { TrieNode } from './node.js'
export { lookupKey, nodeAtPath, proveKey } from './prove.js'
export { checkKeys, verifyRange } from './rangeproof.js'
export type { NodeRecord, RangeInput, RangeVerdict } from './rangeproof.js'
export { checkBytecode, verifyAccountRange, verifyBytecodes, verifyStorageRange } from './responses.js'
export type {
  AccountRangeInput,
  AccountRangeResult,
  StorageRangeInput,
  StorageRangeResult,
  VerifiedCode,
} from './responses.js'
export { LevelStateReader, MissingNodeError, NodeCache, TrieReader, isHashRef } from './reader.js'
export type { LoadCounter, LoadedNode, StateReadStore } from './reader.js'
export { EMPTY_ROOT, ItemOrderError, StackTrieBuilder } from './stackbuilder.js'
export type { NodeSink, StackTrieOptions } from './stackbuilder.js'
export {
  LocalStateError,
  STATE_ENCODINGS,
  STORAGE_PREFIX_LENGTH,
  StateWriter,
  codeKey,
  localReads,
  nodeKey,
} from './statedb.js'
export type { StateBatchStore, StateStore, StateWriterOptions } from './statedb.js'
export { StateWalker } from './walker.js'
export type { WalkFinding, WalkOptions, WalkStats } from './walker.js'
