#!/usr/bin/env bash
# The whole default test suite. Installs what it needs first (Redis from Debian
# packages, what FUSE needs for the cutfs tests, Cassandra's jars from Maven
# Central, moto's S3 server from PyPI if it is not on PATH) and starts a private
# Redis, a private Cassandra node and a private S3 server on free loopback
# ports. Run from anywhere. Every step runs even when one before it
# failed (the build aside); a summary of what ran ends the output, and the exit
# status is 1 if anything failed.
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
# A private Cassandra node for the Cassandra registry's tests: it starts while
# the build runs (10 to 30 s, about 1 GiB); the tests wait for it below.
# shellcheck source=scripts/cassandra-env.sh
. scripts/cassandra-env.sh
start_test_cassandra
# A private S3 server (moto's, in memory) for the object store backend's tests.
# shellcheck source=scripts/s3-env.sh
. scripts/s3-env.sh
start_test_s3
# Headless Chromium and its WebDriver, from Debian packages, for the Data
# Manager's browser test (crates/sop-manager/tests/browser.rs starts
# chromedriver itself; without them it fails, it never skips).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  bash scripts/apt-install.sh chromium chromium-driver || true
fi
SOP_TEST_CHROMIUM="${SOP_TEST_CHROMIUM:-$(command -v chromium || echo chromium-not-installed)}"
SOP_TEST_CHROMEDRIVER="${SOP_TEST_CHROMEDRIVER:-$(command -v chromedriver || echo chromedriver-not-installed)}"
export SOP_TEST_CHROMIUM SOP_TEST_CHROMEDRIVER

summary=()
failed=0
# step NAME COMMAND...: run it, its output as it comes, and note how it went.
step() {
  local name=$1 t0=$SECONDS status=ok
  shift
  echo "== $name"
  "$@" || status=FAILED
  summary+=("$(printf '%-8s %5ss  %s' "$status" $((SECONDS - t0)) "$name")")
  [ "$status" = ok ] || failed=1
  [ "$status" = ok ]
}

# The tests' output, kept for the summary (and afterwards, to read at leisure).
test_log="${CARGO_TARGET_DIR:-target}/test-output.log"
mkdir -p "$(dirname "$test_log")"
: >"$test_log"
run_tests() {
  # --no-fail-fast: one failing test binary must not hide the others.
  "$@" 2>&1 | tee -a "$test_log"
  return "${PIPESTATUS[0]}"
}

print_summary() {
  echo
  echo "== summary"
  printf '%s\n' "${summary[@]}"
  # Disk: a clean run once filled CI's disk, so every run says what it took.
  local target_dir="${CARGO_TARGET_DIR:-target}"
  echo "disk: target $(du -sh "$target_dir" 2>/dev/null | cut -f1), free $(df -h --output=avail "$target_dir" 2>/dev/null | tail -1 | tr -d ' ')"
  if [ -s "$test_log" ]; then
    awk '
      /^test result:/ {
        bins++
        for (i = 1; i <= NF; i++) {
          if ($(i) ~ /^(passed|failed|ignored);?$/) { k = $(i); sub(/;/, "", k); n[k] += $(i - 1) }
        }
      }
      END { printf "tests: %d passed, %d failed, %d ignored, in %d test binaries and doc-test runs\n",
              n["passed"], n["failed"], n["ignored"], bins }' "$test_log"
    grep -E '^---- .* stdout ----$' "$test_log" | sed -E 's/^---- (.*) stdout ----$/  failed: \1/' || true
    grep -oE 'to rerun pass `[^`]*`' "$test_log" | sed -E 's/to rerun pass `(.*)`/  failed binary: \1/' || true
    echo "(the tests' whole output: $test_log)"
  fi
}

# Cargo's own progress shows (a first build takes many minutes).
if ! step "build" cargo build --workspace --all-targets --locked; then
  print_summary
  exit 1
fi
step "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings || true
# The public API as users see it (without the test-hooks feature): every item
# documented (deny(missing_docs) in lib.rs), no broken doc links.
step "docs" env RUSTDOCFLAGS="-D warnings" cargo doc -p sop --no-deps --locked || true
step "clippy (sop's API, without test-hooks)" cargo clippy -p sop --lib --locked -- -D warnings || true
# Without it the Cassandra tests fail (they never skip).
step "cassandra" wait_test_cassandra || true
step "tests" run_tests cargo test --workspace --locked --no-fail-fast -- --test-threads 2 || true
step "go binding (bindings/go: go vet, go test -race)" bash scripts/go-test.sh || true
step "java binding (bindings/java, JUnit 5)" bash scripts/java-test.sh || true
step "python (bindings/python: wheel, pytest, mypy)" scripts/python-test.sh || true
step "node binding (bindings/node)" bash scripts/node-test.sh || true
# After the bindings' steps: reuses what they built (the venv, the Node module, the Java classes).
step "interop (one folder, five languages: Python, Go, Java, Node, sop CLI)" bash scripts/interop-test.sh || true
step "sop without default features (no Redis code)" \
  run_tests cargo test -p sop --no-default-features --locked --test features || true

print_summary
exit "$failed"
