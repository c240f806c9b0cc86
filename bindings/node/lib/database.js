'use strict'
// Database: open, transactions (with retries on conflict), close.
const native = require('../native.js')
const { call, callAsync, sopError } = require('./errors')
const { Transaction } = require('./transaction')

const OPEN_OPTIONS = new Set(['redis', 'exclusive', 'readOnly', 'create', 'cacheBytes'])

function openArgs(options) {
  const o = options || {}
  for (const k of Object.keys(o)) {
    if (!OPEN_OPTIONS.has(k)) throw sopError('INVALID_INPUT', `unknown open option ${JSON.stringify(k)}`)
  }
  return o
}

const isThenable = (x) => x !== null && (typeof x === 'object' || typeof x === 'function') && typeof x.then === 'function'

// Conflict backoff: 1, 2, 4, ... 64 ms, with jitter.
const backoffMs = (attempt) => Math.random() * Math.min(64, 2 ** attempt) + 1
const sleepCell = new Int32Array(new SharedArrayBuffer(4))
const sleepSync = (ms) => Atomics.wait(sleepCell, 0, 0, ms)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const DEFAULT_RETRIES = 10

/** The (mode, fn, options) of transaction(mode?, fn, options?). */
function txArgs(mode, fn, options) {
  if (typeof mode === 'function') [mode, fn, options] = ['write', mode, fn]
  if (typeof fn !== 'function') throw new TypeError('transaction: a function is required')
  const retries = options && options.retries !== undefined ? options.retries : DEFAULT_RETRIES
  if (!Number.isInteger(retries) || retries < 0) throw new TypeError('transaction: retries is a count')
  return [mode, fn, retries]
}

/** An open database. */
class Database {
  #n
  constructor(n) {
    this.#n = n
  }
  /** Open (or create) the database in folder `path`. */
  static open(path, options) {
    return new Database(call(() => native.openDb(path, openArgs(options))))
  }
  /** Open on the thread pool. */
  static async openAsync(path, options) {
    return new Database(await callAsync(native.openDbAsync(path, openArgs(options))))
  }
  get path() {
    return call(() => this.#n.path)
  }
  get closed() {
    return this.#n.closed
  }
  /** Begin a transaction ("write" by default); commit or roll it back yourself. */
  begin(mode = 'write') {
    return new Transaction(call(() => this.#n.begin(mode)))
  }
  /** Begin on the thread pool. */
  async beginAsync(mode = 'write') {
    return new Transaction(await callAsync(this.#n.beginAsync(mode)))
  }

  /**
   * Run `fn(tx)` in a transaction: commit when it returns (its result is
   * returned), roll back when it throws. On a conflict (code CONFLICT) the
   * whole of `fn` runs again, up to `retries` times (default 10).
   */
  transaction(mode, fn, options) {
    const [m, f, retries] = txArgs(mode, fn, options)
    for (let attempt = 0; ; attempt++) {
      const tx = this.begin(m)
      try {
        const result = f(tx)
        if (isThenable(result)) {
          throw new TypeError('db.transaction: the function returned a Promise; use db.transactionAsync')
        }
        if (!tx.ended) tx.commit()
        return result
      } catch (e) {
        if (!tx.ended) tx.rollback()
        if (e && e.code === 'CONFLICT' && attempt < retries) {
          sleepSync(backoffMs(attempt))
          continue
        }
        throw e
      }
    }
  }

  /**
   * As `transaction`, but `fn` may be async, and beginning and committing run
   * on the thread pool: the event loop stays free while the engine works.
   */
  async transactionAsync(mode, fn, options) {
    const [m, f, retries] = txArgs(mode, fn, options)
    for (let attempt = 0; ; attempt++) {
      const tx = await this.beginAsync(m)
      try {
        const result = await f(tx)
        if (!tx.ended) await tx.commitAsync()
        return result
      } catch (e) {
        if (!tx.ended) tx.rollback()
        if (e && e.code === 'CONFLICT' && attempt < retries) {
          await sleep(backoffMs(attempt))
          continue
        }
        throw e
      }
    }
  }

  /** After OUTCOME_UNKNOWN: whether `tx`'s commit is durable. */
  commitOutcome(tx) {
    return call(() => this.#n.commitOutcome(tx.id, tx.snapshotSeq))
  }

  /**
   * Roll back the transactions still open, close the database, and report
   * what closing did not finish. Closing twice does nothing.
   */
  close() {
    call(() => this.#n.close())
  }
}

module.exports = { Database }
