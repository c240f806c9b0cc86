'use strict'
// Iterators over a store's range. Items come from Rust in batches (16 first,
// growing to 1024); the native range is released when the iterator is done,
// when `return()` is called (a `for...of` left by break or throw), or by `close()`.
const { call, callAsync } = require('./errors')
const { decode } = require('./json')

const FIRST = 16
const MOST = 1024

function unpack(batch, json) {
  if (json) return decode(batch)
  const items = []
  for (let i = 0; i < batch.length; i += 2) items.push([batch[i], batch[i + 1]])
  return items
}

class Base {
  _r
  _json
  _left
  _buf = []
  _i = 0
  _size = FIRST
  _last = false
  constructor(native, json, limit) {
    this._r = native
    this._json = json
    this._left = limit
    if (limit === 0) this.close()
  }
  get closed() {
    return this._r === null
  }
  _want() {
    const n = Math.min(this._size, this._left)
    this._size = Math.min(this._size * 4, MOST)
    return n
  }
  _took(items, n) {
    this._buf = items
    this._i = 0
    if (items.length < n) this._last = true
    if (this._last && this._r) this._release()
  }
  _release() {
    const r = this._r
    this._r = null
    r.close()
  }
  _step() {
    if (this._i < this._buf.length && this._left > 0) {
      this._left--
      const v = this._buf[this._i]
      this._buf[this._i++] = undefined
      if (this._left === 0) this.close()
      return { done: false, value: v }
    }
    return null
  }
  /** Release the range now (further calls of next() say done). */
  close() {
    this._last = true
    this._left = 0
    this._buf = []
    if (this._r) this._release()
  }
}

/** An iterator of [key, value] pairs. */
class RangeIterator extends Base {
  next() {
    const s = this._step()
    if (s) return s
    if (this._last || !this._r) return { done: true, value: undefined }
    const n = this._want()
    const r = this._r
    const batch = call(() => (this._json ? r.nextJson(n) : r.nextBytes(n)))
    this._took(unpack(batch, this._json), n)
    return this._step() || { done: true, value: undefined }
  }
  return(value) {
    this.close()
    return { done: true, value }
  }
  [Symbol.iterator]() {
    return this
  }
}

/** An async iterator of [key, value] pairs; each batch is read on the thread pool. */
class AsyncRangeIterator extends Base {
  async next() {
    const s = this._step()
    if (s) return s
    if (this._last || !this._r) return { done: true, value: undefined }
    const n = this._want()
    const r = this._r
    const batch = await callAsync(this._json ? r.nextJsonAsync(n) : r.nextBytesAsync(n))
    this._took(unpack(batch, this._json), n)
    return this._step() || { done: true, value: undefined }
  }
  async return(value) {
    this.close()
    return { done: true, value }
  }
  [Symbol.asyncIterator]() {
    return this
  }
}

module.exports = { RangeIterator, AsyncRangeIterator }
