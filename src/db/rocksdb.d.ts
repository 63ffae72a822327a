/**
 * Types of the part of `@nxtedition/rocksdb` 12 that `RocksLevel` uses. The package is CommonJS, ships no
 * types, and implements abstract-level 1: promises when no callback is given, a missing key throws from
 * `get` (so `RocksLevel` reads with `getMany`, which answers `undefined`). Keys and values cross it in the
 * two formats it stores natively, `buffer` and `utf8`.
 */
declare module '@nxtedition/rocksdb' {
  type NativeFormat = 'buffer' | 'utf8'
  type NativeData = Buffer | string

  interface NativeRange {
    gt?: NativeData
    gte?: NativeData
    lt?: NativeData
    lte?: NativeData
    reverse?: boolean
    limit?: number
    keyEncoding?: NativeFormat
  }

  interface NativeIteratorOptions extends NativeRange {
    keys?: boolean
    values?: boolean
    valueEncoding?: NativeFormat
  }

  /** abstract-level 1 chained batch: closes itself (and lets go of its native WriteBatch) after write() */
  export class ChainedBatch {
    put(key: NativeData, value: NativeData, options: { keyEncoding: NativeFormat; valueEncoding: NativeFormat }): this
    del(key: NativeData, options: { keyEncoding: NativeFormat }): this
    write(): Promise<void>
  }

  export class Iterator {
    next(): Promise<[NativeData | undefined, NativeData | undefined] | undefined>
    nextv(size: number, options?: object): Promise<[NativeData | undefined, NativeData | undefined][]>
    seek(target: NativeData, options?: { keyEncoding?: NativeFormat }): void
    close(): Promise<void>
  }

  /** abstract-level 1 database over RocksDB */
  export class RocksLevel {
    constructor(location: string)
    readonly status: 'opening' | 'open' | 'closing' | 'closed'
    open(options: { createIfMissing: boolean; errorIfExists: boolean; passive?: boolean }): Promise<void>
    close(): Promise<void>
    getMany(
      keys: NativeData[],
      options: { keyEncoding: NativeFormat; valueEncoding: NativeFormat },
    ): Promise<(NativeData | undefined)[]>
    put(
      key: NativeData,
      value: NativeData,
      options: { keyEncoding: NativeFormat; valueEncoding: NativeFormat },
    ): Promise<void>
    del(key: NativeData, options: { keyEncoding: NativeFormat }): Promise<void>
    batch(): ChainedBatch
    clear(options: NativeRange): Promise<void>
    iterator(options: NativeIteratorOptions): Iterator
  }
}
