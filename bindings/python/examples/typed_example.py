"""A typed use of the sop package: scripts/python-test.sh checks it with
`mypy --strict` (and runs it)."""

import sys
import tempfile
from typing import Dict, List, Optional, Tuple

import sop

JSONValue = sop.JSON


def load(db: sop.Database, rows: List[Tuple[Dict[str, JSONValue], Dict[str, JSONValue]]]) -> int:
    with db.transaction("write") as tx:
        people = tx.create_store("people", key_spec="last,age:desc", unique=True)
        n: int = people.put_many(rows)
        blobs = tx.create_store("blobs", kind="bytes")
        blobs[b"logo"] = b"\x89PNG"
        logo: bytes = blobs[b"logo"]
        assert logo.startswith(b"\x89")
        return n


def oldest(db: sop.Database, start: str, stop: str) -> Optional[JSONValue]:
    """The first person whose last name is in [start, stop): the oldest of them."""
    with db.transaction("read") as tx:
        for _key, value in tx.store("people").range(start={"last": start}, stop={"last": stop}):
            first: JSONValue = value
            return first
    return None


def bump(tx: sop.Transaction) -> int:
    counters = tx.store("counters")
    n: int = counters.get("visits", 0) + 1
    counters["visits"] = n
    return n


def main() -> int:
    with tempfile.TemporaryDirectory() as d, sop.open(d + "/db") as db:
        rows: List[Tuple[Dict[str, JSONValue], Dict[str, JSONValue]]] = [
            ({"last": "Lovelace", "age": 36}, {"first": "Ada"}),
            ({"last": "Lovelace", "age": 60}, {"first": "Byron"}),
        ]
        assert load(db, rows) == 2
        assert oldest(db, "L", "M") == {"first": "Byron"}
        with db.transaction() as tx:
            tx.create_store("counters")
        visits: int = db.run_in_transaction(bump, retries=5)
        assert visits == 1
        try:
            with db.transaction("read") as tx:
                tx.store("missing")
        except sop.NotFoundError as e:
            print("as expected:", e)
        stats = db.stats()
        print("head", stats["head"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
