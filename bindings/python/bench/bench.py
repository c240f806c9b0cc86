"""SOP from Python against the packages Python users would pick instead.

The workload of the Rust benchmark's `redb` workload (docs/BENCHMARKS.md), from
Python: N pairs of a 24-byte key and a 150-byte value drawn from a seeded
generator (random.Random(3): the key's bytes, then the value's, pair after pair).

  bulk_load      N inserts in one write transaction, committed
  random_reads   the N keys, got in insertion order (random places in the key space)
                 in one read transaction
  range_reads    N/2 scans of 10 entries, each from one of the first N/2 keys
  len            counting the entries

Engines: sop (a byte store; item by item, and put_many), sop-json (a JSON store,
keys and values as the hex text of the same bytes), py-lmdb, sqlite3 (standard
library; a WITHOUT ROWID table, executemany in one transaction) and rocksdict (a
WriteBatch), each if it imports. Every engine runs in a fresh folder with its
default durability (a durable commit).

    python bench.py [--n 1000000] [--engines sop,sop-json,lmdb,sqlite,rocksdict] [--dir DIR]

Run it with a release build of the sop wheel (bench/run.sh does all of it).
"""

import argparse
import gc
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

Pairs = List[Tuple[bytes, bytes]]


def make_pairs(n: int) -> Pairs:
    rng = random.Random(3)
    out = []
    for _ in range(n):
        k = rng.randbytes(24)
        v = rng.randbytes(150)
        out.append((k, v))
    return out


class Timer:
    def __init__(self) -> None:
        self.results: Dict[str, Tuple[float, int]] = {}

    def run(self, phase: str, ops: int, fn: Callable[[], Any]) -> Any:
        gc.collect()
        t0 = time.perf_counter()
        r = fn()
        self.results[phase] = (time.perf_counter() - t0, ops)
        return r


def bench_sop(dir_: str, pairs: Pairs, t: Timer, put_many: bool) -> None:
    import sop

    n = len(pairs)
    with sop.open(os.path.join(dir_, "sop")) as db:

        def load() -> None:
            with db.transaction("write") as tx:
                s = tx.create_store("t", kind="bytes")
                if put_many:
                    s.put_many(pairs)
                else:
                    for k, v in pairs:
                        s[k] = v

        t.run("bulk_load", n, load)

        def reads() -> None:
            with db.transaction("read") as tx:
                s = tx.store("t")
                for k, v in pairs:
                    if s[k] != v:
                        raise AssertionError("wrong value")

        t.run("random_reads", n, reads)

        def scans() -> None:
            with db.transaction("read") as tx:
                s = tx.store("t")
                got = 0
                for k, _ in pairs[: n // 2]:
                    r = s.range(k)
                    for _ in range(10):
                        if next(r, None) is None:
                            break
                        got += 1
                if got < (n // 2) * 9:
                    raise AssertionError("scans too short")

        t.run("range_reads", (n // 2) * 10, scans)

        def count() -> None:
            with db.transaction("read") as tx:
                if len(tx.store("t")) != n:
                    raise AssertionError("wrong count")

        t.run("len", n, count)


def bench_sop_json(dir_: str, pairs: Pairs, t: Timer) -> None:
    import sop

    n = len(pairs)
    docs = [(k.hex(), v.hex()) for k, v in pairs]
    with sop.open(os.path.join(dir_, "sop-json")) as db:

        def load() -> None:
            with db.transaction("write") as tx:
                s = tx.create_store("t")
                for k, v in docs:
                    s[k] = v

        t.run("bulk_load", n, load)

        def reads() -> None:
            with db.transaction("read") as tx:
                s = tx.store("t")
                for k, v in docs:
                    if s[k] != v:
                        raise AssertionError("wrong value")

        t.run("random_reads", n, reads)

        def scans() -> None:
            with db.transaction("read") as tx:
                s = tx.store("t")
                for k, _ in docs[: n // 2]:
                    r = s.range(k)
                    for _ in range(10):
                        if next(r, None) is None:
                            break

        t.run("range_reads", (n // 2) * 10, scans)

        def count() -> None:
            with db.transaction("read") as tx:
                if len(tx.store("t")) != n:
                    raise AssertionError("wrong count")

        t.run("len", n, count)


def bench_lmdb(dir_: str, pairs: Pairs, t: Timer) -> None:
    import lmdb

    n = len(pairs)
    env = lmdb.open(os.path.join(dir_, "lmdb"), map_size=16 << 30)
    try:

        def load() -> None:
            with env.begin(write=True) as txn:
                for k, v in pairs:
                    txn.put(k, v)

        t.run("bulk_load", n, load)

        def reads() -> None:
            with env.begin() as txn:
                for k, v in pairs:
                    if txn.get(k) != v:
                        raise AssertionError("wrong value")

        t.run("random_reads", n, reads)

        def scans() -> None:
            with env.begin() as txn:
                cur = txn.cursor()
                for k, _ in pairs[: n // 2]:
                    if not cur.set_range(k):
                        continue
                    for _ in range(10):
                        cur.key(), cur.value()
                        if not cur.next():
                            break

        t.run("range_reads", (n // 2) * 10, scans)

        def count() -> None:
            with env.begin() as txn:
                if txn.stat()["entries"] != n:
                    raise AssertionError("wrong count")

        t.run("len", n, count)
    finally:
        env.close()


def bench_sqlite(dir_: str, pairs: Pairs, t: Timer) -> None:
    n = len(pairs)
    con = sqlite3.connect(os.path.join(dir_, "sqlite.db"), isolation_level=None)
    try:
        con.execute("CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")

        def load() -> None:
            con.execute("BEGIN")
            con.executemany("INSERT INTO t VALUES (?, ?)", pairs)
            con.execute("COMMIT")

        t.run("bulk_load", n, load)

        def reads() -> None:
            con.execute("BEGIN")
            get = "SELECT v FROM t WHERE k = ?"
            for k, v in pairs:
                if con.execute(get, (k,)).fetchone()[0] != v:
                    raise AssertionError("wrong value")
            con.execute("COMMIT")

        t.run("random_reads", n, reads)

        def scans() -> None:
            con.execute("BEGIN")
            q = "SELECT k, v FROM t WHERE k >= ? ORDER BY k LIMIT 10"
            for k, _ in pairs[: n // 2]:
                for _row in con.execute(q, (k,)):
                    pass
            con.execute("COMMIT")

        t.run("range_reads", (n // 2) * 10, scans)

        def count() -> None:
            if con.execute("SELECT count(*) FROM t").fetchone()[0] != n:
                raise AssertionError("wrong count")

        t.run("len", n, count)
    finally:
        con.close()


def bench_rocksdict(dir_: str, pairs: Pairs, t: Timer) -> None:
    from rocksdict import Rdict, WriteBatch

    n = len(pairs)
    db = Rdict(os.path.join(dir_, "rocksdict"))
    try:

        def load() -> None:
            wb = WriteBatch(raw_mode=False)
            for k, v in pairs:
                wb.put(k, v)
            db.write(wb)
            db.flush()

        t.run("bulk_load", n, load)

        def reads() -> None:
            snap = db.snapshot()
            for k, v in pairs:
                if snap[k] != v:
                    raise AssertionError("wrong value")

        t.run("random_reads", n, reads)

        def scans() -> None:
            it = db.iter()
            for k, _ in pairs[: n // 2]:
                it.seek(k)
                for _ in range(10):
                    if not it.valid():
                        break
                    it.key(), it.value()
                    it.next()

        t.run("range_reads", (n // 2) * 10, scans)

        def count() -> None:
            c = sum(1 for _ in db.keys())
            if c != n:
                raise AssertionError(f"wrong count {c}")

        t.run("len", n, count)
    finally:
        db.close()


ENGINES: Dict[str, Callable[[str, Pairs, Timer], None]] = {
    "sop": lambda d, p, t: bench_sop(d, p, t, put_many=False),
    "sop-put_many": lambda d, p, t: bench_sop(d, p, t, put_many=True),
    "sop-json": bench_sop_json,
    "lmdb": bench_lmdb,
    "sqlite": bench_sqlite,
    "rocksdict": bench_rocksdict,
}


def fmt(secs: float, ops: int) -> str:
    rate = ops / secs if secs > 0 else float("inf")
    r = f"{rate / 1e6:.2f}M/s" if rate >= 1e6 else f"{rate / 1e3:.1f}K/s"
    return f"{secs * 1000:.0f} ms ({r})"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--dir", default=None, help="where the databases go (a temporary folder)")
    a = ap.parse_args(argv)

    pairs = make_pairs(a.n)
    results: Dict[str, Dict[str, Tuple[float, int]]] = {}
    skipped: Dict[str, str] = {}
    for name in a.engines.split(","):
        d = tempfile.mkdtemp(prefix=f"sop-pybench-{name}-", dir=a.dir)
        t = Timer()
        try:
            ENGINES[name](d, pairs, t)
            results[name] = t.results
        except ImportError as e:
            skipped[name] = str(e)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        if name in results:
            print(f"{name}: " + ", ".join(f"{p} {fmt(*r)}" for p, r in t.results.items()), file=sys.stderr)

    import sop

    print(f"N = {a.n:,}; Python {sys.version.split()[0]}; sop {sop.__version__}")
    names = list(results)
    phases = ["bulk_load", "random_reads", "range_reads", "len"]
    print("| phase | " + " | ".join(names) + " | sop / lmdb (time) |")
    print("| --- | " + " | ".join("---:" for _ in names) + " | ---: |")
    for p in phases:
        cells = [fmt(*results[n][p]) for n in names]
        ratio = ""
        if "sop" in results and "lmdb" in results:
            ratio = f"{results['sop'][p][0] / results['lmdb'][p][0]:.2f}x"
        print(f"| {p} | " + " | ".join(cells) + f" | {ratio} |")
    for n, why in skipped.items():
        print(f"\n{n}: not run ({why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
