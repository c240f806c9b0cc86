"""Threads: engine work runs without the GIL, so Python threads overlap; threads
with their own transactions commit concurrently; a transaction shared by threads
takes their calls in turn."""

import threading
import time
from typing import Callable, List

import sop


def progress_during(work: Callable[[], None]) -> int:
    """How far a busy Python thread counts while `work` runs in this one."""
    count = 0
    stop = False

    def spin() -> None:
        nonlocal count
        while not stop:
            count += 1

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.05)
    before = count
    work()
    after = count
    stop = True
    t.join()
    return after - before


def test_the_gil_is_released_during_engine_work(db: sop.Database) -> None:
    with db.transaction() as tx:
        s = tx.create_store("big", kind="bytes")
        s.put_many((i.to_bytes(8, "big"), b"v" * 100) for i in range(50_000))

    # One call that is engine work only, and long: if the call held the GIL the
    # other thread could not count at all while it ran.
    def check() -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.2:
            assert db.check()["ok"]

    assert progress_during(check) > 10_000


def test_threads_with_their_own_transactions(db: sop.Database) -> None:
    with db.transaction() as tx:
        tx.create_store("items")
        tx.create_store("counter")["n"] = 0
    errors: List[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(25):

                def add(tx: sop.Transaction, i: int = i) -> None:
                    tx.store("items")[f"t{t}-{i:03}"] = i

                db.run_in_transaction(add, retries=1000)

                def bump(tx: sop.Transaction) -> None:
                    c = tx.store("counter")
                    c["n"] = c["n"] + 1

                db.run_in_transaction(bump, retries=1000)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    with db.transaction("read") as tx:
        assert len(tx.store("items")) == 100
        assert tx.store("counter")["n"] == 100


def test_one_transaction_shared_by_threads(db: sop.Database) -> None:
    with db.transaction() as tx:
        s = tx.create_store("s", kind="bytes")

        def work(t: int) -> None:
            for i in range(500):
                s[b"%d-%04d" % (t, i)] = b"x"

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(s) == 2000
    with db.transaction("read") as tx:
        assert len(tx.store("s")) == 2000
