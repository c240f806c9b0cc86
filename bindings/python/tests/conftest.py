"""Fixtures of the sop package's tests. What a test needs (the Redis of the
Clustered tests, the sop CLI) must be there: a missing one fails the test, it
never skips it. scripts/python-test.sh provides both."""

import os
import pathlib
from typing import Iterator

import pytest

import sop


@pytest.fixture
def path(tmp_path: pathlib.Path) -> str:
    """A folder for a new database."""
    return str(tmp_path / "db")


@pytest.fixture
def db(path: str) -> Iterator[sop.Database]:
    """A new Standalone database, closed after the test."""
    with sop.open(path) as d:
        yield d


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("SOP_TEST_REDIS_URL")
    if not url:
        pytest.fail(
            "SOP_TEST_REDIS_URL is not set: run scripts/python-test.sh (or scripts/test.sh), "
            "which starts a private Redis"
        )
    return url


@pytest.fixture
def cli() -> str:
    exe = os.environ.get("SOP_CLI")
    if not exe or not os.access(exe, os.X_OK):
        pytest.fail(
            f"the sop CLI is missing (SOP_CLI={exe!r}): run scripts/python-test.sh, "
            "which builds it"
        )
    return exe
