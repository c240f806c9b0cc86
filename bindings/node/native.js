// Loads the native module (sop.<platform>-<arch>[-<abi>].node) built by
// `npm run build` (napi build --platform) or copied there by
// scripts/node-test.sh from the workspace's cargo build. Written by hand (not
// generated), so a build that only copies the library needs no napi CLI.
'use strict'

const { existsSync } = require('fs')
const { join } = require('path')

function abiSuffix() {
  if (process.platform !== 'linux') return ''
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
  const glibc = report && report.header && report.header.glibcVersionRuntime
  return glibc ? '-gnu' : '-musl'
}

function candidates() {
  const arch = process.arch
  switch (process.platform) {
    case 'linux':
      return [`sop.linux-${arch}${abiSuffix()}.node`]
    case 'darwin':
      return [`sop.darwin-${arch}.node`, 'sop.darwin-universal.node']
    case 'win32':
      return [`sop.win32-${arch}-msvc.node`]
    default:
      return [`sop.${process.platform}-${arch}.node`]
  }
}

const tried = []
let binding = null
for (const name of candidates()) {
  const file = join(__dirname, name)
  tried.push(file)
  if (existsSync(file)) {
    binding = require(file)
    break
  }
}
if (!binding) {
  throw new Error(
    `sop-db: no native module for ${process.platform}-${process.arch}; looked for ${tried.join(', ')}. ` +
      'Build it with `npm run build` in bindings/node (needs Rust and cargo).'
  )
}
module.exports = binding
