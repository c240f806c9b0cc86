"""SOP: an embedded, ACID, ordered key-value store.

``sop.open(path)`` opens (or creates) a database folder; ``db.transaction(mode)``
begins a transaction; ``tx.create_store`` / ``tx.store`` give stores that work
like ordered dicts: JSON stores take Python objects, byte stores take bytes.
"""

from ._errors import (
    AlreadyExistsError,
    ClosedError,
    CommitOutcomeUnknown,
    ConflictError,
    CorruptError,
    DiskFullError,
    Error,
    FencedError,
    ForkedError,
    InUseError,
    InvalidInputError,
    IoError,
    NotFoundError,
    PoisonedError,
    TransactionEndedError,
    UnavailableError,
    UnsupportedError,
)
from ._types import JSON, KeySpec, Mode
from ._sop import Database, Range, Store, Transaction, __version__, open

__all__ = [
    "open",
    "Database",
    "Transaction",
    "Store",
    "Range",
    "__version__",
    "JSON",
    "KeySpec",
    "Mode",
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
