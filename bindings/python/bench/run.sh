#!/usr/bin/env bash
# Build the release wheel of the sop package, install it with py-lmdb and
# rocksdict into a virtual environment under the cargo target folder, and run
# bench.py with the arguments given (e.g. --n 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/../../target}"
export CARGO_TARGET_DIR="$target"
venv="$target/python-bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" lmdb
# rocksdict is optional: the benchmark reports it as not run if it is missing.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check rocksdict ||
  echo "rocksdict did not install; going on without it" >&2
wheels="$target/python-wheels-release"
rm -rf "$wheels"
"$venv/bin/maturin" build --release --locked --quiet --out "$wheels" --interpreter "$venv/bin/python"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/sop-*.whl
exec "$venv/bin/python" bench/bench.py "$@"
