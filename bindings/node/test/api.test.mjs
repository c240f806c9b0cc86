import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sop, scratch } from './helpers.mjs'

test('a write transaction commits on return, and a new one reads it back', () => {
  const db = sop.open(scratch())
  const n = db.transaction('write', (tx) => {
    const people = tx.createStore('people', { keySpec: 'last,age:desc', unique: true })
    people.put({ last: 'Lovelace', age: 36 }, { first: 'Ada', langs: ['en', 'fr'] })
    people.put({ last: 'Hopper', age: 85 }, { first: 'Grace' })
    people.put({ last: 'Lovelace', age: 60 }, { first: 'Byron' })
    return people.count()
  })
  assert.equal(n, 3)
  db.transaction('read', (tx) => {
    const people = tx.openStore('people')
    assert.ok(people instanceof sop.JsonStore)
    assert.deepEqual(people.get({ last: 'Lovelace', age: 36 }), { first: 'Ada', langs: ['en', 'fr'] })
    assert.equal(people.get({ last: 'Nobody', age: 1 }), undefined)
    assert.equal(people.has({ last: 'Hopper', age: 85 }), true)
    assert.equal(people.has({ last: 'Hopper', age: 86 }), false)
    // The key spec orders: last ascending, then age descending.
    const firsts = [...people].map(([, v]) => v.first)
    assert.deepEqual(firsts, ['Grace', 'Byron', 'Ada'])
    const keys = [...people.range({ gte: { last: 'L' }, reverse: true })].map(([k]) => k)
    assert.deepEqual(keys, [
      { last: 'Lovelace', age: 36 },
      { last: 'Lovelace', age: 60 },
    ])
  })
  db.close()
})

test('a transaction that throws rolls back, and the error comes out unchanged', () => {
  const db = sop.open(scratch())
  db.transaction((tx) => tx.createStore('s').put(1, 'one'))
  const boom = new Error('boom')
  assert.throws(
    () =>
      db.transaction((tx) => {
        const s = tx.openStore('s')
        s.put(2, 'two')
        s.delete(1)
        throw boom
      }),
    (e) => e === boom,
  )
  db.transaction('read', (tx) => {
    const s = tx.openStore('s')
    assert.deepEqual([...s], [[1, 'one']])
  })
  db.close()
})

test('put modes, delete, count, putMany and getMany', () => {
  const db = sop.open(scratch())
  db.transaction((tx) => {
    const s = tx.createStore('s', { unique: true })
    assert.equal(s.put('a', 1), true, 'upsert inserts')
    assert.equal(s.put('a', 2), false, 'upsert replaces')
    assert.equal(s.get('a'), 2)
    assert.equal(s.add('a', 3), false, 'add keeps an existing key in a unique store')
    assert.equal(s.update('b', 1), false, 'update needs the key')
    assert.equal(s.update('a', 4), true)
    assert.equal(s.put('c', 9, { mode: 'addIfAbsent' }), true)
    assert.equal(s.get('a'), 4)
    assert.equal(s.putMany([['x', { n: 1 }], ['y', { n: 2 }], ['z', null]]), 3)
    assert.equal(s.putMany(new Map([['x', 10], ['w', 11]])), 1, 'one inserted, one replaced')
    assert.equal(s.count(), 6)
    assert.deepEqual(s.getMany(['x', 'nope', 'z', 'y']), [10, undefined, null, { n: 2 }])
    assert.equal(s.delete('x'), true)
    assert.equal(s.delete('x'), false)
    assert.equal(s.count(), 5)
    assert.throws(() => s.put('q', 1, { mode: 'merge' }), { code: 'INVALID_INPUT' })
  })
  db.close()
})

test('range bounds, reverse, limit, and closing an iterator releases its cursor', () => {
  const db = sop.open(scratch())
  db.transaction((tx) => {
    const s = tx.createStore('nums')
    s.putMany(Array.from({ length: 3000 }, (_, i) => [i, `v${i}`]))
    const keys = (o) => [...s.range(o)].map(([k]) => k)
    assert.deepEqual(keys({ gte: 10, lt: 14 }), [10, 11, 12, 13])
    assert.deepEqual(keys({ gt: 10, lte: 14 }), [11, 12, 13, 14])
    assert.deepEqual(keys({ gte: 10, lt: 14, reverse: true }), [13, 12, 11, 10])
    assert.deepEqual(keys({ gte: 2990 }), [2990, 2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999])
    assert.deepEqual(keys({ limit: 3, reverse: true }), [2999, 2998, 2997])
    assert.equal(keys({}).length, 3000, 'batches cover the whole store')
    assert.deepEqual(keys({ limit: 0 }), [])
    assert.throws(() => s.range({ from: 1 }), { code: 'INVALID_INPUT' })

    const it = s.range()
    let seen = 0
    for (const [k] of it) {
      if (k === 20) break
      seen++
    }
    assert.equal(seen, 20)
    assert.equal(it.closed, true, 'break closes the iterator')
    assert.deepEqual(it.next(), { done: true, value: undefined })

    const it2 = s.range()
    it2.next()
    it2.close()
    assert.equal(it2.closed, true)
    assert.equal(it2.next().done, true)
  })
  db.close()
})

test('byte stores take Buffer, Uint8Array or string, and give Buffers in byte order', () => {
  const db = sop.open(scratch())
  db.transaction((tx) => {
    const b = tx.createStore('blobs', { type: 'bytes' })
    assert.ok(b instanceof sop.BytesStore)
    b.put(Buffer.from([2, 0]), new Uint8Array([1, 2, 3]))
    b.put(new Uint8Array([1, 255]), Buffer.from('hello'))
    b.put('abc', 'text')
    assert.equal(b.putMany([[Buffer.from([0]), Buffer.alloc(1000, 7)], [Buffer.from([3]), Buffer.alloc(0)]]), 2)
    assert.deepEqual(b.get(new Uint8Array([2, 0])), Buffer.from([1, 2, 3]))
    assert.ok(Buffer.isBuffer(b.get('abc')))
    assert.equal(b.get('abc').toString(), 'text')
    assert.equal(b.get('zzz'), undefined)
    assert.deepEqual(b.get(Buffer.from([3])), Buffer.alloc(0))
    const keys = [...b].map(([k]) => [...k])
    assert.deepEqual(keys, [[0], [1, 255], [2, 0], [3], [97, 98, 99]])
    const lo = [...b.range({ gt: Buffer.from([1, 255]), lt: 'a' })].map(([k]) => [...k])
    assert.deepEqual(lo, [[2, 0], [3]])
    assert.throws(() => b.put(1, 'x'), { code: 'INVALID_INPUT' })
  })
  db.transaction('read', (tx) => {
    assert.ok(tx.openStore('blobs') instanceof sop.BytesStore, 'a byte store opens as one')
    assert.equal(tx.openStore('blobs').count(), 5)
  })
  db.close()
})

test('store() opens or creates; listStores and dropStore', () => {
  const db = sop.open(scratch())
  db.transaction((tx) => {
    tx.store('a').put(1, 1)
    tx.store('b', { type: 'bytes' }).put('k', 'v')
  })
  db.transaction((tx) => {
    assert.equal(tx.store('a').get(1), 1, 'store() opens an existing one')
    assert.deepEqual(tx.listStores(), ['a', 'b'])
    tx.dropStore('a')
    assert.deepEqual(tx.listStores(), ['b'])
  })
  db.transaction('snapshot', (tx) => assert.deepEqual(tx.listStores(), ['b']))
  db.transaction('read', (tx) => assert.throws(() => tx.store('c'), { code: 'NOT_FOUND' }))
  db.close()
})

test('explicit begin, commit and rollback; ids and modes', () => {
  const db = sop.open(scratch())
  const tx = db.begin()
  assert.equal(tx.mode, 'write')
  assert.match(tx.id, /^[0-9a-f]{32}$/)
  tx.createStore('s').put('k', 'v')
  tx.commit()
  assert.equal(tx.ended, true)
  assert.equal(db.commitOutcome(tx), true, 'a committed transaction has a commit record')
  const tx2 = db.begin('write')
  tx2.openStore('s').put('k2', 'v2')
  tx2.rollback()
  assert.equal(db.commitOutcome(tx2), false)
  const r = db.begin('snapshot')
  assert.equal(r.mode, 'snapshot')
  assert.deepEqual([...r.openStore('s')], [['k', 'v']])
  r.commit()
  db.close()
})
