#!/usr/bin/env bash
# The Java binding's tests (bindings/java): JUnit 5 under Maven Surefire.
# Builds libsop_ffi and the `sop` CLI (debug, reusing ${CARGO_TARGET_DIR:-target}),
# installs a JDK and Maven from Debian if missing, starts a private Redis unless
# SOP_TEST_REDIS_URL is set (scripts/test.sh sets it), and runs `mvn test` with the
# library packed into the test class path. Ends with "java: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  bash scripts/apt-install.sh openjdk-17-jdk-headless maven
fi

# The same build as scripts/test.sh's (a no-op after it; see go-test.sh).
cargo build --workspace --all-targets --locked
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac

if [ -z "${SOP_TEST_REDIS_URL:-}" ]; then
  # shellcheck source=scripts/redis-env.sh
  . scripts/redis-env.sh
  start_test_redis
fi
export SOP_CLI="$target/debug/sop"

cd bindings/java
rm -rf target/surefire-reports
status=0
mvn -B -q -Dstyle.color=never test -Dsop.native.dir="$target/debug" || status=$?

# Surefire's own summary is quiet under -q: count its reports (on a line of its own:
# Maven leaves colour resets without a newline even in batch mode).
echo
awk -F'"' '/<testsuite / {
    for (i = 1; i < NF; i += 2) {
      a = $i; gsub(/.* /, "", a)
      if (a == "tests=") t += $(i + 1)
      if (a == "failures=" || a == "errors=") f += $(i + 1)
      if (a == "skipped=") s += $(i + 1)
    }
  }
  END { printf "java: %d passed, %d failed, %d skipped\n", t - f - s, f, s }' target/surefire-reports/TEST-*.xml
exit "$status"
