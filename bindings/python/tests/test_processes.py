"""Processes: four multiprocessing workers, each with its own handle, commit
concurrently into one store (Standalone and Clustered); the counts are exact."""

import json
import multiprocessing
import os
from typing import Optional

import pytest

import _workers
import sop

WORKERS, KEYS, BUMPS = 4, 40, 15


def run_workers(path: str, redis: Optional[str], method: str) -> None:
    ctx = multiprocessing.get_context(method)
    procs = [
        ctx.Process(target=_workers.main, args=(path, redis, w, KEYS, BUMPS)) for w in range(WORKERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * WORKERS


def prepare(path: str, redis: Optional[str]) -> None:
    with sop.open(path, redis=redis) as db:
        with db.transaction() as tx:
            tx.create_store("items")
            tx.create_store("counter")["n"] = 0


def verify(path: str) -> None:
    with sop.open(path) as db:
        with db.transaction("read") as tx:
            items = tx.store("items")
            assert len(items) == WORKERS * KEYS
            assert list(items) == [f"w{w}-{i:04}" for w in range(WORKERS) for i in range(KEYS)]
            assert tx.store("counter")["n"] == WORKERS * BUMPS
        assert db.check()["ok"]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_standalone_workers_commit_into_one_store(path: str, method: str) -> None:
    prepare(path, None)
    run_workers(path, None, method)
    verify(path)


def test_clustered_workers_commit_into_one_store(path: str, redis_url: str) -> None:
    prepare(path, redis_url)
    with open(os.path.join(path, "sop.json")) as f:
        assert redis_url in json.dumps(json.load(f)), "the database is Clustered"
    # The workers open it without a URL: the saved coordination is used.
    run_workers(path, None, "spawn")
    verify(path)
