"""One folder, five languages: the interop test's driver (scripts/interop-test.sh runs it).

For each mode (Standalone, then Clustered with the Redis at --redis):

1. `sop init` a folder, create one unique JSON store "interop" with the key
   spec "group,n:desc,name", and import COUNTERS counters {"count": 0}.
2. Start at the same time a Python, a Go, a Java and a Node.js process (each
   opens the folder, says "ready", and starts when the driver creates the start
   file) and `sop import`: each language adds ITEMS items of its own group and
   INCREMENTS increments of the shared counters, retrying on conflicts; Go also
   writes the fixed set of awkward keys (edge.jsonl) as exact text; the CLI
   imports its ITEMS items.
3. Then each of the four programs reads the whole store in one read
   transaction and prints one canonical line per item (canon.py describes the
   form); the CLI's `sop export` is read by this driver with Python's json.
4. Every reader's lines must equal the expected lines (the items each writer
   was told to write, in the store's order, the fixed set in the order
   edge.jsonl lists it, each counter at exactly its number of increments); the
   text Go and Java got from the C ABI must equal `sop export`'s byte for byte;
   `sop check` must be clean.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import canon

HERE = Path(__file__).resolve().parent
STORE = "interop"
KEY_SPEC = "group,n:desc,name"
LANGS = ["python", "go", "java", "node"]
TIMEOUT = 240.0


class Failure(Exception):
    pass


def run(cmd: List[str], what: str, **kw: object) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, **kw)  # type: ignore[call-overload]
    if p.returncode != 0:
        raise Failure(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return str(p.stdout)


def item(g: str, i: int) -> Tuple[dict, dict]:
    """Item i of group g: the formula every writer uses."""
    key = {"group": g, "n": i, "name": f"{g}-{i:04d}"}
    val = {
        "lang": g,
        "i": i,
        "tenth": i * 0.1,
        "big": 2**62 + i,
        "tags": [g, None if i % 3 == 0 else "x"],
        "nested": {"sq": i * i, "neg": -i},
    }
    return key, val


def expected_lines(items: int, count: int, counters: int) -> List[str]:
    """What every reader must print: groups ascending, n descending within each."""
    own = {}
    for g in ["cli"] + LANGS:
        own[g] = [canon.line(*item(g, i)) for i in reversed(range(items))]
    counter_lines = [
        canon.line({"group": "counter", "n": k, "name": f"c{k}"}, {"count": count})
        for k in reversed(range(counters))
    ]
    edge = [
        canon.line(d["key"], d["value"])
        for d in map(json.loads, (HERE / "edge.jsonl").read_text(encoding="utf-8").splitlines())
    ]
    blocks = {**own, "counter": counter_lines, "edge": edge}
    return [line for g in sorted(blocks) for line in blocks[g]]


class Proc:
    """A child process whose stdout lines arrive on a queue."""

    def __init__(self, name: str, cmd: List[str], log: Path, env: Dict[str, str]) -> None:
        self.name, self.cmd = name, cmd
        self.err = open(log, "w+")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err, text=True, env=env)
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.out: List[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def stderr(self) -> str:
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def expect_ready(self, deadline: float) -> None:
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise Failure(f"{self.name} did not say ready in time") from None
        if line != "ready":
            self.p.wait(timeout=10)
            raise Failure(f"{self.name} did not start (exit {self.p.returncode}, said {line!r}):\n{self.stderr()}")

    def finish(self, deadline: float) -> List[str]:
        try:
            rc = self.p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise Failure(f"{self.name} did not finish in time") from None
        out = []
        while (line := self.lines.get(timeout=10)) is not None:
            out.append(line)
        if rc != 0:
            raise Failure(f"{self.name} failed (exit {rc}): {' '.join(self.cmd)}\n" + "\n".join(out) + "\n" + self.stderr())
        return out

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def first_difference(got: List[str], want: List[str]) -> str:
    for n, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"line {n + 1}:\n    got  {g}\n    want {w}"
    return f"{len(got)} lines, {len(want)} expected (the shorter is a prefix of the longer)"


def run_mode(a: argparse.Namespace, mode: str, redis: Optional[str]) -> None:
    base = Path(a.work) / mode
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    db = str(base / "db")
    sop = [a.sop, "--db", db]
    t0 = time.monotonic()
    run(sop + ["init"] + (["--redis", redis] if redis else []), "sop init")
    coordination = json.loads((base / "db" / "sop.json").read_text())["coordination"]
    if coordination != ({"mode": "redis", "url": redis} if redis else {"mode": "standalone"}):
        raise Failure(f"[{mode}] sop init saved the coordination {coordination}")
    # Every program opens the folder with default options: it takes the saved coordination.
    run(sop + ["store", "create", STORE, "--unique", "--key-spec", KEY_SPEC], "sop store create")
    counters = base / "counters.jsonl"
    counters.write_text("".join(
        json.dumps({"key": {"group": "counter", "n": k, "name": f"c{k}"}, "value": {"count": 0}}) + "\n"
        for k in range(a.counters)))
    run(sop + ["import", STORE, str(counters)], "sop import (the counters)")
    cli_file = base / "cli.jsonl"
    with open(cli_file, "w", encoding="utf-8") as f:
        for i in range(a.items):
            k, v = item("cli", i)
            f.write(json.dumps({"key": k, "value": v}, separators=(",", ":")) + "\n")

    start = str(base / "start")
    env = dict(os.environ)
    common = [str(a.items), str(a.increments), str(a.counters), start]
    writers = {
        "python": [a.python, str(HERE / "python" / "interop.py"), "write", db, "python", *common],
        "go": [a.go, "write", db, "go", *common, str(HERE / "edge.jsonl")],
        "java": [*a.java, "write", db, "java", *common],
        "node": [a.node, str(HERE / "node" / "interop.js"), "write", db, "node", *common],
    }
    procs: List[Proc] = []
    try:
        for name, cmd in writers.items():
            procs.append(Proc(name, cmd, base / f"{name}-write.log", env))
        deadline = time.monotonic() + 60
        for p in procs:
            p.expect_ready(deadline)
        t1 = time.monotonic()
        Path(start).touch()
        procs.append(Proc("sop import", sop + ["import", STORE, str(cli_file), "--batch", "100"],
                          base / "cli-write.log", env))
        deadline = time.monotonic() + TIMEOUT
        for p in procs:
            for line in p.finish(deadline):
                print(f"  [{mode}] {line}")
        t2 = time.monotonic()
    finally:
        for p in procs:
            p.kill()

    out = {name: base / f"{name}.canon" for name in LANGS}
    raw = {name: base / f"{name}.raw" for name in ("go", "java")}
    readers = {
        "python": [a.python, str(HERE / "python" / "interop.py"), "read", db, str(out["python"])],
        "go": [a.go, "read", db, str(out["go"]), str(raw["go"])],
        "java": [*a.java, "read", db, str(out["java"]), str(raw["java"])],
        "node": [a.node, str(HERE / "node" / "interop.js"), "read", db, str(out["node"])],
        "sop export": sop + ["export", STORE, str(base / "cli.raw")],
    }
    procs = []
    try:
        for name, cmd in readers.items():
            procs.append(Proc(name, cmd, base / f"{name.replace(' ', '-')}-read.log", env))
        deadline = time.monotonic() + TIMEOUT
        for p in procs:
            p.finish(deadline)
    finally:
        for p in procs:
            p.kill()
    t3 = time.monotonic()

    exported = (base / "cli.raw").read_text(encoding="utf-8").splitlines()
    got = {name: path.read_text(encoding="utf-8").splitlines() for name, path in out.items()}
    got["sop export"] = [canon.line(d["key"], d["value"]) for d in map(json.loads, exported)]
    assert a.increments % a.counters == 0
    count = len(LANGS) * a.increments // a.counters
    want = expected_lines(a.items, count, a.counters)
    bad = [f"{name}: {first_difference(lines, want)}" for name, lines in got.items() if lines != want]
    for name, path in raw.items():
        text = path.read_text(encoding="utf-8").splitlines()
        if text != exported:
            bad.append(f"{name}'s text from the C ABI differs from sop export's: {first_difference(text, exported)}")
    if bad:
        raise Failure(f"[{mode}] the readers disagree with the expected items (files in {base}):\n  " + "\n  ".join(bad))
    check = json.loads(run(sop + ["--json", "check"], "sop check"))
    t4 = time.monotonic()
    print(f"  [{mode}] {len(want)} items read identically by python, go, java, node and sop export "
          f"in the same order, each counter at {count}; sop check: {json.dumps(check, separators=(',', ':'))[:300]}")
    print(f"  [{mode}] setup {t1 - t0:.1f}s (incl. start-up), concurrent writes {t2 - t1:.1f}s, "
          f"reads {t3 - t2:.1f}s, check {t4 - t3:.1f}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sop", required=True, help="the sop CLI")
    ap.add_argument("--python", required=True, help="a Python with the sop wheel installed")
    ap.add_argument("--go", required=True, help="the built Go program (tests/interop/go)")
    ap.add_argument("--java", required=True, type=shlex.split, help="the command that runs Interop (java -cp ... Interop)")
    ap.add_argument("--node", required=True, help="node")
    ap.add_argument("--work", required=True, help="a scratch folder")
    ap.add_argument("--redis", help="also run Clustered with this Redis URL")
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--increments", type=int, default=40)
    ap.add_argument("--counters", type=int, default=4)
    a = ap.parse_args()
    try:
        run_mode(a, "standalone", None)
        if a.redis:
            run_mode(a, "clustered", a.redis)
    except Failure as e:
        print(f"interop: FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
