#!/usr/bin/env bash
# Every sop-bench workload at its default (full) size, one after the other, each
# writing its JSON to docs/bench-results/<workload>-<count>-<commit>.json and its
# table to the same name with .txt. Long: about an hour on a 2-core machine.
#
#   bash scripts/bench-all.sh                 # sop-go, redb, mixed, swarm
#   bash scripts/bench-all.sh redb mixed      # only these
#   COUNT_redb=200000 OPS_mixed=100000 bash scripts/bench-all.sh redb mixed
#   RUNS_sop_go=5 RUNS_redb=3 bash scripts/bench-all.sh   # medians of rounds (--runs)
#
# The peers are every engine compiled in (add RocksDB with
# BENCH_FEATURES=rocksdb; its build needs libclang-dev, which this script then
# installs from Debian packages). sop-redis needs redis-server: this script
# installs it like scripts/test.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/redis-env.sh
ensure_redis_server

workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(sop-go redb mixed swarm)
commit=$(git rev-parse --short HEAD)
out=docs/bench-results
mkdir -p "$out" target/bench-data

features=()
if [ -n "${BENCH_FEATURES:-}" ]; then
    features=(--features "$BENCH_FEATURES")
    if [[ "$BENCH_FEATURES" == *rocksdb* ]] && ! ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/llvm-*/lib/libclang-[0-9]*.so* >/dev/null 2>&1; then
        echo "== installing libclang-dev (Debian package; RocksDB's bindings need it)" >&2
        sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
        $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq libclang-dev >/dev/null
    fi
fi
cargo build --release --locked -p sop-bench "${features[@]}"

for w in "${workloads[@]}"; do
    count_var="COUNT_${w//-/_}"
    ops_var="OPS_${w//-/_}"
    runs_var="RUNS_${w//-/_}"
    args=("$w")
    [ -n "${!count_var:-}" ] && args+=(--count "${!count_var}")
    [ -n "${!ops_var:-}" ] && args+=(--ops "${!ops_var}")
    [ -n "${!runs_var:-}" ] && args+=(--runs "${!runs_var}")
    name="$w-${!count_var:-default}-$commit"
    echo "== sop-bench ${args[*]}  ->  $out/$name.json" >&2
    "${CARGO_TARGET_DIR:-target}/release/sop-bench" "${args[@]}" --dir target/bench-data --json "$out/$name.json" \
        | tee "$out/$name.txt"
done
