"""fork(): a handle inherited by a child fails loudly there (sop.ForkedError)
and dropping it there leaves the parent's database alone; the child opens its
own handle; the parent goes on."""

import gc
import os
from typing import Any, Callable, List

import sop


def test_an_inherited_handle_fails_in_the_child(path: str) -> None:
    db = sop.open(path)
    with db.transaction() as tx:
        tx.create_store("s")["k"] = 1
        tx.create_store("c")
    tx = db.transaction()
    store = tx.store("s")
    store["parent"] = "pending"
    rng = iter(store)

    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            uses: List[Callable[[], Any]] = [
                lambda: db.transaction(),
                lambda: db.stats(),
                lambda: db.close(),
                lambda: store["k"],
                lambda: store.__setitem__("child", 1),
                lambda: len(store),
                lambda: next(rng),
                lambda: tx.commit(),
                lambda: tx.store("s"),
            ]
            for n, use in enumerate(uses):
                try:
                    use()
                    code |= 4  # it did not fail
                    print(f"use {n} did not raise", flush=True)
                except sop.ForkedError as e:
                    if str(os.getppid()) not in str(e):
                        code |= 8
            # Dropping the inherited objects must not touch the parent's state.
            del rng, store, tx, db
            gc.collect()
            # A handle of the child's own works.
            with sop.open(path) as own:
                with own.transaction() as t:
                    t.store("c")["child"] = os.getpid()
        except BaseException as e:
            print(f"child failed: {type(e).__name__}: {e}", flush=True)
            code |= 2
        os._exit(code)

    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, os.WEXITSTATUS(status)
    # The parent's handles work on.
    assert next(rng) == "k"
    store["more"] = True
    tx.commit()
    with db.transaction("read") as t:
        assert t.store("c")["child"] == pid
        s = t.store("s")
        assert s["parent"] == "pending" and s["more"] is True
    assert db.check()["ok"]
    db.close()
    with sop.open(path) as again:
        assert again.check()["ok"]
