#!/usr/bin/env bash
# Fuzz every decoder of on-disk bytes with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGETs default to all of them. Needs a
# nightly toolchain (`rustup toolchain install nightly`); installs cargo-fuzz
# if it is missing. Not part of the default test run: the stable counterpart is
# crates/sop/tests/decode_garbage.rs. Crashes are saved under
# fuzz/artifacts/TARGET/; reproduce one with
#   (cd fuzz && cargo +nightly fuzz run TARGET artifacts/TARGET/crash-...)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(decode_node apply_delta decode_record decode_key wire_reader)
fi
case "$secs" in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: a nightly toolchain is needed: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    nice -n 10 cargo install --locked cargo-fuzz
fi

# Seed inputs: valid encodings made by the stable property test's generators.
seeds="$root/fuzz/seeds"
rm -rf "$seeds"
(cd "$root" && SOP_FUZZ_SEEDS="$seeds" nice -n 10 cargo test -q -p sop --test decode_garbage write_fuzz_seeds >/dev/null)

cd "$root/fuzz"
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "$seeds/$t"
    echo "=== $t: ${secs}s"
    log="$(mktemp)"
    if nice -n 10 cargo +nightly fuzz run "$t" "corpus/$t" "$seeds/$t" -- \
        -max_total_time="$secs" -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
    else
        status=1
        echo "!!! $t found a crash (or failed to build); log: $log" >&2
        grep -E -A3 'panicked|ERROR|error\[' "$log" | head -20 >&2 || true
        continue
    fi
    rm -f "$log"
done
exit $status
