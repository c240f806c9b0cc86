'use strict'
// SopError and one subclass per error code. The native module throws errors
// whose message starts with the code in brackets ("[CONFLICT] ..."); `convert`
// turns them into these classes.

/** An error from SOP; `code` says what happened and what to do about it. */
class SopError extends Error {
  constructor(code, message, options) {
    super(message, options)
    this.code = code
  }
  get name() {
    return this.constructor.name
  }
}

// code -> class name. The engine's kinds first, then the binding's own.
const NAMES = {
  CONFLICT: 'ConflictError', // run the whole transaction again
  OUTCOME_UNKNOWN: 'OutcomeUnknownError', // ask db.commitOutcome(tx)
  POISONED: 'PoisonedError', // close and open the database again
  FENCED: 'FencedError', // open the database again
  CORRUPT: 'CorruptError',
  INVALID_INPUT: 'InvalidInputError',
  NOT_FOUND: 'NotFoundError',
  ALREADY_EXISTS: 'AlreadyExistsError',
  IN_USE: 'InUseError',
  DISK_FULL: 'DiskFullError',
  IO: 'IoError',
  UNAVAILABLE: 'UnavailableError',
  UNSUPPORTED: 'UnsupportedError',
  OTHER: 'OtherError',
  TX_ENDED: 'TxEndedError', // the transaction was committed or rolled back
  CLOSED: 'ClosedError', // the database, store or range was closed
}

const classes = { SopError }
const byCode = new Map()
for (const [code, name] of Object.entries(NAMES)) {
  const cls = { [name]: class extends SopError {} }[name]
  classes[name] = cls
  byCode.set(code, cls)
}

/** A new error of the class for `code`. */
function sopError(code, message, options) {
  const Cls = byCode.get(code) || SopError
  return new Cls(code, message, options)
}

const TAGGED = /^\[([A-Z_]+)\] ([\s\S]*)$/

/** The SopError a native error stands for (other errors as they are). */
function convert(e) {
  if (e instanceof SopError || !(e instanceof Error)) return e
  const m = TAGGED.exec(e.message)
  if (m) return sopError(m[1], m[2])
  // napi's own argument checks ("StringExpected", "InvalidArg", ...).
  if (typeof e.code === 'string' && /Expected$|^InvalidArg$/.test(e.code)) {
    return sopError('INVALID_INPUT', e.message, { cause: e })
  }
  return e
}

/** Run a native call, converting what it throws. */
function call(f) {
  try {
    return f()
  } catch (e) {
    throw convert(e)
  }
}

/** Await a native Promise, converting its rejection. */
async function callAsync(p) {
  try {
    return await p
  } catch (e) {
    throw convert(e)
  }
}

module.exports = { ...classes, sopError, convert, call, callAsync, CODES: Object.keys(NAMES) }
