#!/usr/bin/env bash
# One folder, five languages (tests/interop): Python, Go, Java and Node.js
# processes and `sop import` write one store of one folder at the same time,
# then every one of them reads it back; tests/interop/driver.py compares what
# they read. Standalone, then Clustered with the Redis of SOP_TEST_REDIS_URL
# (scripts/test.sh exports it; without it this fails). Builds what it needs in
# ${CARGO_TARGET_DIR:-target} (debug), reusing what the bindings' own scripts
# built there: sop-ffi and the CLI, the Python venv (python-venv), the Node
# module (the workspace build's, copied into bindings/node), the Java classes
# (bindings/java/target). Every toolchain must be present: a missing one is an
# error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"

fail() { echo "interop-test: $*" >&2; exit 1; }
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
for tool in cargo python3 go cc java javac mvn node npm; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is required (see docs/BINDINGS.md)"
done
[ -n "${SOP_TEST_REDIS_URL:-}" ] || fail "SOP_TEST_REDIS_URL is not set (the Clustered run needs a Redis; scripts/test.sh starts one)"

export PYTHONDONTWRITEBYTECODE=1 # nothing written into tests/interop
work="$target/interop"
mkdir -p "$work"

# The C ABI (Go links the static library, Java loads the shared one) and the CLI.
# The same build as scripts/test.sh's (a no-op after it; see go-test.sh).
cargo build --workspace --all-targets --locked --quiet

# Python: the venv of scripts/python-test.sh, with the wheel of this tree.
venv="$target/python-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
[ -x "$venv/bin/maturin" ] || "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2"
rm -rf "$work/wheel"
(cd bindings/python && "$venv/bin/maturin" build --locked --quiet --out "$work/wheel" --interpreter "$venv/bin/python")
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$work"/wheel/sop-*.whl

# Node: the native module from the workspace's own build, as scripts/node-test.sh
# does (`npm run build` would build sop a second time, into target/<triple>/).
cp "$target/debug/libsop_node.so" "bindings/node/sop.linux-$(node -p process.arch)-gnu.node"

# Java: the binding's classes (with libsop_ffi.so packed in), its class path, then the program.
(cd bindings/java && mvn -B -q -Dstyle.color=never compile -Dsop.native.dir="$target/debug" \
  && mvn -B -q -Dstyle.color=never dependency:build-classpath -Dmdep.includeScope=runtime \
       -Dmdep.outputFile="$work/java.classpath")
java_cp="$root/bindings/java/target/classes:$(cat "$work/java.classpath")"
rm -rf "$work/java-classes"
javac -d "$work/java-classes" -cp "$java_cp" tests/interop/java/*.java

# Go: the program, linked with this build's libsop_ffi.a.
(cd tests/interop/go && CGO_LDFLAGS="-L$target/debug ${CGO_LDFLAGS:-}" go build -o "$work/go-interop" .)

"$venv/bin/python" tests/interop/driver.py \
  --sop "$target/debug/sop" \
  --python "$venv/bin/python" \
  --go "$work/go-interop" \
  --java "$(printf '%q ' java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      "-Dsop.library.path=$target/debug/libsop_ffi.so" -cp "$work/java-classes:$java_cp" Interop)" \
  --node node \
  --work "$work/run" \
  --redis "$SOP_TEST_REDIS_URL"
