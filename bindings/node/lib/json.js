'use strict'
// JSON text <-> JavaScript values, exactly: BigInt for integers beyond what a
// number holds, -0 kept, nothing rounded behind the caller's back.
const { sopError } = require('./errors')

function invalid(msg) {
  return sopError('INVALID_INPUT', msg)
}

function skipped(x) {
  return x === undefined || typeof x === 'function' || typeof x === 'symbol'
}

// Thrown by `plain` at a value JSON.stringify would get wrong.
const BAIL = Symbol('not plain JSON')

/** JSON.stringify's replacer: bail out at -0, NaN, ±Infinity and BigInt. */
function plain(_k, v) {
  if (typeof v === 'number') {
    if (v === 0 ? 1 / v < 0 : !Number.isFinite(v)) throw BAIL
  } else if (typeof v === 'bigint') throw BAIL
  return v
}

/**
 * The JSON text of `v`, as JSON.stringify writes it, except that a BigInt is
 * written as its integer and -0 as `-0`. NaN and the infinities are refused
 * (JSON has no such numbers). JSON.stringify does the work unless the value
 * holds one of those; then `exact` does.
 */
function encode(v) {
  if (typeof v === 'string') return JSON.stringify(v)
  try {
    const t = JSON.stringify(v, plain)
    if (t !== undefined) return t
  } catch (e) {
    if (e !== BAIL) throw e
  }
  return exact(v)
}

/** `encode`, one value at a time, in JavaScript. */
function exact(v) {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v)
    case 'number':
      if (!Number.isFinite(v)) throw invalid(`${v} is not a JSON number`)
      return Object.is(v, -0) ? '-0' : String(v)
    case 'bigint':
      return v.toString()
    case 'boolean':
      return v ? 'true' : 'false'
    case 'object': {
      if (v === null) return 'null'
      if (typeof v.toJSON === 'function') return exact(v.toJSON())
      if (Array.isArray(v)) {
        let out = '['
        for (let i = 0; i < v.length; i++) {
          if (i) out += ','
          out += skipped(v[i]) ? 'null' : exact(v[i])
        }
        return out + ']'
      }
      let out = '{'
      for (const k of Object.keys(v)) {
        const x = v[k]
        if (skipped(x)) continue
        if (out.length > 1) out += ','
        out += JSON.stringify(k) + ':' + exact(x)
      }
      return out + '}'
    }
    default:
      throw invalid(`${v === undefined ? 'undefined' : 'a ' + typeof v} is not a JSON value`)
  }
}

/** The JSON text of an array of [key, value] pairs (putMany). */
function encodePairs(items) {
  if (Array.isArray(items)) {
    try {
      const t = JSON.stringify(items, plain)
      if (t !== undefined) return t
    } catch (e) {
      if (e !== BAIL) throw e
    }
  }
  let t = '['
  for (const pair of items) {
    if (!Array.isArray(pair) || pair.length !== 2) throw invalid('putMany: an item is not a [key, value] pair')
    if (t.length > 1) t += ','
    t += '[' + encode(pair[0]) + ',' + encode(pair[1]) + ']'
  }
  return t + ']'
}

// A run of 16 or more digits that is not part of a decimal fraction or an
// exponent may be an integer beyond 2^53: such text takes the exact parser.
const MAYBE_BIG = /(?<![\d.])\d{16,}(?![\d.eE])/

/** The value of JSON text (produced by SOP, so well-formed). */
function decode(text) {
  return MAYBE_BIG.test(text) ? parseExact(text) : JSON.parse(text)
}

const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y

/** JSON.parse, but an integer outside ±(2^53-1) becomes a BigInt. */
function parseExact(text) {
  let i = 0
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i)
      if (c === 32 || c === 9 || c === 10 || c === 13) i++
      else return
    }
  }
  const expect = (ch) => {
    ws()
    if (text[i] !== ch) throw new SyntaxError(`expected ${ch} at ${i} in JSON text`)
    i++
  }
  const string = () => {
    expect('"')
    let j = i
    while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
    const s = JSON.parse(text.slice(i - 1, j + 1))
    i = j + 1
    return s
  }
  const value = () => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const o = {}
      ws()
      if (text[i] === '}') return i++, o
      for (;;) {
        const k = string()
        expect(':')
        const x = value()
        if (k === '__proto__') {
          Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true })
        } else o[k] = x
        ws()
        if (text[i] === ',') i++
        else return expect('}'), o
      }
    }
    if (c === '[') {
      i++
      const a = []
      ws()
      if (text[i] === ']') return i++, a
      for (;;) {
        a.push(value())
        ws()
        if (text[i] === ',') i++
        else return expect(']'), a
      }
    }
    if (c === '"') return string()
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(lit, i)) return (i += lit.length), v
    }
    NUMBER.lastIndex = i
    const m = NUMBER.exec(text)
    if (!m) throw new SyntaxError(`unexpected ${JSON.stringify(c)} at ${i} in JSON text`)
    i = NUMBER.lastIndex
    const n = Number(m[0])
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n)) return BigInt(m[0])
    return n
  }
  const v = value()
  ws()
  if (i !== text.length) throw new SyntaxError(`unexpected text at ${i} in JSON text`)
  return v
}

module.exports = { encode, encodePairs, decode, parseExact }
