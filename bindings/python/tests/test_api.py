"""The Pythonic API: databases, transactions as context managers, JSON and byte
stores used like ordered dicts, ranges."""

import importlib.metadata
from typing import Any, List

import pytest

import sop


def test_version_is_the_package_metadata() -> None:
    assert sop.__version__ == importlib.metadata.version("sop")


def test_the_example_of_the_issue(db: sop.Database) -> None:
    rows = [
        ({"last": "Hopper", "age": 85}, {"first": "Grace"}),
        ({"last": "Lovelace", "age": 60}, {"first": "Byron"}),
        ({"last": "Knuth", "age": 86}, {"first": "Donald"}),
        ({"last": "Meyer", "age": 40}, {"first": "Bertrand"}),
    ]
    with db.transaction("write") as tx:
        people = tx.create_store("people", key_spec="last,age:desc", unique=True)
        people[{"last": "Lovelace", "age": 36}] = {"first": "Ada"}
        assert people.put_many(rows) == 4
    with db.transaction("read") as tx:
        got = list(tx.store("people").range(start={"last": "K"}, stop={"last": "M"}, reverse=False))
    # Last names from K up to (not including) M; equal last names by age, oldest first.
    assert got == [
        ({"last": "Knuth", "age": 86}, {"first": "Donald"}),
        ({"last": "Lovelace", "age": 60}, {"first": "Byron"}),
        ({"last": "Lovelace", "age": 36}, {"first": "Ada"}),
    ]


def test_json_documents_round_trip(db: sop.Database) -> None:
    values: List[Any] = [
        None,
        True,
        False,
        0,
        -7,
        2**63 - 1,
        2**64 - 1,
        10**30,
        -(10**25),
        1.5,
        -0.25,
        1e300,
        "",
        "naïve ☃ \u0000 end",
        [],
        [1, [2, [3, None]], {"a": []}],
        {"z": 1, "a": {"nested": [True, 2.5, "x"]}},
    ]
    with db.transaction() as tx:
        s = tx.create_store("docs")
        for i, v in enumerate(values):
            s[i] = v
    with db.transaction("read") as tx:
        s = tx.store("docs")
        for i, v in enumerate(values):
            got = s[i]
            assert got == v and type(got) is type(v), (i, v, got)
        # Member order of objects is kept.
        assert list(s[16]) == ["z", "a"]
        # A tuple is read as a list.
    with db.transaction() as tx:
        tx.store("docs")["t"] = (1, "two")
        assert tx.store("docs")["t"] == [1, "two"]


def test_primitive_keys_sort_in_the_json_key_order(db: sop.Database) -> None:
    keys: List[Any] = ["b", 3, None, -2.5, True, "a", 10, False, -100, 0.5]
    with db.transaction() as tx:
        s = tx.create_store("k")
        for k in keys:
            s[k] = str(k)
    with db.transaction("nocheck") as tx:
        got = list(tx.store("k"))
    # null < false < true < numbers (by value) < strings (by bytes)
    assert got == [None, False, True, -100, -2.5, 0.5, 3, 10, "a", "b"]


def test_dict_like_operations(db: sop.Database) -> None:
    with db.transaction() as tx:
        s = tx.create_store("s")
        assert len(s) == 0 and s.first() is None and s.last() is None
        for i in range(100):
            s[i] = {"n": i}
        assert len(s) == 100
        assert 5 in s and 500 not in s
        assert s[5] == {"n": 5}
        s[5] = "replaced"
        assert s[5] == "replaced" and len(s) == 100
        del s[5]
        assert 5 not in s and len(s) == 99
        with pytest.raises(KeyError):
            s[5]
        with pytest.raises(KeyError):
            del s[5]
        assert s.get(5) is None
        assert s.get(5, "default") == "default"
        assert s.get(6, "default") == {"n": 6}
        assert s.first() == (0, {"n": 0})
        assert s.last() == (99, {"n": 99})
        assert not s.add(6, "x"), "a unique store refuses a second item with a key"
        assert s.add(5, "back")
        assert s.add_if_absent(1000, 1) and not s.add_if_absent(1000, 2)
        assert s.update(1000, 3) and not s.update(2000, 3)
        assert not s.upsert(1000, 4) and s.upsert(2000, 4)
        assert s.remove(2000) and not s.remove(2000)
        assert s[1000] == 4
        assert s.name == "s" and s.kind == "json" and s.unique and s.key_spec is None


def test_iteration_and_ranges(db: sop.Database) -> None:
    with db.transaction() as tx:
        s = tx.create_store("r")
        s.put_many((i, i * i) for i in range(1000))  # a generator, in chunks
    with db.transaction("read") as tx:
        s = tx.store("r")
        assert list(s) == list(range(1000))
        assert list(s.keys()) == list(range(1000))
        assert list(s.values()) == [i * i for i in range(1000)]
        assert list(s.items())[:3] == [(0, 0), (1, 1), (2, 4)]
        assert [k for k, _ in s.range(10, 20)] == list(range(10, 20))
        assert [k for k, _ in s.range(10, 20, stop_inclusive=True)] == list(range(10, 21))
        assert [k for k, _ in s.range(10, 20, reverse=True)] == list(range(19, 9, -1))
        assert [k for k, _ in s.range(start=995)] == [995, 996, 997, 998, 999]
        assert [k for k, _ in s.range(stop=3)] == [0, 1, 2]
        assert [k for k, _ in s.range(reverse=True)][:2] == [999, 998]
        assert [k for k, _ in s[100:103]] == [100, 101, 102]
        assert [k for k, _ in s[:2]] == [0, 1]
        assert list(s.range(500, 400)) == []
        with pytest.raises(ValueError):
            s[1:5:2]
        # Two iterations of one store at once.
        a, b = iter(s), iter(s.range(reverse=True))
        assert (next(a), next(b), next(a), next(b)) == (0, (999, 998001), 1, (998, 996004))


def test_byte_stores(db: sop.Database) -> None:
    with db.transaction() as tx:
        b = tx.create_store("blobs", kind="bytes")
        assert b.kind == "bytes"
        b[b"k2"] = b"two"
        b[bytearray(b"k1")] = memoryview(b"one")
        b[b"\x00\xff"] = b""
        assert b[b"k1"] == b"one" and b[b"\x00\xff"] == b""
        assert list(b) == [b"\x00\xff", b"k1", b"k2"]
        assert b.put_many([(b"k3", b"3"), (b"k4", b"4")]) == 2
        assert list(b.range(b"k2", b"k4")) == [(b"k2", b"two"), (b"k3", b"3")]
        with pytest.raises(TypeError):
            b["text"] = b"x"
        with pytest.raises(TypeError):
            b[b"x"] = "text"
    with db.transaction("read") as tx:
        b = tx.store("blobs")
        assert b.kind == "bytes" and len(b) == 5
        assert b.last() == (b"k4", b"4")


def test_stores_that_allow_duplicates(db: sop.Database) -> None:
    with db.transaction() as tx:
        s = tx.create_store("dups", unique=False)
        s["k"] = 1
        s["k"] = 2  # adds another item
        s.put_many([("k", 3), ("a", 0)])
        assert len(s) == 4
        assert list(s.items()) == [("a", 0), ("k", 1), ("k", 2), ("k", 3)]
        assert s["k"] == 1, "the first item with the key"
        del s["k"]
        assert list(s.values()) == [0, 2, 3]


def test_a_transaction_commits_on_exit_and_rolls_back_on_an_exception(db: sop.Database) -> None:
    with db.transaction() as tx:
        tx.create_store("s")["kept"] = 1
    with pytest.raises(RuntimeError):
        with db.transaction() as tx:
            tx.store("s")["lost"] = 2
            raise RuntimeError("boom")
    assert not tx.active
    with db.transaction("read") as tx:
        assert list(tx.store("s")) == ["kept"]
    # An explicit end inside the block is fine.
    with db.transaction() as tx:
        tx.store("s")["explicit"] = 3
        tx.commit()
    with db.transaction() as tx:
        tx.store("s")["rolled"] = 4
        tx.rollback()
    with db.transaction("nocheck") as tx:
        assert list(tx.store("s")) == ["explicit", "kept"]


def test_stores_and_ranges_end_with_their_transaction(db: sop.Database) -> None:
    with db.transaction() as tx:
        s = tx.create_store("s")
        s.put_many((i, i) for i in range(100))
        r = iter(s)
        assert next(r) == 0
    with pytest.raises(sop.TransactionEndedError):
        s[1]
    with pytest.raises(sop.TransactionEndedError):
        list(r)
    with pytest.raises(sop.TransactionEndedError):
        tx.commit()
    with pytest.raises(sop.TransactionEndedError):
        tx.store("s")


def test_catalog_operations(db: sop.Database) -> None:
    with db.transaction() as tx:
        tx.create_store("b")
        tx.create_store("a", kind="bytes", description="raw things", slot_length=64)
        assert tx.store_names() == ["a", "b"]
        tx.drop_store("b")
        assert tx.store_names() == ["a"]
        with pytest.raises(sop.NotFoundError):
            tx.store("b")
        # A dropped name can be created again.
        tx.create_store("b", key_spec=[{"field": "x", "order": "desc"}])[{"x": 1}] = None
    with db.transaction("read") as tx:
        assert tx.store("b").key_spec == "x:desc"
    stats = db.stats()
    assert sorted(s["info"]["name"] for s in stats["stores"]) == ["a", "b"]
    report = db.check()
    assert report["ok"] and report["problems"] == []
    assert set(db.recover()) == {"dead_processes", "removed_temp_files", "removed_blobs"}


def test_a_closed_database(path: str) -> None:
    db = sop.open(path)
    assert not db.closed and db.path == path
    db.close()
    db.close()  # closing twice is fine
    assert db.closed
    with pytest.raises(sop.ClosedError):
        db.transaction()
    # Reopen: what was committed is there.
    with sop.open(path) as db:
        with db.transaction() as tx:
            tx.create_store("s")[1] = 1
    with sop.open(path, create=False) as db:
        with db.transaction("read") as tx:
            assert tx.store("s")[1] == 1


def test_a_transaction_outlives_a_closed_handle(path: str) -> None:
    db = sop.open(path)
    tx = db.transaction()
    tx.create_store("s")["k"] = "v"
    db.close()
    tx.commit()
    with sop.open(path) as db:
        with db.transaction("read") as tx:
            assert tx.store("s")["k"] == "v"



def test_generic_classes_can_be_subscripted_at_run_time() -> None:
    alias = sop.Store[bytes, bytes]
    assert alias.__origin__ is sop.Store and alias.__args__ == (bytes, bytes)
    assert sop.Range[int].__origin__ is sop.Range
