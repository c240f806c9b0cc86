/// <reference types="node" />
// Types of the `sop-db` package (SOP for Node.js).

/** A JSON value as SOP stores it: integers beyond ±(2^53-1) are BigInt. */
export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonValue[]
  | { [member: string]: JsonValue }

/** Bytes: a Buffer or any Uint8Array (a string is taken as its UTF-8). */
export type BytesLike = Uint8Array | string

export type TxMode = 'write' | 'read' | 'snapshot'

export interface OpenOptions {
  /** Clustered mode: processes coordinate through the Redis at this URL. */
  redis?: string
  /** This handle alone uses the folder (others get IN_USE). */
  exclusive?: boolean
  /** Open without writing anything. */
  readOnly?: boolean
  /** Create the database if the folder has none (default true). */
  create?: boolean
  /** The node cache's size in bytes. */
  cacheBytes?: number
}

export interface StoreOptions {
  /** 'json' (default) or 'bytes'. */
  type?: 'json' | 'bytes'
  /** A JSON store's object keys: "last,age:desc" or [{field, order}]. */
  keySpec?: string | Array<{ field: string; order?: 'asc' | 'desc' }>
  /** One item per key (put replaces); without it equal keys may repeat. */
  unique?: boolean
  slotLength?: number
  values?: 'auto' | 'inline' | 'separate' | 'big'
  description?: string
  cacheValues?: boolean
  leafLoadBalancing?: boolean
}

export interface TransactionOptions {
  /** How often the whole function runs again after a CONFLICT (default 10). */
  retries?: number
}

export interface PutOptions {
  /**
   * upsert (default): insert or replace; add: insert (a unique store keeps an
   * existing key); addIfAbsent: insert only if the key is absent; update:
   * replace only. `put` returns whether it did so (upsert: whether it inserted).
   */
  mode?: 'upsert' | 'add' | 'addIfAbsent' | 'update'
}

export interface RangeOptions<K> {
  gt?: K
  gte?: K
  lt?: K
  lte?: K
  /** Highest key first. */
  reverse?: boolean
  /** At most this many items. */
  limit?: number
}

/** Iterates [key, value] pairs; `return()`/`close()` releases the cursor. */
export class RangeIterator<K, V> implements IterableIterator<[K, V]> {
  next(): IteratorResult<[K, V]>
  return(value?: unknown): IteratorResult<[K, V]>
  [Symbol.iterator](): RangeIterator<K, V>
  close(): void
  readonly closed: boolean
}

/** As RangeIterator; each batch is read on the thread pool. */
export class AsyncRangeIterator<K, V> implements AsyncIterableIterator<[K, V]> {
  next(): Promise<IteratorResult<[K, V]>>
  return(value?: unknown): Promise<IteratorResult<[K, V]>>
  [Symbol.asyncIterator](): AsyncRangeIterator<K, V>
  close(): void
  readonly closed: boolean
}

interface StoreMethods<K, V, KIn, VIn> {
  get(key: KIn): V | undefined
  getAsync(key: KIn): Promise<V | undefined>
  has(key: KIn): boolean
  hasAsync(key: KIn): Promise<boolean>
  put(key: KIn, value: VIn, options?: PutOptions): boolean
  putAsync(key: KIn, value: VIn, options?: PutOptions): Promise<boolean>
  add(key: KIn, value: VIn): boolean
  update(key: KIn, value: VIn): boolean
  /** Put many items in one call; returns how many puts did what the mode asks. */
  putMany(items: Iterable<[KIn, VIn]>, options?: PutOptions): number
  putManyAsync(items: Iterable<[KIn, VIn]>, options?: PutOptions): Promise<number>
  delete(key: KIn): boolean
  deleteAsync(key: KIn): Promise<boolean>
  count(): number
  countAsync(): Promise<number>
  range(options?: RangeOptions<KIn>): RangeIterator<K, V>
  rangeAsync(options?: RangeOptions<KIn>): AsyncRangeIterator<K, V>
  [Symbol.iterator](): RangeIterator<K, V>
  /** Release the store early (its transaction's end releases it anyway). */
  close(): void
}

export class JsonStore<V extends JsonValue = JsonValue, K extends JsonValue = JsonValue>
  implements StoreMethods<K, V, K, V>
{
  private constructor()
  get(key: K): V | undefined
  getAsync(key: K): Promise<V | undefined>
  getMany(keys: Iterable<K>): Array<V | undefined>
  getManyAsync(keys: Iterable<K>): Promise<Array<V | undefined>>
  has(key: K): boolean
  hasAsync(key: K): Promise<boolean>
  put(key: K, value: V, options?: PutOptions): boolean
  putAsync(key: K, value: V, options?: PutOptions): Promise<boolean>
  add(key: K, value: V): boolean
  update(key: K, value: V): boolean
  putMany(items: Iterable<[K, V]>, options?: PutOptions): number
  putManyAsync(items: Iterable<[K, V]>, options?: PutOptions): Promise<number>
  delete(key: K): boolean
  deleteAsync(key: K): Promise<boolean>
  count(): number
  countAsync(): Promise<number>
  range(options?: RangeOptions<K>): RangeIterator<K, V>
  rangeAsync(options?: RangeOptions<K>): AsyncRangeIterator<K, V>
  [Symbol.iterator](): RangeIterator<K, V>
  close(): void
}

export class BytesStore implements StoreMethods<Buffer, Buffer, BytesLike, BytesLike> {
  private constructor()
  get(key: BytesLike): Buffer | undefined
  getAsync(key: BytesLike): Promise<Buffer | undefined>
  has(key: BytesLike): boolean
  hasAsync(key: BytesLike): Promise<boolean>
  put(key: BytesLike, value: BytesLike, options?: PutOptions): boolean
  putAsync(key: BytesLike, value: BytesLike, options?: PutOptions): Promise<boolean>
  add(key: BytesLike, value: BytesLike): boolean
  update(key: BytesLike, value: BytesLike): boolean
  putMany(items: Iterable<[BytesLike, BytesLike]>, options?: PutOptions): number
  putManyAsync(items: Iterable<[BytesLike, BytesLike]>, options?: PutOptions): Promise<number>
  delete(key: BytesLike): boolean
  deleteAsync(key: BytesLike): Promise<boolean>
  count(): number
  countAsync(): Promise<number>
  range(options?: RangeOptions<BytesLike>): RangeIterator<Buffer, Buffer>
  rangeAsync(options?: RangeOptions<BytesLike>): AsyncRangeIterator<Buffer, Buffer>
  [Symbol.iterator](): RangeIterator<Buffer, Buffer>
  close(): void
}

export type Store = JsonStore | BytesStore

export class Transaction {
  private constructor()
  readonly mode: TxMode
  /** 32 hex digits. */
  readonly id: string
  readonly snapshotSeq: number
  readonly ended: boolean
  openStore(name: string): Store
  createStore(name: string, options?: StoreOptions & { type?: 'json' }): JsonStore
  createStore(name: string, options: StoreOptions & { type: 'bytes' }): BytesStore
  /** Open the store, or create it (with `options`) if it does not exist. */
  store(name: string, options?: StoreOptions & { type?: 'json' }): JsonStore
  store(name: string, options: StoreOptions & { type: 'bytes' }): BytesStore
  listStores(): string[]
  dropStore(name: string): void
  commit(): void
  commitAsync(): Promise<void>
  rollback(): void
}

export class Database {
  private constructor()
  static open(path: string, options?: OpenOptions): Database
  static openAsync(path: string, options?: OpenOptions): Promise<Database>
  readonly path: string
  readonly closed: boolean
  begin(mode?: TxMode): Transaction
  beginAsync(mode?: TxMode): Promise<Transaction>
  /** Commit when `fn` returns, roll back when it throws; run it again on CONFLICT. */
  transaction<T>(mode: TxMode, fn: (tx: Transaction) => T, options?: TransactionOptions): T
  transaction<T>(fn: (tx: Transaction) => T, options?: TransactionOptions): T
  transactionAsync<T>(mode: TxMode, fn: (tx: Transaction) => T | Promise<T>, options?: TransactionOptions): Promise<T>
  transactionAsync<T>(fn: (tx: Transaction) => T | Promise<T>, options?: TransactionOptions): Promise<T>
  /** After OUTCOME_UNKNOWN: whether the transaction's commit is durable. */
  commitOutcome(tx: Transaction): boolean
  close(): void
}

export function open(path: string, options?: OpenOptions): Database
export function openAsync(path: string, options?: OpenOptions): Promise<Database>
export const version: string

export type ErrorCode =
  | 'CONFLICT'
  | 'OUTCOME_UNKNOWN'
  | 'POISONED'
  | 'FENCED'
  | 'CORRUPT'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'IN_USE'
  | 'DISK_FULL'
  | 'IO'
  | 'UNAVAILABLE'
  | 'UNSUPPORTED'
  | 'OTHER'
  | 'TX_ENDED'
  | 'CLOSED'
export const codes: ErrorCode[]

export class SopError extends Error {
  readonly code: ErrorCode
}
export class ConflictError extends SopError {}
export class OutcomeUnknownError extends SopError {}
export class PoisonedError extends SopError {}
export class FencedError extends SopError {}
export class CorruptError extends SopError {}
export class InvalidInputError extends SopError {}
export class NotFoundError extends SopError {}
export class AlreadyExistsError extends SopError {}
export class InUseError extends SopError {}
export class DiskFullError extends SopError {}
export class IoError extends SopError {}
export class UnavailableError extends SopError {}
export class UnsupportedError extends SopError {}
export class OtherError extends SopError {}
export class TxEndedError extends SopError {}
export class ClosedError extends SopError {}
