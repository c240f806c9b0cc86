#!/usr/bin/env bash
# The Node.js binding's tests (bindings/node): installs the package's tools from
# npm (npm ci), builds the native module with cargo (the workspace build) and runs
# `node --test`. Needs node and npm; the interop tests need the `sop` CLI of the
# workspace build (built here if missing), the Clustered tests SOP_TEST_REDIS_URL
# (scripts/test.sh exports it; without it they fail).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$root/$CARGO_TARGET_DIR" ;; esac

for tool in node npm cargo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "node-test: $tool is required" >&2; exit 1; }
done

cd bindings/node
npm ci --no-audit --no-fund --loglevel=error
# The native module from the workspace's own build (target/debug, shared with
# every other step) instead of `npm run build`: the napi CLI always passes
# --target, which builds sop a second time into target/<triple>/.
# The same build as scripts/test.sh's (a no-op after it; see go-test.sh).
cargo build --workspace --all-targets --locked
cp "$CARGO_TARGET_DIR/debug/libsop_node.so" "sop.linux-$(node -p process.arch)-gnu.node"
node --test --test-concurrency=2 test/*.test.mjs
