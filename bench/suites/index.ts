/**
 * The benchmark suites by name. A suite returns named figures; speeds are stated beside
 * something measured in the same run so that ratios, not absolute numbers, carry the result.
 */
import { dbSuite } from './db.js'
import { hashSuite } from './hash.js'
import { serveSuite } from './serve.js'
import { serveLoadSuite } from './serveload.js'
import { syncSuite } from './sync.js'
import { trieSuite } from './trie.js'

/** A suite; `out` is where the JSON goes (a suite may write a chart beside it) */
export type Suite = (opts: { out?: string }) => Promise<{ [name: string]: number }>

export const suites: { [name: string]: Suite } = {
  db: dbSuite,
  hash: hashSuite,
  serve: serveSuite,
  serveload: serveLoadSuite,
  sync: syncSuite,
  trie: trieSuite,
}
