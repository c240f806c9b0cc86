import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sop, scratch } from './helpers.mjs'

test('engine errors carry their code and class', () => {
  const db = sop.open(scratch())
  db.transaction((tx) => tx.createStore('people', { keySpec: 'last', unique: true }))
  db.transaction((tx) => {
    assert.throws(() => tx.openStore('nope'), (e) => e instanceof sop.NotFoundError && e instanceof sop.SopError && e.code === 'NOT_FOUND')
    assert.throws(() => tx.createStore('people'), { code: 'ALREADY_EXISTS', name: 'AlreadyExistsError' })
    const p = tx.openStore('people')
    // A key that does not fit the spec (an object key is required).
    assert.throws(() => p.put('just a string', 1), sop.InvalidInputError)
    assert.throws(() => p.put({ last: 'x' }, undefined), { code: 'INVALID_INPUT' })
    assert.throws(() => p.put({ last: NaN }, 1), { code: 'INVALID_INPUT' })
    assert.throws(() => tx.createStore('x', { keySpec: 'a:sideways' }), { code: 'INVALID_INPUT' })
    assert.throws(() => tx.createStore('x', { colour: 'red' }), { code: 'INVALID_INPUT' })
  })
  db.transaction('read', (tx) => {
    assert.throws(() => tx.openStore('people').put({ last: 'x' }, 1), { code: 'INVALID_INPUT' }, 'no writes in a read transaction')
  })
  assert.throws(() => db.begin('sideways'), { code: 'INVALID_INPUT' })
  assert.throws(() => sop.open(scratch(), { colour: 'red' }), { code: 'INVALID_INPUT' })
  assert.throws(() => sop.open(scratch(), { create: false }), { code: 'NOT_FOUND' })
  db.close()
})

test('misuse: after commit, after rollback, after close', () => {
  const db = sop.open(scratch())
  const tx = db.begin()
  const s = tx.createStore('s')
  s.put(1, 1)
  const it = s.range()
  tx.commit()
  assert.throws(() => tx.commit(), (e) => e instanceof sop.TxEndedError && e.code === 'TX_ENDED')
  assert.throws(() => tx.rollback(), { code: 'TX_ENDED' })
  assert.throws(() => s.get(1), { code: 'TX_ENDED' }, 'a store ends with its transaction')
  assert.throws(() => it.next(), { code: 'TX_ENDED' }, 'so does a range')
  assert.throws(() => tx.openStore('s'), { code: 'TX_ENDED' })

  const tx2 = db.begin()
  const s2 = tx2.openStore('s')
  s2.close()
  assert.throws(() => s2.get(1), { code: 'CLOSED' }, 'a closed store')
  const live = tx2.openStore('s')
  db.close()
  assert.equal(db.closed, true)
  assert.equal(tx2.ended, true, 'closing rolls back the open transactions')
  assert.throws(() => live.put(2, 2), { code: 'TX_ENDED' })
  assert.throws(() => db.begin(), (e) => e instanceof sop.ClosedError)
  assert.doesNotThrow(() => db.close(), 'closing twice does nothing')
})

test('a conflict is CONFLICT, and transaction() runs the function again', () => {
  const db = sop.open(scratch())
  db.transaction((tx) => tx.createStore('c').put('n', 0))
  const a = db.begin()
  const b = db.begin()
  a.openStore('c').put('n', a.openStore('c').get('n') + 1)
  b.openStore('c').put('n', b.openStore('c').get('n') + 1)
  a.commit()
  assert.throws(() => b.commit(), (e) => e instanceof sop.ConflictError && e.code === 'CONFLICT')

  // A second writer commits in between the first run's read and its commit.
  let runs = 0
  db.transaction((tx) => {
    runs++
    const c = tx.openStore('c')
    const n = c.get('n')
    if (runs === 1) db.transaction((t2) => t2.openStore('c').put('n', 100))
    c.put('n', n + 1)
  })
  assert.equal(runs, 2)
  db.transaction('read', (tx) => assert.equal(tx.openStore('c').get('n'), 101))

  runs = 0
  assert.throws(
    () =>
      db.transaction(
        (tx) => {
          runs++
          const c = tx.openStore('c')
          const n = c.get('n')
          db.transaction((t2) => t2.openStore('c').put('n', runs * 1000))
          c.put('n', n + 1)
        },
        { retries: 2 },
      ),
    { code: 'CONFLICT' },
  )
  assert.equal(runs, 3, 'the first run and two retries')
  db.close()
})

test('a Promise from a synchronous transaction is refused and rolled back', () => {
  const db = sop.open(scratch())
  assert.throws(
    () =>
      db.transaction((tx) => {
        tx.createStore('s')
        return Promise.resolve(1)
      }),
    TypeError,
  )
  db.transaction('read', (tx) => assert.deepEqual(tx.listStores(), []))
  db.close()
})

test('an exclusive database is IN_USE for a second opener', () => {
  const path = scratch()
  const db = sop.open(path, { exclusive: true })
  assert.throws(() => sop.open(path), (e) => e instanceof sop.InUseError && e.code === 'IN_USE')
  db.close()
  sop.open(path).close()
})

test('transactions dropped with open stores and ranges are rolled back when collected', async () => {
  const { setFlagsFromString } = await import('node:v8')
  const { runInNewContext } = await import('node:vm')
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc')
  const db = sop.open(scratch())
  db.transaction((tx) => tx.createStore('s').putMany(Array.from({ length: 100 }, (_, i) => [i, i])))
  const collected = []
  const registry = new FinalizationRegistry((id) => collected.push(id))
  ;(() => {
    for (let i = 0; i < 50; i++) {
      const tx = db.begin()
      const s = tx.openStore('s')
      s.put(1000 + i, 'never committed')
      const it = s.range()
      it.next()
      registry.register(tx, i)
    }
  })()
  for (let i = 0; i < 10 && collected.length < 50; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.ok(collected.length > 0, 'some transactions were collected')
  db.transaction((tx) => {
    const s = tx.openStore('s')
    assert.equal(s.count(), 100, 'nothing of the dropped transactions is there')
    s.put('after', 1)
  })
  db.close()
})
