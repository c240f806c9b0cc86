'use strict'
// Transaction: stores, commit and rollback.
const { call, callAsync, sopError } = require('./errors')
const { JsonStore, BytesStore } = require('./store')

// Store options as JavaScript names -> the engine's names.
const STORE_OPTIONS = {
  unique: 'unique',
  slotLength: 'slot_length',
  values: 'values',
  description: 'description',
  cacheValues: 'cache_values',
  leafLoadBalancing: 'leaf_load_balancing',
}

function storeArgs(options) {
  const o = options || {}
  const engine = {}
  let bytes = false
  let keySpec = null
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue
    if (k === 'type') {
      if (v !== 'json' && v !== 'bytes') throw sopError('INVALID_INPUT', `store type ${JSON.stringify(v)}: "json" or "bytes"`)
      bytes = v === 'bytes'
    } else if (k === 'keySpec') {
      keySpec = typeof v === 'string' ? v : JSON.stringify(v)
    } else if (k in STORE_OPTIONS) {
      engine[STORE_OPTIONS[k]] = v
    } else {
      throw sopError('INVALID_INPUT', `unknown store option ${JSON.stringify(k)}`)
    }
  }
  return [bytes, keySpec, JSON.stringify(engine)]
}

function wrapStore(native) {
  return native.isJson ? new JsonStore(native) : new BytesStore(native)
}

/**
 * A transaction: "write" (serializable reads and writes), "read" (validated
 * reads) or "snapshot" (reads of a snapshot, no validation). Commit or roll
 * it back; a transaction dropped without either is rolled back.
 */
class Transaction {
  #n
  constructor(native) {
    this.#n = native
  }
  get mode() {
    return this.#n.mode
  }
  /** The transaction's id, 32 hex digits. */
  get id() {
    return this.#n.id
  }
  /** The sequence number of the commit the snapshot is at. */
  get snapshotSeq() {
    return this.#n.snapshotSeq
  }
  get ended() {
    return this.#n.ended
  }
  /** Open an existing store (a JsonStore or a BytesStore, as it was created). */
  openStore(name) {
    return wrapStore(call(() => this.#n.openStore(name)))
  }
  /** Create a store: {type: 'json'|'bytes', keySpec, unique, slotLength, values, description}. */
  createStore(name, options) {
    const [bytes, keySpec, engine] = storeArgs(options)
    return wrapStore(call(() => this.#n.createStore(name, bytes, keySpec, engine)))
  }
  /** Open the store, or create it with `options` if it does not exist. */
  store(name, options) {
    const [bytes, keySpec, engine] = storeArgs(options)
    try {
      return this.openStore(name)
    } catch (e) {
      // Only a write transaction can create it.
      if (e.code !== 'NOT_FOUND' || this.mode !== 'write') throw e
    }
    return wrapStore(call(() => this.#n.createStore(name, bytes, keySpec, engine)))
  }
  listStores() {
    return call(() => this.#n.listStores())
  }
  dropStore(name) {
    call(() => this.#n.dropStore(name))
  }
  /** Commit: durable when it returns. The transaction has ended afterwards, whatever happened. */
  commit() {
    call(() => this.#n.commit())
  }
  /** Commit on the thread pool. */
  commitAsync() {
    return callAsync(this.#n.commitAsync())
  }
  rollback() {
    call(() => this.#n.rollback())
  }
}

module.exports = { Transaction }
