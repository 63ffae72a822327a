/**
 * `RocksLevel`: a RocksDB database that the client and this package use exactly like the client's own
 * `Level` (level 9): a missing key reads as `undefined`, every encoding, ranges, sublevels, deferred open.
 *
 * The maintained RocksDB binding, `@nxtedition/rocksdb`, implements abstract-level 1, whose public API
 * differs from the one the client was written against (a missing key throws `LEVEL_NOT_FOUND`, callbacks,
 * older events). So this class extends the client's `AbstractLevel` (abstract-level 3) and implements only
 * its private methods by delegating to the binding in the binding's two native formats (`buffer`, `utf8`).
 * Everything public (encodings, range options, limits, sublevels, hooks, status, deferred open) is then
 * abstract-level 3's own code, as for `Level`.
 */
import { AbstractIterator, AbstractLevel } from 'abstract-level'
import { RocksLevel as NativeRocksLevel } from '@nxtedition/rocksdb'

import type { Iterator as NativeIterator } from '@nxtedition/rocksdb'
import type { AbstractDatabaseOptions, AbstractIteratorOptions } from 'abstract-level'

/** Keys and values as the private API passes them: encoded to one of the formats the manifest declares */
type NativeData = Buffer | string
type NativeFormat = 'buffer' | 'utf8'

interface Encodings {
  keyEncoding: NativeFormat
  valueEncoding: NativeFormat
}

/** What abstract-level 3 passes to `_batch`: encodings per operation, already normalised */
interface PrivateOperation {
  type: 'put' | 'del'
  key: NativeData
  value?: NativeData
  keyEncoding: NativeFormat
  valueEncoding?: NativeFormat
}

/** Range options of `_iterator` and `_clear`, keys encoded */
interface PrivateRange {
  gt?: NativeData
  gte?: NativeData
  lt?: NativeData
  lte?: NativeData
  reverse: boolean
  limit: number
  keyEncoding: NativeFormat
}

type PrivateIteratorOptions = PrivateRange & { keys: boolean; values: boolean; valueEncoding: NativeFormat }

/**
 * The range options the binding takes; the private options also carry abstract-level 3's own fields
 * (transcoders under symbols, `signal`, `snapshot`), which are not the binding's business
 */
function nativeRange(options: PrivateRange): PrivateRange {
  const range: PrivateRange = { reverse: options.reverse, limit: options.limit, keyEncoding: options.keyEncoding }
  for (const name of ['gt', 'gte', 'lt', 'lte'] as const) {
    if (options[name] !== undefined) range[name] = options[name]
  }
  return range
}

/** An abstract-level 3 iterator over a binding iterator, created when the database is open */
class RocksIterator<K, V> extends AbstractIterator<RocksLevel<K, V>, K, V> {
  readonly #native: NativeIterator

  constructor(db: RocksLevel<K, V>, options: AbstractIteratorOptions<K, V>, native: NativeIterator) {
    super(db, options)
    this.#native = native
  }

  async _next(): Promise<[NativeData | undefined, NativeData | undefined] | undefined> {
    return await this.#native.next()
  }

  async _nextv(size: number): Promise<[NativeData | undefined, NativeData | undefined][]> {
    return await this.#native.nextv(size)
  }

  _seek(target: NativeData, options: { keyEncoding: NativeFormat }): void {
    this.#native.seek(target, { keyEncoding: options.keyEncoding })
  }

  async _close(): Promise<void> {
    await this.#native.close()
  }
}

/**
 * A RocksDB database at `location` with the public API of the client's `Level`. Options as `Level`'s
 * (`keyEncoding`, `valueEncoding`, `createIfMissing`, `errorIfExists`).
 */
export class RocksLevel<K = string, V = string> extends AbstractLevel<string | Uint8Array, K, V> {
  readonly location: string
  /**
   * The binding's database while open, made by each `_open`: an abstract-level 1 database opens itself a
   * tick after it is constructed, which would race this one's own (deferred) open
   */
  #native: NativeRocksLevel | undefined

  constructor(location: string, options?: AbstractDatabaseOptions<K, V>) {
    super(
      {
        // What the binding stores natively; abstract-level transcodes view, json, hex, ... to these
        encodings: { buffer: true, utf8: true },
        seek: true,
        createIfMissing: true,
        errorIfExists: true,
        // A binding read runs later on a thread, so it may see a write made after it was called
        implicitSnapshots: false,
        permanence: true,
      },
      options,
    )
    this.location = location
  }

  private get native(): NativeRocksLevel {
    // abstract-level calls the private methods only while open
    if (this.#native === undefined) throw new Error(`RocksDB database ${this.location} is not open`)
    return this.#native
  }

  async _open(options: { createIfMissing: boolean; errorIfExists: boolean }): Promise<void> {
    const native = new NativeRocksLevel(this.location)
    try {
      await native.open({ createIfMissing: options.createIfMissing, errorIfExists: options.errorIfExists })
    } catch (err) {
      // abstract-level wraps this in its own 'Database failed to open' error: give it the binding's cause
      // (LEVEL_LOCKED when another process holds the DB, as classic-level does)
      throw (err as { cause?: Error }).cause ?? err
    }
    this.#native = native
  }

  async _close(): Promise<void> {
    const native = this.#native
    this.#native = undefined
    await native?.close()
  }

  async _get(key: NativeData, options: Encodings): Promise<NativeData | undefined> {
    // getMany, because the binding's get throws for a missing key
    const [value] = await this.native.getMany([key], options)
    return value
  }

  async _getMany(keys: NativeData[], options: Encodings): Promise<(NativeData | undefined)[]> {
    return await this.native.getMany(keys, options)
  }

  async _put(key: NativeData, value: NativeData, options: Encodings): Promise<void> {
    await this.native.put(key, value, options)
  }

  async _del(key: NativeData, options: { keyEncoding: NativeFormat }): Promise<void> {
    await this.native.del(key, { keyEncoding: options.keyEncoding })
  }

  async _batch(operations: PrivateOperation[]): Promise<void> {
    // Through the binding's chained batch, never its array batch: in @nxtedition/rocksdb 12.2 the array
    // batch writes through a chained batch that it never closes, so the database keeps every such batch
    // (its native WriteBatch: all its keys and values) until it is closed, ~2 MB per 10k-key batch
    // (test/db/rockslevel.spec.ts). A chained batch closes itself after write() and is collected.
    const batch = this.native.batch()
    for (const op of operations) {
      if (op.type === 'put')
        batch.put(op.key, op.value!, { keyEncoding: op.keyEncoding, valueEncoding: op.valueEncoding! })
      else batch.del(op.key, { keyEncoding: op.keyEncoding })
    }
    await batch.write()
  }

  async _clear(options: PrivateRange): Promise<void> {
    await this.native.clear(nativeRange(options))
  }

  _iterator(options: PrivateIteratorOptions): RocksIterator<K, V> {
    const native = this.native.iterator({
      ...nativeRange(options),
      keys: options.keys,
      values: options.values,
      valueEncoding: options.valueEncoding,
    })
    return new RocksIterator(this, options as unknown as AbstractIteratorOptions<K, V>, native)
  }
}
