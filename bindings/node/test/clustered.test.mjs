// Clustered mode with the real Redis (scripts/test.sh starts it and exports
// SOP_TEST_REDIS_URL; the test fails without it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sop, scratch, redisUrl } from './helpers.mjs'
import { prepare, check, processes } from './concurrency.mjs'

test('Clustered: child processes coordinate through Redis and commit every increment', async () => {
  const redis = redisUrl()
  const path = scratch()
  prepare(path, { redis })
  const names = ['c0', 'c1', 'c2']
  assert.deepEqual(await processes(path, names, { redis }), [0, 0, 0])
  check(path, names, { redis })
})

test('Clustered: a database reopens in Clustered mode', () => {
  const redis = redisUrl()
  const path = scratch()
  const db = sop.open(path, { redis })
  db.transaction((tx) => tx.createStore('s').put('k', 'v'))
  db.close()
  const again = sop.open(path)
  assert.equal(again.transaction('read', (tx) => tx.openStore('s').get('k')), 'v')
  again.close()
})
