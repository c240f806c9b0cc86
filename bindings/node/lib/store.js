'use strict'
// JsonStore and BytesStore: the items of a store, seen through a transaction.
const { call, callAsync, sopError } = require('./errors')
const { encode, encodePairs, decode } = require('./json')
const { RangeIterator, AsyncRangeIterator } = require('./range')

const MODES = { upsert: 0, add: 1, addIfAbsent: 2, update: 3 }

function modeOf(options) {
  const m = options && options.mode !== undefined ? options.mode : 'upsert'
  if (!(m in MODES)) throw sopError('INVALID_INPUT', `unknown put mode ${JSON.stringify(m)}`)
  return MODES[m]
}

function pairs(items) {
  if (items instanceof Map) return [...items]
  return Array.isArray(items) ? items : [...items]
}

const RANGE_KEYS = new Set(['gt', 'gte', 'lt', 'lte', 'reverse', 'limit'])

/** The native range's arguments for {gt, gte, lt, lte, reverse, limit}. */
function rangeArgs(options, toBound) {
  const o = options || {}
  for (const k of Object.keys(o)) {
    if (!RANGE_KEYS.has(k)) throw sopError('INVALID_INPUT', `unknown range option ${JSON.stringify(k)}`)
  }
  if (o.gt !== undefined && o.gte !== undefined) throw sopError('INVALID_INPUT', 'range: both gt and gte')
  if (o.lt !== undefined && o.lte !== undefined) throw sopError('INVALID_INPUT', 'range: both lt and lte')
  const lo = o.gt !== undefined ? o.gt : o.gte
  const hi = o.lt !== undefined ? o.lt : o.lte
  return [
    lo === undefined ? null : toBound(lo),
    o.gt !== undefined,
    hi === undefined ? null : toBound(hi),
    o.lt !== undefined,
    !!o.reverse,
  ]
}

function limitOf(options) {
  const l = options && options.limit
  if (l === undefined || l === null) return Infinity
  if (!Number.isInteger(l) || l < 0) throw sopError('INVALID_INPUT', 'range: limit is not a count')
  return l
}

const orUndefined = (x) => (x === null || x === undefined ? undefined : x)

/** A store whose keys and values are JSON values (objects, arrays, strings, numbers, BigInt, ...). */
class JsonStore {
  #n
  constructor(native) {
    this.#n = native
  }
  get(key) {
    const t = call(() => this.#n.jget(encode(key)))
    return t == null ? undefined : decode(t)
  }
  async getAsync(key) {
    const t = await callAsync(this.#n.jgetAsync(encode(key)))
    return t == null ? undefined : decode(t)
  }
  getMany(keys) {
    return call(() => this.#n.jgetMany(encode([...keys]))).map((t) => (t == null ? undefined : decode(t)))
  }
  async getManyAsync(keys) {
    const ts = await callAsync(this.#n.jgetManyAsync(encode([...keys])))
    return ts.map((t) => (t == null ? undefined : decode(t)))
  }
  has(key) {
    return call(() => this.#n.jhas(encode(key)))
  }
  hasAsync(key) {
    return callAsync(this.#n.jhasAsync(encode(key)))
  }
  put(key, value, options) {
    return call(() => this.#n.jput(encode(key), encode(value), modeOf(options)))
  }
  putAsync(key, value, options) {
    return callAsync(this.#n.jputAsync(encode(key), encode(value), modeOf(options)))
  }
  add(key, value) {
    return this.put(key, value, { mode: 'add' })
  }
  update(key, value) {
    return this.put(key, value, { mode: 'update' })
  }
  #many(items) {
    return encodePairs(pairs(items))
  }
  putMany(items, options) {
    const text = this.#many(items)
    return call(() => this.#n.jputMany(text, modeOf(options)))
  }
  putManyAsync(items, options) {
    return callAsync(this.#n.jputManyAsync(this.#many(items), modeOf(options)))
  }
  delete(key) {
    return call(() => this.#n.jdelete(encode(key)))
  }
  deleteAsync(key) {
    return callAsync(this.#n.jdeleteAsync(encode(key)))
  }
  count() {
    return call(() => this.#n.count())
  }
  countAsync() {
    return callAsync(this.#n.countAsync())
  }
  range(options) {
    const args = rangeArgs(options, (k) => Buffer.from(encode(k)))
    const r = call(() => this.#n.range(...args))
    return new RangeIterator(r, true, limitOf(options))
  }
  rangeAsync(options) {
    const args = rangeArgs(options, (k) => Buffer.from(encode(k)))
    const r = call(() => this.#n.range(...args))
    return new AsyncRangeIterator(r, true, limitOf(options))
  }
  [Symbol.iterator]() {
    return this.range()
  }
  close() {
    this.#n.close()
  }
}

function bytes(x, what) {
  if (x instanceof Uint8Array) return x
  if (typeof x === 'string') return Buffer.from(x)
  throw sopError('INVALID_INPUT', `a byte store's ${what} is a Buffer, a Uint8Array or a string`)
}

/** A store whose keys and values are bytes (keys ordered bytewise). */
class BytesStore {
  #n
  constructor(native) {
    this.#n = native
  }
  get(key) {
    return orUndefined(call(() => this.#n.bget(bytes(key, 'key'))))
  }
  async getAsync(key) {
    return orUndefined(await callAsync(this.#n.bgetAsync(bytes(key, 'key'))))
  }
  has(key) {
    return call(() => this.#n.bhas(bytes(key, 'key')))
  }
  hasAsync(key) {
    return callAsync(this.#n.bhasAsync(bytes(key, 'key')))
  }
  put(key, value, options) {
    return call(() => this.#n.bput(bytes(key, 'key'), bytes(value, 'value'), modeOf(options)))
  }
  putAsync(key, value, options) {
    return callAsync(this.#n.bputAsync(bytes(key, 'key'), bytes(value, 'value'), modeOf(options)))
  }
  add(key, value) {
    return this.put(key, value, { mode: 'add' })
  }
  update(key, value) {
    return this.put(key, value, { mode: 'update' })
  }
  #pack(items) {
    const ks = []
    const vs = []
    for (const [k, v] of pairs(items)) {
      ks.push(bytes(k, 'key'))
      vs.push(bytes(v, 'value'))
    }
    return [Buffer.concat(ks), ks.map((k) => k.length), Buffer.concat(vs), vs.map((v) => v.length)]
  }
  putMany(items, options) {
    const p = this.#pack(items)
    return call(() => this.#n.bputMany(...p, modeOf(options)))
  }
  putManyAsync(items, options) {
    return callAsync(this.#n.bputManyAsync(...this.#pack(items), modeOf(options)))
  }
  delete(key) {
    return call(() => this.#n.bdelete(bytes(key, 'key')))
  }
  deleteAsync(key) {
    return callAsync(this.#n.bdeleteAsync(bytes(key, 'key')))
  }
  count() {
    return call(() => this.#n.count())
  }
  countAsync() {
    return callAsync(this.#n.countAsync())
  }
  range(options) {
    const r = call(() => this.#n.range(...rangeArgs(options, (k) => bytes(k, 'bound'))))
    return new RangeIterator(r, false, limitOf(options))
  }
  rangeAsync(options) {
    const r = call(() => this.#n.range(...rangeArgs(options, (k) => bytes(k, 'bound'))))
    return new AsyncRangeIterator(r, false, limitOf(options))
  }
  [Symbol.iterator]() {
    return this.range()
  }
  close() {
    this.#n.close()
  }
}

module.exports = { JsonStore, BytesStore }
