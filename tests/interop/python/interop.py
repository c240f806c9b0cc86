"""The interop test's Python process (tests/interop/driver.py starts it).

  interop.py write DB GROUP ITEMS INCREMENTS COUNTERS START_FILE
  interop.py read DB OUT_FILE

write: opens the folder, says "ready", waits for START_FILE, then adds ITEMS
items of its own (GROUP) in transactions of 100, and after each batch adds one
to a shared counter (read, add one, write back; the transaction runs again on a
conflict) until it has done INCREMENTS increments, spread round-robin over the
COUNTERS counters. read: one read transaction over the whole store, one
canonical line per item (tests/interop/canon.py).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Dict, List, Tuple

import sop

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import canon  # noqa: E402

STORE = "interop"
BATCH = 100


def item(group: str, i: int) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    key = {"group": group, "n": i, "name": f"{group}-{i:04d}"}
    val = {
        "lang": group,
        "i": i,
        "tenth": i * 0.1,
        "big": 2**62 + i,
        "tags": [group, None if i % 3 == 0 else "x"],
        "nested": {"sq": i * i, "neg": -i},
    }
    return key, val


def counter_key(k: int) -> Dict[str, Any]:
    return {"group": "counter", "n": k, "name": f"c{k}"}


def write(path: str, group: str, items: int, increments: int, counters: int, start: str) -> None:
    attempts = 0
    with sop.open(path) as db:
        print("ready", flush=True)
        while not os.path.exists(start):
            time.sleep(0.005)

        def add_batch(lo: int) -> None:
            def work(tx: sop.Transaction) -> None:
                nonlocal attempts
                attempts += 1
                store = tx.store(STORE)
                store.put_many(item(group, i) for i in range(lo, min(lo + BATCH, items)))

            db.run_in_transaction(work, retries=500)

        def increment(k: int) -> None:
            def work(tx: sop.Transaction) -> None:
                nonlocal attempts
                attempts += 1
                store = tx.store(STORE)
                key = counter_key(k)
                cur = store[key]
                store[key] = {"count": cur["count"] + 1}

            db.run_in_transaction(work, retries=500)

        done = 0
        batches = (items + BATCH - 1) // BATCH
        for b in range(batches):
            add_batch(b * BATCH)
            # Spread the increments evenly between the batches.
            while done < increments * (b + 1) // batches:
                increment(done % counters)
                done += 1
        transactions = batches + increments
    print(f"python: {items} items, {increments} increments, {transactions} transactions, "
          f"{attempts - transactions} conflicts retried", flush=True)


def read(path: str, out: str) -> None:
    lines: List[str] = []
    with sop.open(path) as db:
        with db.transaction("read") as tx:
            for k, v in tx.store(STORE).items():
                lines.append(canon.line(k, v))
    with open(out, "w", encoding="utf-8") as f:
        f.write("".join(x + "\n" for x in lines))


def main(argv: List[str]) -> None:
    if len(argv) == 8 and argv[1] == "write":
        write(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]), argv[7])
    elif len(argv) == 4 and argv[1] == "read":
        read(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
