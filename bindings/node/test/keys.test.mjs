// Keys and values where languages disagree: integers beyond 2^53, floats,
// negative zero, unicode, nesting, null, and the order across types.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sop, scratch } from './helpers.mjs'

const I64_MAX = 2n ** 63n - 1n
const I64_MIN = -(2n ** 63n)
const U64_MAX = 2n ** 64n - 1n

function store(fn) {
  const db = sop.open(scratch())
  try {
    return db.transaction((tx) => fn(tx.createStore('k', { unique: true })))
  } finally {
    db.close()
  }
}

test('integers beyond 2^53 are BigInt, exact, in numeric order', () => {
  store((s) => {
    const big = [I64_MIN, -(2n ** 53n) - 1n, 2n ** 53n + 1n, I64_MAX, U64_MAX]
    for (const k of big) s.put(k, { k })
    s.put(2 ** 53 - 1, 'largest safe number')
    s.put(9007199254740992, 'the number 2^53')
    for (const k of big) assert.deepEqual(s.get(k), { k }, `key ${k}`)
    assert.equal(s.get(2 ** 53 + 1), 'the number 2^53', 'the number 2 ** 53 + 1 is 2 ** 53, not 2n ** 53n + 1n')
    const keys = [...s].map(([k]) => k)
    assert.deepEqual(keys, [I64_MIN, -(2n ** 53n) - 1n, 2 ** 53 - 1, 2n ** 53n, 2n ** 53n + 1n, I64_MAX, U64_MAX])
    // Safe integers read back as numbers; BigInt keys that fit are the same keys.
    assert.equal(s.get(5n), undefined)
    s.put(5n, 'five')
    assert.equal(s.get(5), 'five')
    assert.equal(typeof s.range({ gte: 5, lte: 5 }).next().value[0], 'number')
    // Beyond i64/u64 a key cannot be exact in every language: refused.
    assert.throws(() => s.put(2n ** 64n, 1), { code: 'INVALID_INPUT' })
    assert.throws(() => s.put(I64_MIN - 1n, 1), { code: 'INVALID_INPUT' })
    // A value keeps any integer exactly.
    s.put('huge', 2n ** 70n)
    assert.equal(s.get('huge'), 2n ** 70n)
  })
})

test('floats round-trip bit for bit; 1 and 1.0 are one key; -0 is 0 as a key', () => {
  store((s) => {
    const floats = [0.1, 0.1 + 0.2, 1e21, 5e-324, 1.7976931348623157e308, -2.5e-8, 1 / 3]
    for (const f of floats) s.put(f, f)
    for (const f of floats) assert.equal(s.get(f), f)
    const keys = [...s].map(([k]) => k)
    assert.deepEqual(keys, [...floats].sort((a, b) => a - b))
    s.put(0, 'zero')
    assert.equal(s.get(-0), 'zero', '-0 finds 0')
    assert.equal(s.put(-0, 'minus zero'), false, '-0 replaces 0')
    // As a value, -0 stays -0.
    s.put('neg', -0)
    assert.ok(Object.is(s.get('neg'), -0))
    s.put('nested', { a: [-0, 0] })
    assert.ok(Object.is(s.get('nested').a[0], -0) && Object.is(s.get('nested').a[1], 0))
    assert.throws(() => s.put(Infinity, 1), { code: 'INVALID_INPUT' })
    assert.throws(() => s.put('v', { x: NaN }), { code: 'INVALID_INPUT' })
  })
})

test('the order across types, null keys, and unicode compared as given', () => {
  store((s) => {
    const keys = ['b', 'a', 2.5, 2, -1, true, false, null, 'é', 'e\u0301', '']
    for (const k of keys) s.put(k, String(k))
    assert.equal(s.get(null), 'null')
    assert.deepEqual(
      [...s].map(([k]) => k),
      [null, false, true, -1, 2, 2.5, '', 'a', 'b', 'e\u0301', 'é'],
    )
    assert.equal(s.count(), 11, 'precomposed and decomposed é are two keys')
  })
})

test('nested values, member order, undefined members, and Dates as JSON.stringify has them', () => {
  store((s) => {
    const v = { z: 1, a: { list: [1, 'two', null, [3], { deep: { deeper: [true] } }] }, m: 'ünï 🧪', skip: undefined }
    s.put('v', v)
    const back = s.get('v')
    assert.deepEqual(back, { z: 1, a: { list: [1, 'two', null, [3], { deep: { deeper: [true] } }] }, m: 'ünï 🧪' })
    assert.deepEqual(Object.keys(back), ['z', 'a', 'm'], 'members keep their order')
    s.put('arr', [undefined, () => 1])
    assert.deepEqual(s.get('arr'), [null, null])
    const when = new Date(0)
    s.put('when', when)
    assert.equal(s.get('when'), when.toJSON())
    s.put('proto', JSON.parse('{"__proto__": {"x": 1}}'))
    const p = s.get('proto')
    assert.deepEqual(Object.keys(p), ['__proto__'])
    assert.equal(Object.getPrototypeOf(p), Object.prototype)
    s.put('bigproto', { ['__proto__']: 12345678901234567890n })
    const b = s.get('bigproto')
    assert.equal(Object.getPrototypeOf(b), Object.prototype)
    assert.equal(Object.getOwnPropertyDescriptor(b, '__proto__').value, 12345678901234567890n)
  })
})

test('compound keys (a key spec) with BigInt and float fields', () => {
  const db = sop.open(scratch())
  db.transaction((tx) => {
    const s = tx.createStore('c', { keySpec: [{ field: 'n', order: 'desc' }, { field: 's' }], unique: true })
    s.put({ n: 2n ** 60n, s: 'x' }, 1)
    s.put({ n: 1.5, s: 'y' }, 2)
    s.put({ n: 1.5, s: 'a' }, 3)
    s.put({ n: -(2n ** 62n), s: 'z' }, 4)
    assert.deepEqual(
      [...s].map(([, v]) => v),
      [1, 3, 2, 4],
    )
    assert.deepEqual(s.get({ n: 2n ** 60n, s: 'x' }), 1)
  })
  db.close()
})

test('putMany and getMany keep BigInt and -0 exact too', () => {
  store((s) => {
    assert.equal(s.putMany([[2n ** 60n, -0], [1, { a: 2n ** 64n }], ['plain', [1, 2]]]), 3)
    assert.throws(() => s.putMany([['nan', NaN]]), { code: 'INVALID_INPUT' })
    assert.throws(() => s.putMany([['no pair']]), { code: 'INVALID_INPUT' })
    const [z, a, p] = s.getMany([2n ** 60n, 1, 'plain'])
    assert.ok(Object.is(z, -0))
    assert.deepEqual(a, { a: 2n ** 64n })
    assert.deepEqual(p, [1, 2])
  })
})
