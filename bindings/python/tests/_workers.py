"""Work for the processes of test_processes.py (a module of its own, so that
processes started with "spawn" can import it)."""

import sys
from typing import Optional

import sop


def write(path: str, redis: Optional[str], worker: int, keys: int, bumps: int) -> None:
    """Open the database anew, add `keys` items of its own and bump the shared
    counter `bumps` times, one transaction each."""
    with sop.open(path, redis=redis) as db:
        for i in range(keys):

            def add(tx: sop.Transaction, i: int = i) -> None:
                tx.store("items")[f"w{worker}-{i:04}"] = {"worker": worker, "i": i}

            db.run_in_transaction(add, retries=1000)
        for _ in range(bumps):

            def bump(tx: sop.Transaction) -> None:
                c = tx.store("counter")
                c["n"] = c["n"] + 1

            db.run_in_transaction(bump, retries=1000)


def main(path: str, redis: Optional[str], worker: int, keys: int, bumps: int) -> None:
    try:
        write(path, redis, worker, keys, bumps)
    except BaseException as e:  # the exit code tells the parent; the text, the log
        print(f"worker {worker} failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
