#!/usr/bin/env bash
# The Python package's tests: makes a virtual environment under the cargo target
# folder, installs maturin, pytest and mypy from PyPI, builds the wheel of
# bindings/python (debug profile, sharing the workspace's target folder) and
# installs it, then runs pytest (bindings/python/tests) and mypy on the typed
# example. Needs the sop CLI (built here if missing) and a Redis for the
# Clustered tests: SOP_TEST_REDIS_URL, or a private one started here.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"

if [ -z "${SOP_TEST_REDIS_URL:-}" ]; then
  # shellcheck source=scripts/redis-env.sh
  . scripts/redis-env.sh
  start_test_redis
fi

venv="$target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "maturin>=1.9.4,<2" pytest mypy

# The same build as scripts/test.sh's (a no-op after it; see go-test.sh).
cargo build --workspace --all-targets --locked --quiet
wheels="$target/python-wheels"
rm -rf "$wheels"
(cd bindings/python && "$venv/bin/maturin" build --locked --quiet --out "$wheels" \
  --interpreter "$venv/bin/python")
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
  --no-deps "$wheels"/sop-*.whl

export SOP_CLI="$target/debug/sop"
cd bindings/python
# Tests run against the installed wheel, never the source folder.
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests
"$venv/bin/python" -m mypy --strict --cache-dir "$target/mypy-cache" examples/typed_example.py
"$venv/bin/python" examples/typed_example.py
