"""The exceptions SOP raises: one class per kind of engine error, under `sop.Error`."""

from typing import Optional


class Error(Exception):
    """The base of every error SOP raises; its text is the engine's message."""


class ConflictError(Error):
    """Another commit changed what the transaction used (or the commit timed out,
    or its snapshot is gone). Nothing was committed: run the whole transaction
    again (``Database.run_in_transaction`` does)."""


class CommitOutcomeUnknown(Error):
    """The commit may or may not be durable (an error after the commit point).
    Do not retry blindly: ask ``Database.commit_outcome(e.txn_id, e.since_seq)``."""

    txn_id: Optional[int] = None
    since_seq: Optional[int] = None


class PoisonedError(Error):
    """The handle cannot go on after an earlier error (a failed fsync): open the
    database again."""


class FencedError(Error):
    """Other processes fenced this one off (Clustered mode): open the database again."""


class CorruptError(Error):
    """Data in the folder is damaged; retrying does not help (run ``Database.check``)."""


class InvalidInputError(Error, ValueError):
    """A bad argument or use: a key that does not fit the key spec, a write in a
    read-only transaction, an invalid option, a key too long..."""


class NotFoundError(Error):
    """The database or store does not exist."""


class AlreadyExistsError(Error):
    """The database or store already exists."""


class InUseError(Error):
    """Another process or handle holds the database in a way that excludes this use."""


class DiskFullError(Error):
    """The volume is full; nothing committed was lost."""


class IoError(Error):
    """Another I/O error of the file system."""


class UnavailableError(Error):
    """The coordinator (Redis, Clustered mode) cannot be reached; nothing was committed."""


class UnsupportedError(Error):
    """This build cannot serve this database (another format version, a missing feature)."""


class TransactionEndedError(Error):
    """The transaction was already committed or rolled back."""


class ClosedError(Error):
    """The database handle was closed."""


class ForkedError(Error):
    """The handle was opened in another process and inherited through ``fork()``:
    open the database again in this process."""


__all__ = [
    "Error",
    "ConflictError",
    "CommitOutcomeUnknown",
    "PoisonedError",
    "FencedError",
    "CorruptError",
    "InvalidInputError",
    "NotFoundError",
    "AlreadyExistsError",
    "InUseError",
    "DiskFullError",
    "IoError",
    "UnavailableError",
    "UnsupportedError",
    "TransactionEndedError",
    "ClosedError",
    "ForkedError",
]
