'use strict'
// The interop test's Node.js process (tests/interop/driver.py starts it).
//
//   node interop.js write DB GROUP ITEMS INCREMENTS COUNTERS START_FILE
//   node interop.js read DB OUT_FILE
//
// write: opens the folder, says "ready", waits for START_FILE, then adds ITEMS
// items of its own (GROUP) in transactions of 100 and, after each batch, adds
// one to a shared counter (read, add one, write back; db.transaction runs it
// again on a conflict) until it has done INCREMENTS increments, round-robin
// over the COUNTERS counters. read: one read transaction over the whole store,
// one canonical line per item (the form tests/interop/canon.py describes).
const fs = require('node:fs')
const sop = require('../../../bindings/node')

const STORE = 'interop'
const BATCH = 100
const RETRIES = 500

function item(group, i) {
  const key = { group, n: i, name: `${group}-${String(i).padStart(4, '0')}` }
  const value = {
    lang: group,
    i,
    tenth: i * 0.1,
    big: 2n ** 62n + BigInt(i),
    tags: [group, i % 3 === 0 ? null : 'x'],
    // Not -i: for i = 0 that is -0, which this binding writes as -0 and reads
    // back as -0, while Python, Go and Java read the integer -0 as 0.
    nested: { sq: i * i, neg: 0 - i },
  }
  return [key, value]
}

const counterKey = (k) => ({ group: 'counter', n: k, name: `c${k}` })

function write(path, group, items, increments, counters, start) {
  const db = sop.open(path)
  let attempts = 0
  try {
    process.stdout.write('ready\n')
    const cell = new Int32Array(new SharedArrayBuffer(4))
    while (!fs.existsSync(start)) Atomics.wait(cell, 0, 0, 5)
    const batches = Math.ceil(items / BATCH)
    let done = 0
    for (let b = 0; b < batches; b++) {
      const batch = []
      for (let i = b * BATCH; i < Math.min((b + 1) * BATCH, items); i++) batch.push(item(group, i))
      db.transaction('write', (tx) => {
        attempts++
        tx.openStore(STORE).putMany(batch)
      }, { retries: RETRIES })
      for (; done < Math.floor((increments * (b + 1)) / batches); done++) {
        const key = counterKey(done % counters)
        db.transaction('write', (tx) => {
          attempts++
          const s = tx.openStore(STORE)
          s.put(key, { count: s.get(key).count + 1 })
        }, { retries: RETRIES })
      }
    }
    const txs = batches + increments
    process.stdout.write(`node: ${items} items, ${increments} increments, ${txs} transactions, ` +
      `${attempts - txs} conflicts retried\n`)
  } finally {
    db.close()
  }
}

const TWO53 = 2 ** 53

function canonString(s) {
  let out = '"'
  for (const ch of s) {
    const c = ch.codePointAt(0)
    out += c >= 0x20 && c <= 0x7e && ch !== '"' && ch !== '\\' ? ch : `\\u{${c.toString(16)}}`
  }
  return out + '"'
}

function canonNumber(x) {
  if (Number.isInteger(x) && Math.abs(x) < TWO53 && !Object.is(x, -0)) return String(x)
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  return 'd:' + view.getBigUint64(0).toString(16).padStart(16, '0')
}

function canon(v) {
  if (v === null) return 'null'
  switch (typeof v) {
    case 'boolean':
      return String(v)
    case 'bigint':
      return v.toString()
    case 'number':
      return canonNumber(v)
    case 'string':
      return canonString(v)
    case 'object':
      if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']'
      return '{' + Object.keys(v).map((k) => canonString(k) + ':' + canon(v[k])).join(',') + '}'
    default:
      throw new TypeError(`not a JSON value: ${typeof v}`)
  }
}

function read(path, out) {
  const db = sop.open(path)
  try {
    const lines = db.transaction('read', (tx) => {
      const l = []
      for (const [k, v] of tx.openStore(STORE).range()) l.push(canon(k) + '\t' + canon(v) + '\n')
      return l
    })
    fs.writeFileSync(out, lines.join(''))
  } finally {
    db.close()
  }
}

const a = process.argv.slice(2)
if (a.length === 7 && a[0] === 'write') {
  write(a[1], a[2], Number(a[3]), Number(a[4]), Number(a[5]), a[6])
} else if (a.length === 3 && a[0] === 'read') {
  read(a[1], a[2])
} else {
  process.stderr.write('usage: interop.js write DB GROUP ITEMS INCREMENTS COUNTERS START_FILE | read DB OUT_FILE\n')
  process.exit(2)
}
