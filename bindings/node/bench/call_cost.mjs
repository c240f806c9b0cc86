// The Node side of the bindings' call-cost benchmark (docs/BENCHMARKS.md, "Cost
// per call over the C ABI"): N puts in one writing transaction, its commit,
// then N gets in a snapshot (NoCheck) transaction, each on a new database; the
// work of the Rust twin crates/sop-ffi/examples/call_cost.rs. A byte store with
// 24-byte keys (key_ and i in 20 digits) and 150-byte values (value_ and i in
// 20 digits, padded with x); a JSON store with the key i and the value
// {v: `value_${i}`}. Prints a human line per store and the machine-readable
// lines scripts/bench-call-cost.sh collects:
// CALLCOST lang=node op=OP n=N ns_wall=W ns_cpu=C cpu=process (ns per call;
// the CPU time is the whole process's, process.cpuUsage(): Node 20 has no clock
// of one thread's CPU time, so V8's helper threads (GC) count too).
//
// Usage: node bench/call_cost.mjs [N] DIR  (build with `npm run build:release`)
import { createRequire } from 'node:module'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

const sop = createRequire(import.meta.url)('..')
const [nArg, dirArg] = process.argv.length > 3 ? process.argv.slice(2) : [undefined, process.argv[2]]
if (!dirArg) {
  console.error('usage: node bench/call_cost.mjs [N] DIR (a new folder)')
  process.exit(2)
}
const N = Number(nArg ?? 100000)
mkdirSync(dirArg, { recursive: true })

/** Runs fn, returns [wall ns, process CPU ns]. */
function timed(fn) {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  fn()
  const wall = process.hrtime.bigint() - t0
  const c = process.cpuUsage(c0)
  return [Number(wall), (c.user + c.system) * 1000]
}

function report(kind, put, commitNs, get) {
  const per = (ns) => (ns / N).toFixed(0)
  console.log(
    `node, napi, ${kind.padEnd(16)} put ${per(put[0]).padStart(6)} ns/op (cpu ${per(put[1]).padStart(6)})` +
      `   commit ${(commitNs / 1e6).toFixed(1).padStart(6)} ms` +
      `   get ${per(get[0]).padStart(6)} ns/op (cpu ${per(get[1]).padStart(6)})`,
  )
  for (const [op, [wall, cpu]] of [['put', put], ['get', get]]) {
    console.log(`CALLCOST lang=node op=${kind}_${op} n=${N} ns_wall=${per(wall)} ns_cpu=${per(cpu)} cpu=process`)
  }
}

/** Fills a new store in one writing transaction, commits, reads it back. */
function run(kind, create, fill, read) {
  const db = sop.open(join(dirArg, `node-${kind}`))
  try {
    const tx = db.begin('write')
    const s = create(tx)
    const put = timed(() => fill(s))
    const t0 = process.hrtime.bigint()
    tx.commit()
    const commit = Number(process.hrtime.bigint() - t0)
    const rtx = db.begin('snapshot')
    const rs = rtx.openStore('kv')
    const get = timed(() => read(rs))
    rtx.rollback()
    report(kind, put, commit, get)
  } finally {
    db.close()
  }
}

const keys = Array.from({ length: N }, (_, i) => Buffer.from(`key_${String(i).padStart(20, '0')}`))
const vals = Array.from({ length: N }, (_, i) =>
  Buffer.from(`value_${String(i).padStart(20, '0')}${'x'.repeat(124)}`),
)
console.log(`Node ${process.version}, sop ${sop.version}: ${N} puts in one transaction, then ${N} gets (NoCheck)`)
run(
  'bytes',
  (tx) => tx.createStore('kv', { type: 'bytes' }),
  (s) => {
    for (let i = 0; i < N; i++) s.put(keys[i], vals[i])
  },
  (s) => {
    for (let i = 0; i < N; i++) if (!s.get(keys[i]).equals(vals[i])) throw new Error(`wrong value at ${i}`)
  },
)
run(
  'json',
  (tx) => tx.createStore('kv'),
  (s) => {
    for (let i = 0; i < N; i++) s.put(i, { v: `value_${i}` })
  },
  (s) => {
    for (let i = 0; i < N; i++) if (s.get(i).v !== `value_${i}`) throw new Error(`wrong value at ${i}`)
  },
)
