// Many threads and processes commit to one store: every increment and every
// item must be there, exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { scratch } from './helpers.mjs'
import { prepare, check, threads, processes } from './concurrency.mjs'

test('worker threads, each with its own Database, commit to one store', async () => {
  const path = scratch()
  prepare(path)
  const names = ['w0', 'w1', 'w2', 'w3']
  assert.deepEqual(await threads(path, names), [0, 0, 0, 0])
  check(path, names)
})

test('child processes commit to one store', async () => {
  const path = scratch()
  prepare(path)
  const names = ['p0', 'p1', 'p2']
  assert.deepEqual(await processes(path, names), [0, 0, 0])
  check(path, names)
})
