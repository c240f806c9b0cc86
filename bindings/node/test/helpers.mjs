// Shared by the tests: the package, scratch folders, the sop CLI.
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after } from 'node:test'

const require = createRequire(import.meta.url)
export const sop = require('..')
export const here = dirname(fileURLToPath(import.meta.url))
export const repo = resolve(here, '../../..')

const dirs = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A fresh folder path for a database (removed after the test file). */
export function scratch(name = 'db') {
  const d = mkdtempSync(join(tmpdir(), 'sop-node-'))
  dirs.push(d)
  return join(d, name)
}

/** The `sop` CLI the workspace build made (fails loudly when it is missing). */
export function sopCli() {
  const target = process.env.CARGO_TARGET_DIR || join(repo, 'target')
  const bin = process.env.SOP_CLI || join(target, 'debug', 'sop')
  if (!existsSync(bin)) {
    throw new Error(`the sop CLI is not at ${bin}: build it (cargo build -p sop-cli) or set SOP_CLI`)
  }
  return bin
}

/** The test Redis (scripts/redis-env.sh exports it; fails loudly when absent). */
export function redisUrl() {
  const url = process.env.SOP_TEST_REDIS_URL
  if (!url) throw new Error('SOP_TEST_REDIS_URL is not set: run under scripts/test.sh or source scripts/redis-env.sh')
  return url
}
