'use strict'
// SOP for Node.js. See index.d.ts for the API, and docs/BINDINGS.md.
const native = require('./native.js')
const errors = require('./lib/errors')
const { Database } = require('./lib/database')
const { Transaction } = require('./lib/transaction')
const { JsonStore, BytesStore } = require('./lib/store')
const { RangeIterator, AsyncRangeIterator } = require('./lib/range')

const { call, callAsync, convert, sopError, CODES, ...errorClasses } = errors

module.exports = {
  /** Open (or create) the database in folder `path`. */
  open: (path, options) => Database.open(path, options),
  /** Open on the thread pool. */
  openAsync: (path, options) => Database.openAsync(path, options),
  version: native.version(),
  codes: CODES,
  Database,
  Transaction,
  JsonStore,
  BytesStore,
  RangeIterator,
  AsyncRangeIterator,
  ...errorClasses,
}
