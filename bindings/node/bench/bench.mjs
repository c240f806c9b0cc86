// 100,000 puts in one transaction and 100,000 gets, through the Node binding:
// JSON store one call per item, JSON store putMany, byte store one call per
// item, and gets one by one (blocking and async). Prints a Markdown table.
// Usage: node bench/bench.mjs [N]  (build with `npm run build:release` first
// for release figures).
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const sop = createRequire(import.meta.url)('..')
const N = Number(process.argv[2] || 100000)
const dir = mkdtempSync(join(tmpdir(), 'sop-node-bench-'))
const db = sop.open(join(dir, 'db'))
const rows = []

function time(name, fn) {
  const t0 = process.hrtime.bigint()
  const r = fn()
  const ns = Number(process.hrtime.bigint() - t0)
  rows.push([name, ns])
  return r
}
async function timeAsync(name, fn) {
  const t0 = process.hrtime.bigint()
  await fn()
  rows.push([name, Number(process.hrtime.bigint() - t0)])
}

const key = (i) => `key${String(i).padStart(8, '0')}`
const value = (i) => ({ i, name: `item ${i}` })

time(`JSON put x${N} (one tx, one call each) + commit`, () =>
  db.transaction((tx) => {
    const s = tx.createStore('j', { unique: true })
    for (let i = 0; i < N; i++) s.put(key(i), value(i))
  }),
)
time(`JSON putMany x${N} (one tx, one call) + commit`, () =>
  db.transaction((tx) => {
    const items = Array.from({ length: N }, (_, i) => [key(i), value(i)])
    tx.createStore('m', { unique: true }).putMany(items)
  }),
)
const kb = (i) => Buffer.from(key(i))
const vb = Buffer.alloc(24, 1)
time(`bytes put x${N} (one tx, one call each) + commit`, () =>
  db.transaction((tx) => {
    const s = tx.createStore('b', { type: 'bytes', unique: true })
    for (let i = 0; i < N; i++) s.put(kb(i), vb)
  }),
)
time(`JSON get x${N} (one snapshot tx)`, () =>
  db.transaction('snapshot', (tx) => {
    const s = tx.openStore('j')
    for (let i = 0; i < N; i++) if (s.get(key(i)).i !== i) throw new Error('wrong value')
  }),
)
time(`bytes get x${N} (one snapshot tx)`, () =>
  db.transaction('snapshot', (tx) => {
    const s = tx.openStore('b')
    for (let i = 0; i < N; i++) if (s.get(kb(i)).length !== 24) throw new Error('wrong value')
  }),
)
time(`JSON range over ${N} items`, () =>
  db.transaction('snapshot', (tx) => {
    let n = 0
    for (const _ of tx.openStore('j')) n++
    if (n !== N) throw new Error('wrong count')
  }),
)
await timeAsync(`JSON getAsync x${N / 10} (awaited one by one)`, () =>
  db.transactionAsync('snapshot', async (tx) => {
    const s = tx.openStore('j')
    for (let i = 0; i < N / 10; i++) if ((await s.getAsync(key(i))).i !== i) throw new Error('wrong value')
  }),
)
db.close()
rmSync(dir, { recursive: true, force: true })

console.log(`| Node ${process.version}, sop-db ${sop.version} | total | per item |`)
console.log('|---|---:|---:|')
for (const [name, ns] of rows) {
  const n = Number(/x(\d+)/.exec(name)?.[1] ?? N)
  console.log(`| ${name} | ${(ns / 1e6).toFixed(0)} ms | ${(ns / n / 1000).toFixed(2)} µs |`)
}
