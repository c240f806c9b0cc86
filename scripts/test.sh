#!/usr/bin/env bash
# The whole default test suite. Installs what it needs first (Redis from Debian
# packages, and what FUSE needs for the cutfs tests) and starts a private Redis on
# a free loopback port. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi

# shellcheck source=scripts/redis-env.sh
. scripts/redis-env.sh
start_test_redis
# shellcheck source=scripts/fuse-env.sh
. scripts/fuse-env.sh
ensure_fuse

echo "== build"
cargo build --workspace --all-targets --locked 2>&1 | tail -n 3

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
# --no-fail-fast: one failing test binary must not hide the others (cargo lists
# every failed one at the end).
cargo test --workspace --locked --no-fail-fast -- --test-threads 2

echo "== sop without default features (no Redis code)"
cargo test -p sop --no-default-features --locked --test features
