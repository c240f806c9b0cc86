// What the concurrency tests share: a database with counters and items, its
// check, and writers (writer.mjs) as worker threads or child processes.
import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { sop, here } from './helpers.mjs'

const WRITER = join(here, 'writer.mjs')
export const ROUNDS = 25

export function prepare(path, options) {
  const db = sop.open(path, options)
  db.transaction((tx) => {
    const c = tx.createStore('counters', { unique: true })
    c.put('total', 0)
    tx.createStore('items', { keySpec: 'who,i', unique: true })
  })
  db.close()
}

export function check(path, names, options) {
  const db = sop.open(path, options)
  db.transaction('read', (tx) => {
    assert.equal(tx.openStore('counters').get('total'), names.length * ROUNDS)
    const items = tx.openStore('items')
    assert.equal(items.count(), names.length * ROUNDS)
    for (const who of names) {
      assert.equal(tx.openStore('counters').get(who), ROUNDS, `${who}'s own counter`)
      const mine = [...items.range({ gte: { who }, lte: { who, i: ROUNDS } })].map(([k]) => k.i)
      assert.deepEqual(mine, Array.from({ length: ROUNDS }, (_, i) => i))
    }
  })
  db.close()
}

function exitOf(proc, event = 'exit') {
  return new Promise((resolve, reject) => {
    proc.on('error', reject)
    proc.on(event, (code) => resolve(code))
  })
}

/** Run writer.mjs in worker threads; resolves to their exit codes. */
export function threads(path, names) {
  return Promise.all(
    names.map((who) => exitOf(new Worker(WRITER, { workerData: { path, who, rounds: ROUNDS } }))),
  )
}

/** Run writer.mjs in child processes; resolves when all have exited with 0. */
export function processes(path, names, options) {
  const procs = names.map((who) =>
    spawn(process.execPath, [WRITER, path, who, String(ROUNDS), JSON.stringify(options || {})], {
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  )
  return Promise.all(procs.map((p) => exitOf(p)))
}

