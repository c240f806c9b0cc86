"""Exceptions: one class per kind of engine error under sop.Error, carrying the
engine's message; run_in_transaction retries conflicts and nothing else."""

import math

import pytest

import sop


def test_the_hierarchy() -> None:
    for cls in [
        sop.ConflictError,
        sop.CommitOutcomeUnknown,
        sop.PoisonedError,
        sop.FencedError,
        sop.CorruptError,
        sop.InvalidInputError,
        sop.NotFoundError,
        sop.AlreadyExistsError,
        sop.InUseError,
        sop.DiskFullError,
        sop.IoError,
        sop.UnavailableError,
        sop.UnsupportedError,
        sop.TransactionEndedError,
        sop.ClosedError,
        sop.ForkedError,
    ]:
        assert issubclass(cls, sop.Error) and cls is not sop.Error
    assert issubclass(sop.Error, Exception)
    assert issubclass(sop.InvalidInputError, ValueError)


def test_not_found_and_already_exists(db: sop.Database, path: str) -> None:
    with db.transaction() as tx:
        with pytest.raises(sop.NotFoundError, match="nope"):
            tx.store("nope")
        tx.create_store("s")
        with pytest.raises(sop.AlreadyExistsError):
            tx.create_store("s")
    with pytest.raises(sop.NotFoundError):
        sop.open(path + "-missing", create=False)


def test_invalid_input_carries_the_engine_message(db: sop.Database) -> None:
    with db.transaction() as tx:
        people = tx.create_store("people", key_spec="last,age:desc")
        with pytest.raises(sop.InvalidInputError) as e:
            people["not an object"] = 1
        assert str(e.value), "the engine's message"
        with pytest.raises(sop.InvalidInputError):
            tx.create_store("bad", key_spec="last:sideways")
        with pytest.raises(sop.InvalidInputError):
            tx.create_store("bad", kind="bytes", key_spec="a")
        with pytest.raises(sop.InvalidInputError):
            tx.create_store("bad", kind="yaml")
        with pytest.raises(sop.InvalidInputError):
            tx.create_store("bad", slot_length=1)
        with pytest.raises(sop.InvalidInputError, match="key"):
            tx.create_store("bytes", kind="bytes")[b"k" * 100_000] = b"too long a key"
    with pytest.raises(sop.InvalidInputError):
        db.transaction("sideways")  # type: ignore[arg-type]
    with db.transaction("read") as tx:
        with pytest.raises(sop.InvalidInputError, match="ForReading"):
            tx.store("people")[{"last": "x", "age": 1}] = 1


def test_values_that_are_not_json(db: sop.Database) -> None:
    with db.transaction() as tx:
        s = tx.create_store("s")
        for bad in [{1, 2}, object(), b"bytes", {1: "int key"}]:
            with pytest.raises(TypeError):
                s["k"] = bad
        for bad in [math.nan, math.inf]:
            with pytest.raises(sop.InvalidInputError):
                s["k"] = bad
        loop: list = []
        loop.append(loop)
        with pytest.raises(sop.InvalidInputError, match="deeper"):
            s["k"] = loop
        with pytest.raises(sop.InvalidInputError):
            s.put_many([("ok", 1), ("bad", math.nan)])
        with pytest.raises(TypeError, match="item 0"):
            s.put_many([("no pair",)])
        assert s["ok"] == 1, "the items before the failing one stay put"


def test_a_conflict_raises_conflict_error(db: sop.Database) -> None:
    with db.transaction() as tx:
        tx.create_store("c")["n"] = 0
    a = db.transaction()
    b = db.transaction()
    a.store("c")["n"] = a.store("c")["n"] + 1
    b.store("c")["n"] = b.store("c")["n"] + 1
    a.commit()
    with pytest.raises(sop.ConflictError):
        b.commit()
    assert not b.active
    with db.transaction("read") as tx:
        assert tx.store("c")["n"] == 1


def test_run_in_transaction_retries_conflicts_only(db: sop.Database) -> None:
    with db.transaction() as tx:
        tx.create_store("c")["n"] = 0
    attempts = 0

    def bump(tx: sop.Transaction) -> int:
        nonlocal attempts
        attempts += 1
        c = tx.store("c")
        n: int = c["n"]
        if attempts == 1:
            # A rival commits in between: this attempt conflicts.
            with db.transaction() as rival:
                rival.store("c")["n"] = 100
        c["n"] = n + 1
        return n + 1

    assert db.run_in_transaction(bump) == 101
    assert attempts == 2
    with db.transaction("read") as tx:
        assert tx.store("c")["n"] == 101

    calls = 0

    def fails(tx: sop.Transaction) -> None:
        nonlocal calls
        calls += 1
        tx.store("c")["n"] = -1
        raise KeyError("not a conflict")

    with pytest.raises(KeyError):
        db.run_in_transaction(fails)
    assert calls == 1, "other errors are not retried"
    with db.transaction("read") as tx:
        assert tx.store("c")["n"] == 101, "the failed attempt was rolled back"

    def always_conflicts(tx: sop.Transaction) -> None:
        raise sop.ConflictError("synthetic")

    with pytest.raises(sop.ConflictError):
        db.run_in_transaction(always_conflicts, retries=2)


def test_an_exclusive_handle_excludes_others(path: str) -> None:
    with sop.open(path):
        with pytest.raises(sop.InUseError):
            sop.open(path, exclusive=True)


def test_run_in_transaction_accepts_a_function_that_ends_the_transaction(db: sop.Database) -> None:
    with db.transaction() as tx:
        tx.create_store("s")

    def commits(tx: sop.Transaction) -> str:
        tx.store("s")["k"] = "v"
        tx.commit()
        return "done"

    assert db.run_in_transaction(commits) == "done"
    with db.transaction("read") as tx:
        assert tx.store("s")["k"] == "v"
