#!/usr/bin/env bash
# The Go binding's tests (bindings/go): builds the C ABI's static library and
# the sop CLI (debug, in ${CARGO_TARGET_DIR:-target}), then runs go vet and
# go test -race. Uses the test Redis of scripts/test.sh (SOP_TEST_REDIS_URL), or
# starts its own. Needs Go 1.24+ and a C compiler; exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    echo "go is required (Go 1.24 or newer)" >&2
    exit 1
  fi
fi
command -v cc >/dev/null 2>&1 || bash scripts/apt-install.sh gcc

if [ -z "${SOP_TEST_REDIS_URL:-}" ]; then
  # shellcheck source=scripts/redis-env.sh
  . scripts/redis-env.sh
  start_test_redis
fi

target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
# The same build as scripts/test.sh's (a no-op after it): building only
# sop-ffi and sop-cli would unify other features and compile sop once more.
cargo build --workspace --all-targets --locked

# The library this run built, searched before the package's default paths.
export CGO_LDFLAGS="-L$target/debug ${CGO_LDFLAGS:-}"
export SOP_CLI="$target/debug/sop"
cd bindings/go
go vet ./...
# -count=1: always run (go does not see a rebuilt C library as a change).
go test -race -count=1 "$@" ./...
