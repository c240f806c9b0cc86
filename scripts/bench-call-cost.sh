#!/usr/bin/env bash
# The bindings' call-cost benchmark in one run (docs/BENCHMARKS.md, "Cost per
# call over the C ABI"): N puts in one transaction, its commit, N gets, in Rust
# (the sop crate, and the C ABI called from Rust), Go, Java, Node and Python, in
# turn. Byte store: 24-byte keys, 150-byte values; JSON store: the key i, the
# value {"v":"value_i"}. Each program prints `CALLCOST lang=L op=OP n=N
# ns_wall=W ns_cpu=C` lines (ns per call); this script gathers them into one
# table. Release builds in ${CARGO_TARGET_DIR:-target} (sop-ffi, the Node module,
# the Python wheel in a virtual environment there).
# Usage: scripts/bench-call-cost.sh [N]   (prefix with `nice` on a shared machine)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
n=${1:-100000}
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"
work="$(mktemp -d "$target/call-cost.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log="$target/call-cost.log"
: >"$log"

for tool in cargo go mvn node npm python3; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/local/go/bin/$tool" ] ||
    { echo "bench-call-cost: $tool is required" >&2; exit 1; }
done
export PATH="$PATH:/usr/local/go/bin"

# Builds first, so that no build runs beside a measure.
echo "== building (release)" >&2
cargo build --release --locked -p sop-ffi --lib --example call_cost
(cd bindings/go && CGO_LDFLAGS="-L$target/release" go build -o "$work/callcost-go" ./cmd/callcost)
(cd bindings/java && mvn -B -q -Dstyle.color=never test-compile -Dsop.native.dir="$target/release")
(cd bindings/node && npm ci --no-audit --no-fund --loglevel=error && npm run build:release)
venv="$target/python-bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2"
wheels="$target/python-wheels-release"
rm -rf "$wheels"
(cd bindings/python && "$venv/bin/maturin" build --release --locked --quiet --out "$wheels" \
  --interpreter "$venv/bin/python")
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
  --no-deps "$wheels"/sop-*.whl

# The measures, one language after another; every line also goes to $log.
measure() {
  echo "== $1" | tee -a "$log"
  shift
  "$@" | tee -a "$log"
}
measure "Rust (sop crate, and the C ABI from Rust)" \
  "$target/release/examples/call_cost" --count "$n" "$work/rust"
measure "Go (cgo)" "$work/callcost-go" -count "$n" "$work/go"
measure "Java (JNA; a warm-up round at N/5 first)" \
  bash -c 'cd bindings/java && exec mvn -B -q -Dstyle.color=never exec:java \
    -Dsop.native.dir="$1/release" -Dexec.args="$2"' _ "$target" "$n"
measure "Node (napi-rs)" node bindings/node/bench/call_cost.mjs "$n" "$work/node"
measure "Python (PyO3)" "$venv/bin/python" bindings/python/bench/call_cost.py --count "$n" "$work/python"

# One table: ns per call, thread CPU time (wall clock in parentheses). The log
# stays in $log.
echo
echo "$(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), N=$n"
echo
awk '
  BEGIN {
    names["rust"] = "Rust, `sop` crate"; names["rust-cabi"] = "Rust, C ABI"
    names["go"] = "Go (cgo)"; names["java"] = "Java (JNA)"
    names["node"] = "Node (napi-rs)"; names["python"] = "Python (PyO3)"
    split("bytes_put bytes_get json_put json_get", ops, " ")
  }
  $1 == "CALLCOST" {
    split("", f)
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    if (!(f["lang"] in seen)) { seen[f["lang"]] = 1; order[++langs] = f["lang"] }
    cpu = f["ns_cpu"] == "" ? "–" : f["ns_cpu"] (f["cpu"] == "process" ? "*" : "")
    if (f["cpu"] == "process") process = 1
    cell[f["lang"], f["op"]] = cpu " (" f["ns_wall"] ")"
  }
  END {
    print "| ns per call, thread CPU (wall) | byte put | byte get | JSON put | JSON get |"
    print "| --- | ---: | ---: | ---: | ---: |"
    for (l = 1; l <= langs; l++) {
      row = "| " (order[l] in names ? names[order[l]] : order[l])
      for (o = 1; o <= 4; o++) row = row " | " ((order[l], ops[o]) in cell ? cell[order[l], ops[o]] : "–")
      print row " |"
    }
    if (process) print "\n\\* the whole process'"'"'s CPU time (the language has no clock of one thread'"'"'s)"
  }' "$log"
