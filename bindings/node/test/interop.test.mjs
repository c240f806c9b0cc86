// A database written from Node is read identically by the `sop` CLI, and one
// written by the CLI is read identically by Node.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { sop, scratch, sopCli } from './helpers.mjs'

const { decode, encode } = createRequire(import.meta.url)('../lib/json.js')

function cli(path, ...args) {
  return execFileSync(sopCli(), ['--db', path, ...args], { encoding: 'utf8' })
}

/** `sop export` as [key, value] pairs, parsed exactly. */
function exported(path, store) {
  return cli(path, 'export', store)
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const { key, value } = decode(line)
      return [key, value]
    })
}

const ITEMS = [
  [{ last: 'Lovelace', id: 2n ** 60n + 1n }, { first: 'Ada', born: 1815, ratio: 0.1 + 0.2 }],
  [{ last: 'Hopper', id: -1 }, { first: 'Grace', tags: ['navy', null, { deep: [-0] }] }],
  [{ last: 'Hopper', id: 7.25 }, null],
  [{ last: 'Zuse', id: 2n ** 64n - 1n }, { note: 'ünicode 🧪', big: 2n ** 80n }],
  [{ last: 'Émile', id: 0 }, 'a string value'],
]

test('the sop CLI reads what Node wrote: same items, same order, check clean', () => {
  const path = scratch()
  const db = sop.open(path)
  db.transaction((tx) => {
    tx.createStore('people', { keySpec: 'last,id:desc', unique: true }).putMany(ITEMS)
    tx.createStore('blobs', { type: 'bytes' }).put(Buffer.from([0, 1, 2]), Buffer.from('bytes'))
  })
  const fromNode = db.transaction('read', (tx) => [...tx.openStore('people')])
  db.close()

  const fromCli = exported(path, 'people')
  assert.deepEqual(fromCli, fromNode)
  assert.equal(fromCli.length, ITEMS.length)
  // The order is the key spec's: last ascending, id descending; 'Émile' sorts
  // after 'Zuse' (bytes of UTF-8).
  assert.deepEqual(
    fromCli.map(([k]) => k.last),
    ['Hopper', 'Hopper', 'Lovelace', 'Zuse', 'Émile'],
  )
  assert.deepEqual(fromCli[0][0], { last: 'Hopper', id: 7.25 })
  assert.ok(Object.is(fromCli[1][1].tags[2].deep[0], -0), '-0 reaches the CLI as -0')
  // The CLI finds items by keys it parses itself.
  const got = cli(path, 'get', 'people', '{"last":"Zuse","id":18446744073709551615}')
  assert.deepEqual(decode(got.trim()), { note: 'ünicode 🧪', big: 2n ** 80n })
  assert.equal(cli(path, 'get', 'people', '{"id":7.250,"last":"Hopper"}').trim(), 'null', '7.250 is 7.25')
  cli(path, 'check')
  assert.match(cli(path, 'store', 'list'), /blobs[\s\S]*people|people[\s\S]*blobs/)
})

test('Node reads what the sop CLI wrote, and writes back what the CLI reads', () => {
  const path = scratch()
  cli(path, 'init')
  cli(path, 'store', 'create', 'items', '--unique')
  const lines = [
    '{"key":9223372036854775807,"value":{"max":"i64"}}',
    '{"key":1.0,"value":"one point zero"}',
    '{"key":-0.0,"value":-0.0}',
    '{"key":"e\\u0301","value":[1,2.5e-3,{"b":1,"a":2}]}',
    '{"key":null,"value":12345678901234567890123}',
  ]
  const file = `${path}-items.jsonl`
  writeFileSync(file, lines.join('\n') + '\n')
  cli(path, 'import', 'items', file)
  cli(path, 'put', 'items', '2', '{"from":"cli put"}')

  const db = sop.open(path)
  db.transaction((tx) => {
    const s = tx.openStore('items')
    assert.equal(s.count(), 6)
    assert.deepEqual(s.get(9223372036854775807n), { max: 'i64' })
    assert.equal(s.get(1), 'one point zero', 'the CLI key 1.0 is the Node key 1')
    assert.ok(Object.is(s.get(0), -0), 'key -0.0 is 0; the value stays -0')
    assert.deepEqual(s.get('e\u0301'), [1, 0.0025, { b: 1, a: 2 }])
    assert.deepEqual(Object.keys(s.get('e\u0301')[2]), ['b', 'a'])
    assert.equal(s.get(null), 12345678901234567890123n)
    assert.deepEqual(s.get(2), { from: 'cli put' })
    assert.deepEqual(
      [...s].map(([k]) => k),
      [null, -0, 1, 2, 9223372036854775807n, 'e\u0301'],
      'a key reads back as its stored document: -0.0 is -0',
    )
    s.put('node', { wrote: 2n ** 63n, neg: -0 })
    s.delete(1)
  })
  db.close()
  const back = exported(path, 'items')
  assert.deepEqual(back.at(-1), ['node', { wrote: 2n ** 63n, neg: -0 }])
  assert.equal(back.length, 6)
  assert.equal(back.find(([k]) => k === 1), undefined)
  // The text the CLI gives is the text Node wrote (compact JSON, member order kept).
  assert.equal(cli(path, 'get', 'items', '"node"').trim(), encode({ wrote: 2n ** 63n, neg: -0 }))
  cli(path, 'check')
})
