#!/usr/bin/env bash
# Before and after: sop-bench built (release) at BASE_REV and at the working tree, then
# `sop-go` (5 rounds) and `redb` (3 rounds) run on both in one session, before and after
# alternating round by round (and which of the two goes first alternating too), so drift
# of the machine's speed falls on both alike. Prints per workload, engine and phase the
# median of each side and the change in % (of the time; of the bytes for a size row).
#
#   bash scripts/bench-before-after.sh f646a21
#   COUNT=2000 bash scripts/bench-before-after.sh f646a21        # a quick check of the script
#   ENGINES=sop,sop-shared,redb RUNS_sop_go=9 bash scripts/bench-before-after.sh HEAD~3
#
# Settings (environment):
#   ENGINES          engines to run, in order (default sop,sop-shared: the ones whose code
#                    changes; "all" runs every engine compiled in). Each round starts one
#                    engine further down the list.
#   RUNS_sop_go, RUNS_redb  rounds per workload (default 5 and 3)
#   WORKLOADS        default "sop-go redb"
#   COUNT            --count for every workload (default: each workload's own)
#   BASE_WORKTREE    where BASE_REV is checked out (default ${TMPDIR:-/tmp}/sop-bench-base-<rev>;
#                    a detached git worktree, made if absent and left for the next run)
#   BASE_TARGET      cargo target dir of the baseline (default target/bench-base)
#   CARGO_TARGET_DIR target dir of the working tree's build (default target)
#   OUT              where the JSON of every run goes (default target/bench-before-after/<rev>-<time>)
#
# Both builds run at nice 10. A full run (default engines and rounds) takes three to five
# minutes once both are built (redb at 1M keys is most of it); a first build of either side
# as long as any release build (about 25 minutes on 2 busy cores).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 1 ] || { echo "usage: $0 BASE_REV" >&2; exit 2; }
base_rev=$(git rev-parse --verify --quiet "$1^{commit}") || { echo "no such revision: $1" >&2; exit 2; }
short=$(git rev-parse --short "$base_rev")

base_wt=${BASE_WORKTREE:-${TMPDIR:-/tmp}/sop-bench-base-$short}
base_target=${BASE_TARGET:-target/bench-base}
after_target=${CARGO_TARGET_DIR:-target}
engines=${ENGINES:-sop,sop-shared}
read -r -a workloads <<<"${WORKLOADS:-sop-go redb}"
out=${OUT:-target/bench-before-after/$short-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out" target/bench-data
base_target=$(realpath -m "$base_target")
after_target=$(realpath -m "$after_target")
out=$(realpath "$out")

# The baseline's own worktree, at BASE_REV.
if [ -e "$base_wt/.git" ]; then
    [ "$(git -C "$base_wt" rev-parse HEAD)" = "$base_rev" ] ||
        { echo "$base_wt is at another revision; remove it or set BASE_WORKTREE" >&2; exit 1; }
else
    git worktree add --detach "$base_wt" "$base_rev" >&2
fi

echo "== building the baseline ($short) into $base_target" >&2
(cd "$base_wt" && CARGO_TARGET_DIR="$base_target" nice -n 10 cargo build --release --locked -p sop-bench)
echo "== building the working tree into $after_target" >&2
CARGO_TARGET_DIR="$after_target" nice -n 10 cargo build --release --locked -p sop-bench

before_bin="$base_target/release/sop-bench"
after_bin="$after_target/release/sop-bench"
compare_bin="$after_target/release/sop-bench-compare"

# The engine list turned left by $1 (round r starts with the r-th engine).
rotated() {
    local -a list
    IFS=, read -r -a list <<<"$1"
    local n=${#list[@]} k=$(($2 % ${#list[@]})) i res=()
    for ((i = 0; i < n; i++)); do res+=("${list[$(((i + k) % n))]}"); done
    local IFS=,
    echo "${res[*]}"
}

# run SIDE WORKLOAD ROUND: one round of one side, its JSON into $out.
run() {
    local side=$1 w=$2 r=$3 bin args=()
    [ "$side" = before ] && bin=$before_bin || bin=$after_bin
    args=("$w" --dir target/bench-data --json "$out/$w-$side-$r.json")
    [ "$engines" = all ] || args+=(--engines "$(rotated "$engines" "$r")")
    [ -n "${COUNT:-}" ] && args+=(--count "$COUNT")
    echo "== $w round $((r + 1)): $side" >&2
    "$bin" "${args[@]}" >/dev/null
}

t0=$SECONDS
for w in "${workloads[@]}"; do
    runs_var="RUNS_${w//-/_}"
    runs=${!runs_var:-}
    [ -n "$runs" ] || case $w in sop-go) runs=5 ;; redb) runs=3 ;; *) runs=3 ;; esac
    for ((r = 0; r < runs; r++)); do
        if ((r % 2 == 0)); then
            run before "$w" "$r"
            run after "$w" "$r"
        else
            run after "$w" "$r"
            run before "$w" "$r"
        fi
    done
done
echo "== ran for $((SECONDS - t0)) s; every run's JSON is in $out" >&2

for w in "${workloads[@]}"; do
    echo
    echo "$w: before = $short, after = the working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', with changes'))"
    "$compare_bin" --before "$out/$w"-before-*.json --after "$out/$w"-after-*.json
done
