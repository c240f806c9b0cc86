"""Interop with the sop CLI: a database written from Python reads identically
from the CLI, and one written by the CLI reads identically from Python (the same
items, in the same key order, for every JSON type keys may have)."""

import json
import pathlib
import subprocess
from typing import Any, List, Tuple

import sop

PRIMITIVE_KEYS: List[Any] = [
    None,
    False,
    True,
    -(2**63),
    -1000,
    -1,
    -0.5,
    0,
    1e-300,
    0.25,
    1,
    2**53 + 1,
    2**64 - 1,
    1e300,
    "",
    "\u0000",
    "A",
    "a",
    "a\u0000",
    "ab",
    "é",
    "日本",
    "🦀",
]

PEOPLE: List[Tuple[Any, Any]] = [
    ({"last": "Lovelace", "age": 36}, {"first": "Ada", "langs": ["en", "fr"]}),
    ({"last": "Lovelace", "age": 60}, {"first": "Byron"}),
    ({"last": "Hopper", "age": 85}, {"first": "Grace", "rank": 1.5e1}),
    ({"last": "Hopper"}, {"note": "age missing"}),
    ({"last": "hopper", "age": -1}, None),
    ({"last": "Knuth", "age": 86.5}, {"tex": True}),
    ({"last": "", "age": 0}, []),
]


def run(cli: str, db: str, *args: str) -> str:
    out = subprocess.run([cli, "--db", db, *args], capture_output=True, text=True)
    assert out.returncode == 0, f"sop {' '.join(args)}: {out.stderr}"
    return out.stdout


def scan(cli: str, db: str, store: str, *args: str) -> List[Tuple[Any, Any]]:
    lines = run(cli, db, "scan", store, *args).splitlines()
    return [(d["key"], d["value"]) for d in map(json.loads, lines)]


def test_python_writes_the_cli_reads(path: str, cli: str) -> None:
    with sop.open(path) as db:
        with db.transaction() as tx:
            prim = tx.create_store("prim")
            # Written in reverse order: the store orders them.
            for i, k in enumerate(reversed(PRIMITIVE_KEYS)):
                prim[k] = {"i": i, "key": k}
            people = tx.create_store("people", key_spec="last,age:desc")
            people.put_many(PEOPLE)
        with db.transaction("read") as tx:
            py_prim = list(tx.store("prim").items())
            py_people = list(tx.store("people").items())
            py_range = list(
                tx.store("people").range(
                    {"last": "Hopper"}, {"last": "Lovelace", "age": 40}, reverse=True, stop_inclusive=True
                )
            )
    assert [k for k, _ in py_prim] == PRIMITIVE_KEYS, "the JSON key order"
    assert scan(cli, path, "prim") == py_prim
    assert scan(cli, path, "people") == py_people
    assert len(py_people) == len(PEOPLE)
    cli_range = scan(
        cli, path, "people", "--from", '{"last":"Hopper"}', "--to", '{"last":"Lovelace","age":40}', "--desc"
    )
    assert cli_range == py_range and len(py_range) == 3
    assert json.loads(run(cli, path, "get", "people", '{"last":"Knuth","age":86.5}')) == {"tex": True}
    run(cli, path, "check")


def test_the_cli_writes_python_reads(path: str, cli: str, tmp_path: pathlib.Path) -> None:
    run(cli, path, "init")
    run(cli, path, "store", "create", "prim", "--unique")
    run(cli, path, "store", "create", "people", "--key-spec", "last,age:desc", "--unique")
    lines = tmp_path / "prim.jsonl"
    lines.write_text("".join(json.dumps({"key": k, "value": [k]}) + "\n" for k in PRIMITIVE_KEYS))
    run(cli, path, "import", "prim", str(lines))
    for k, v in PEOPLE:
        run(cli, path, "put", "people", json.dumps(k), json.dumps(v))
    # A literal the CLI keeps as written.
    run(cli, path, "put", "prim", "0.5", '{"exact": 1.50, "big": 123456789012345678901234567890}')

    with sop.open(path) as db:
        with db.transaction("read") as tx:
            prim = tx.store("prim")
            assert list(prim) == sorted_keys(PRIMITIVE_KEYS + [0.5])
            assert prim[0.5] == {"exact": 1.5, "big": 123456789012345678901234567890}
            assert prim["🦀"] == ["🦀"]
            assert list(prim.items()) == scan(cli, path, "prim")
            people = tx.store("people")
            assert people.key_spec == "last,age:desc" and people.unique
            assert list(people.items()) == scan(cli, path, "people")
        # And back: Python adds to the CLI's stores, the CLI sees it.
        with db.transaction() as tx:
            tx.store("people")[{"last": "Turing", "age": 41}] = {"first": "Alan"}
            del tx.store("prim")[None]
    assert scan(cli, path, "people", "--from", '{"last":"T"}', "--to", '{"last":"U"}') == [
        ({"last": "Turing", "age": 41}, {"first": "Alan"})
    ]
    assert None not in [k for k, _ in scan(cli, path, "prim")]
    run(cli, path, "check")


def sorted_keys(keys: List[Any]) -> List[Any]:
    """The JSON key order of primitive keys (docs/FORMAT.md): null, false, true,
    numbers by value, strings by their UTF-8 bytes."""

    def rank(k: Any) -> Tuple[int, Any]:
        if k is None:
            return (0, 0)
        if k is False:
            return (1, 0)
        if k is True:
            return (2, 0)
        if isinstance(k, (int, float)):
            return (3, k)
        return (4, k.encode())

    return sorted(keys, key=rank)
