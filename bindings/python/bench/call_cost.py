"""The Python side of the bindings' call-cost benchmark (docs/BENCHMARKS.md,
"Cost per call over the C ABI").

N puts in one writing transaction, its commit, then N gets in a "nocheck"
transaction, each on a new database: the work of the Rust twin
crates/sop-ffi/examples/call_cost.rs. A byte store with 24-byte keys (key_ and
i in 20 digits) and 150-byte values (value_ and i in 20 digits, padded with x);
a JSON store with the key i and the value {"v": f"value_{i}"}. Prints a human
line per store and the machine-readable lines scripts/bench-call-cost.sh
collects: CALLCOST lang=python op=OP n=N ns_wall=W ns_cpu=C (ns per call; the
CPU time is the calling thread's, time.thread_time_ns: clock_gettime).

    python bench/call_cost.py [--count N] DIR

Run it with a release build of the sop wheel.
"""

import argparse
import os
import platform
import time
from typing import Any, Callable, Tuple

import sop

Span = Tuple[int, int]


def timed(fn: Callable[[], None]) -> Span:
    """Runs fn; its (wall, thread CPU) time in ns."""
    c0 = time.thread_time_ns()
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0, time.thread_time_ns() - c0


def run(
    path: str,
    n: int,
    kind: str,
    fill: Callable[[Any], None],
    read: Callable[[Any], None],
) -> None:
    """Fills a new store in one write transaction, commits, reads it back."""
    with sop.open(path) as db:
        tx = db.transaction("write")
        store = tx.create_store("kv", kind=kind)
        put = timed(lambda: fill(store))
        t0 = time.perf_counter_ns()
        tx.commit()
        commit = time.perf_counter_ns() - t0
        rtx = db.transaction("nocheck")
        get = timed(lambda: read(rtx.store("kv")))
        rtx.rollback()

    def per(ns: int) -> str:
        return f"{ns / n:.0f}"

    print(
        f"python, pyo3, {kind:<14} put {per(put[0]):>6} ns/op (cpu {per(put[1]):>6})"
        f"   commit {commit / 1e6:6.1f} ms"
        f"   get {per(get[0]):>6} ns/op (cpu {per(get[1]):>6})"
    )
    for op, (wall, cpu) in (("put", put), ("get", get)):
        print(f"CALLCOST lang=python op={kind}_{op} n={n} ns_wall={per(wall)} ns_cpu={per(cpu)} cpu=thread")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("dir", help="a new folder")
    a = ap.parse_args()
    n = a.count
    os.makedirs(a.dir, exist_ok=True)
    print(
        f"Python {platform.python_version()}, sop {sop.__version__}: "
        f"{n} puts in one transaction, then {n} gets (NoCheck)"
    )

    keys = [b"key_%020d" % i for i in range(n)]
    vals = [b"value_%020d" % i + b"x" * 124 for i in range(n)]

    def fill_bytes(s: Any) -> None:
        for k, v in zip(keys, vals):
            s[k] = v

    def read_bytes(s: Any) -> None:
        for k, v in zip(keys, vals):
            if s[k] != v:
                raise AssertionError(f"wrong value at {k!r}")

    def fill_json(s: Any) -> None:
        for i in range(n):
            s[i] = {"v": f"value_{i}"}

    def read_json(s: Any) -> None:
        for i in range(n):
            if s[i]["v"] != f"value_{i}":
                raise AssertionError(f"wrong value at {i}")

    run(os.path.join(a.dir, "python-bytes"), n, "bytes", fill_bytes, read_bytes)
    run(os.path.join(a.dir, "python-json"), n, "json", fill_json, read_json)


if __name__ == "__main__":
    main()
