// One writer of the concurrency tests (a worker thread or a child process):
// ROUNDS transactions, each adding one item of its own and incrementing the
// shared counter "total" and its own counter, retried on conflict.
import { createRequire } from 'node:module'
import { isMainThread, workerData } from 'node:worker_threads'

const sop = createRequire(import.meta.url)('..')
const { path, who, rounds, options } = isMainThread
  ? { path: process.argv[2], who: process.argv[3], rounds: Number(process.argv[4]), options: JSON.parse(process.argv[5] || '{}') }
  : workerData

const db = sop.open(path, options)
for (let i = 0; i < rounds; i++) {
  await db.transactionAsync(
    async (tx) => {
      const c = tx.openStore('counters')
      c.put('total', c.get('total') + 1)
      c.put(who, (c.get(who) ?? 0) + 1)
      tx.openStore('items').put({ who, i }, { by: who, at: i })
    },
    { retries: 1000 },
  )
}
db.close()
