#!/usr/bin/env bash
# The bindings' call-cost benchmark in one run (docs/BENCHMARKS.md, "Cost per
# call over the C ABI"): N puts in one transaction, its commit, N gets, in Rust
# (the sop crate, and the C ABI called from Rust) and in each binding.
# Release builds in ${CARGO_TARGET_DIR:-target}. Usage: scripts/bench-call-cost.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
n=${1:-100000}
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
work="$(mktemp -d "$target/call-cost.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -p sop-ffi
cargo build --release --locked -p sop-ffi --example call_cost
"$target/release/examples/call_cost" --count "$n" "$work/rust"

export PATH="$PATH:/usr/local/go/bin"
(cd bindings/go && CGO_LDFLAGS="-L$target/release" go build -o "$work/callcost-go" ./cmd/callcost)
"$work/callcost-go" -count "$n" "$work/go" | tail -n +2
