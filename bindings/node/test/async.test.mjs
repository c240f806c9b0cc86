import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sop, scratch } from './helpers.mjs'

test('the async variants do what the blocking ones do', async () => {
  const db = await sop.openAsync(scratch())
  const got = await db.transactionAsync('write', async (tx) => {
    const s = tx.createStore('s', { unique: true })
    assert.equal(await s.putAsync('a', { x: 1 }), true)
    assert.equal(await s.putManyAsync([['b', 2], ['c', 3]]), 2)
    assert.equal(await s.hasAsync('b'), true)
    assert.equal(await s.deleteAsync('b'), true)
    assert.equal(await s.countAsync(), 2)
    assert.deepEqual(await s.getManyAsync(['a', 'b']), [{ x: 1 }, undefined])
    const b = tx.createStore('b', { type: 'bytes' })
    await b.putAsync('k', Buffer.from('v'))
    await b.putManyAsync([['k2', 'v2']])
    assert.equal((await b.getAsync('k2')).toString(), 'v2')
    assert.equal(await b.hasAsync('k3'), false)
    assert.equal(await b.deleteAsync('k'), true)
    return s.getAsync('a')
  })
  assert.deepEqual(got, { x: 1 })
  const tx = await db.beginAsync('read')
  const items = []
  for await (const [k, v] of tx.openStore('s').rangeAsync({ reverse: true })) items.push([k, v])
  assert.deepEqual(items, [['c', 3], ['a', { x: 1 }]])
  await tx.commitAsync()
  await assert.rejects(tx.commitAsync(), { code: 'TX_ENDED' })
  await assert.rejects(db.transactionAsync(async (t) => t.openStore('nope')), { code: 'NOT_FOUND' })
  db.close()
})

test('an async transaction that rejects rolls back; conflicts run it again', async () => {
  const db = sop.open(scratch())
  db.transaction((tx) => tx.createStore('c').put('n', 0))
  await assert.rejects(
    db.transactionAsync(async (tx) => {
      await tx.openStore('c').putAsync('n', 99)
      throw new RangeError('no')
    }),
    RangeError,
  )
  let runs = 0
  await db.transactionAsync(async (tx) => {
    runs++
    const c = tx.openStore('c')
    const n = await c.getAsync('n')
    if (runs === 1) await db.transactionAsync((t2) => t2.openStore('c').putAsync('n', 10))
    await c.putAsync('n', n + 1)
  })
  assert.equal(runs, 2)
  assert.equal(db.transaction('read', (tx) => tx.openStore('c').get('n')), 11)
  db.close()
})

test('concurrent async transactions on one database commit every increment', async () => {
  const db = sop.open(scratch())
  db.transaction((tx) => tx.createStore('c').put('n', 0))
  const inc = () =>
    db.transactionAsync(
      async (tx) => {
        const c = tx.openStore('c')
        await c.putAsync('n', (await c.getAsync('n')) + 1)
      },
      { retries: 100 },
    )
  await Promise.all(Array.from({ length: 40 }, inc))
  assert.equal(db.transaction('read', (tx) => tx.openStore('c').get('n')), 40)
  db.close()
})

/** How many 1 ms timer ticks run while `work()` is pending, and how long it takes. */
async function ticksDuring(work) {
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  const t0 = performance.now()
  await work()
  const ms = performance.now() - t0
  clearInterval(timer)
  return { ticks, ms }
}

test('async engine work leaves the event loop free; the blocking call does not', async () => {
  const db = sop.open(scratch())
  const items = Array.from({ length: 20000 }, (_, i) => [i, { i, pad: 'x'.repeat(40) }])
  // The blocking call: no timer can run until it returns.
  const blocking = await ticksDuring(async () => {
    const tx = db.begin()
    tx.createStore('a').putMany(items)
    tx.commit()
  })
  assert.equal(blocking.ticks, 0)
  // The same work through the thread pool: timers keep firing meanwhile.
  const free = await ticksDuring(async () => {
    const tx = await db.beginAsync()
    await tx.createStore('b').putManyAsync(items)
    await tx.commitAsync()
  })
  assert.ok(free.ms > 20, `the work took ${free.ms} ms: too short to judge`)
  assert.ok(free.ticks >= 5, `only ${free.ticks} timer ticks in ${free.ms.toFixed(0)} ms of async work`)
  assert.equal(db.transaction('read', (tx) => tx.openStore('b').count()), 20000)
  db.close()
})
