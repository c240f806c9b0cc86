//! Typed errors.

use std::path::PathBuf;

/// A decoding failure of bytes that came from disk or from a caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(
    /// What is wrong with the bytes.
    pub String,
);

impl CodecError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        CodecError(msg.into())
    }
}

/// Everything that can go wrong in SOP. [`Error::kind`] tells what a caller
/// should do about one; new variants may come in any release.
///
/// ```
/// use sop::{Database, DbOptions, Error, ErrorKind, StoreOptions, TxMode};
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path().join("db"), DbOptions::default())?;
/// let tx = db.begin(TxMode::ForWriting)?;
/// match tx.open_store::<u64, String>("missing") {
///     Err(e @ Error::StoreNotFound(_)) => assert_eq!(e.kind(), ErrorKind::NotFound),
///     Err(e) => panic!("expected StoreNotFound, got {e}"),
///     Ok(_) => panic!("no such store was created"),
/// }
/// // A conflict or a timeout is worth retrying with a new transaction:
/// let err = Error::Conflict("a key I read was changed".into());
/// assert_eq!(err.kind(), ErrorKind::Retry);
/// assert!(err.is_conflict());
/// # Ok::<(), sop::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed (other than a full disk).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file holds bytes that fail their checksum or do not decode.
    #[error("corrupt data in {path}: {detail}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Bytes (a key or value given by the caller, or read back) do not decode.
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// An option or argument is out of range or inconsistent.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The folder was written in a format version this build does not read.
    #[error("database at {path} has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The database folder.
        path: PathBuf,
        /// The version its `sop.json` names.
        found: u32,
        /// The version this build reads ([`crate::FORMAT_VERSION`]).
        supported: u32,
    },
    /// The folder holds no database and `DbOptions::create` is off.
    #[error("no database at {0} (open with create enabled to make one)")]
    NotFound(PathBuf),
    /// Another handle or process holds the folder in a way that excludes this open
    /// (exclusive mode); the text says who.
    #[error("database at {0} is in use: {1}")]
    InUse(PathBuf, String),
    /// A database is already there.
    #[error("a database already exists at {0}")]
    AlreadyExists(PathBuf),
    /// No store of this name.
    #[error("store {0:?} does not exist")]
    StoreNotFound(String),
    /// A store of this name exists already.
    #[error("store {0:?} already exists")]
    StoreExists(String),
    /// The store exists with another key or value type, or other options.
    #[error("store {name:?} does not match: {detail}")]
    StoreMismatch {
        /// The store.
        name: String,
        /// What differs.
        detail: String,
    },
    /// A write in a transaction begun for reading.
    #[error("write operation in a {0:?} transaction; begin the transaction ForWriting")]
    ReadOnly(crate::TxMode),
    /// The transaction was committed or rolled back already.
    #[error("the transaction has already ended")]
    TxEnded,
    /// Another commit changed what this transaction read, and the change could not
    /// be merged; run the transaction again.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The commit took longer than the transaction's maximum commit time.
    #[error("commit did not finish within the maximum commit time of {0:?}")]
    Timeout(std::time::Duration),
    /// A key longer than a node can hold ([`crate::MAX_KEY_LEN`], in bytes of
    /// its encoding).
    #[error("key too long: {len} bytes, keys are at most {max} bytes")]
    KeyTooLong {
        /// Bytes of the encoded key.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The transaction staged more than `DbOptions::txn_memory_budget`.
    #[error("transaction exceeds its memory budget of {budget} bytes (staged {staged} bytes)")]
    TooLarge {
        /// The budget in bytes.
        budget: usize,
        /// Bytes staged when it was exceeded.
        staged: usize,
    },
    /// The commit record may or may not be durable: an error happened after the
    /// commit point. The caller must not blindly retry; look up the outcome with
    /// `Database::commit_outcome(txn_id, since_seq)`, `txn_id` being `attempt`
    /// read as a hexadecimal `u128` and `since_seq` the head before the commit.
    #[error("commit outcome unknown for attempt {attempt}: {source}")]
    CommitOutcomeUnknown {
        /// The transaction's id, in hexadecimal.
        attempt: String,
        /// The error after the commit point.
        source: Box<Error>,
    },
    /// An earlier error left this handle unable to go on safely (after a failed
    /// fsync the page cache may claim bytes the disk never got); the text says
    /// which. Reopening the database rebuilds its state from what is durable.
    #[error("the database handle is poisoned by an earlier error ({0}); reopen the database")]
    Poisoned(String),
    /// The database was opened with `DbOptions::read_only`: it cannot write.
    #[error("the database at {0} is open read-only (DbOptions::read_only): writes and maintenance are refused")]
    ReadOnlyOpen(PathBuf),
    /// The volume holding the database is full (ENOSPC or a quota).
    #[error("disk full at {path}: free some space on that volume (nothing committed was lost), then retry or reopen")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Clustered mode: this process's lease expired and other processes fenced it
    /// off (its commits are refused).
    #[error("this process's lease expired and other processes fenced it off; reopen the database")]
    Fenced,
    /// The transaction's snapshot needs data that was reclaimed meanwhile; begin a
    /// new transaction.
    #[error("snapshot too old: {0}")]
    SnapshotTooOld(String),
    /// The coordinator (Redis in Clustered mode) failed.
    #[error("coordinator error: {0}")]
    Coordinator(String),
    /// The registry outside the folder (Cassandra) could not be reached, or
    /// refused a request. Nothing was published by the failed call unless the
    /// error is `CommitOutcomeUnknown`.
    #[error("registry error: {0}")]
    Registry(String),
    /// The database needs code this build of `sop` was compiled without (say a
    /// Clustered database in a build without the `redis` feature).
    #[error("{needed_for} needs the cargo feature `{feature}` of sop, which this build was compiled without")]
    FeatureDisabled {
        /// The cargo feature to enable.
        feature: &'static str,
        /// What needs it.
        needed_for: &'static str,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        use std::io::ErrorKind::{QuotaExceeded, StorageFull};
        if matches!(source.kind(), StorageFull | QuotaExceeded) {
            return Error::DiskFull {
                path: path.into(),
                source,
            };
        }
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn corrupt(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            detail: detail.into(),
        }
    }
    /// What a caller should do about this error (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            Error::Conflict(_) | Error::Timeout(_) | Error::SnapshotTooOld(_) => K::Retry,
            Error::CommitOutcomeUnknown { .. } => K::OutcomeUnknown,
            Error::Poisoned(_) => K::Poisoned,
            Error::Fenced => K::Fenced,
            Error::Corrupt { .. } => K::Corrupt,
            Error::Codec(_)
            | Error::InvalidOption(_)
            | Error::StoreMismatch { .. }
            | Error::ReadOnly(_)
            | Error::ReadOnlyOpen(_)
            | Error::TxEnded
            | Error::TooLarge { .. }
            | Error::KeyTooLong { .. } => K::InvalidInput,
            Error::NotFound(_) | Error::StoreNotFound(_) => K::NotFound,
            Error::AlreadyExists(_) | Error::StoreExists(_) => K::AlreadyExists,
            Error::InUse(..) => K::InUse,
            Error::DiskFull { .. } => K::DiskFull,
            Error::Io { .. } => K::Io,
            Error::Coordinator(_) | Error::Registry(_) => K::Unavailable,
            Error::UnsupportedVersion { .. } | Error::FeatureDisabled { .. } => K::Unsupported,
        }
    }

    /// True for errors a caller may resolve by retrying the whole transaction
    /// (kind [`ErrorKind::Retry`]).
    pub fn is_conflict(&self) -> bool {
        self.kind() == ErrorKind::Retry
    }
}

/// What a caller should do about an [`Error`]: [`Error::kind`]. More kinds may
/// come in any release; treat an unknown one as fatal for the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Run the whole transaction again, from a new `begin`: another commit
    /// changed what it used (`Conflict`), the commit ran past its maximum commit
    /// time (`Timeout`), or its snapshot is gone (`SnapshotTooOld`). Nothing of
    /// it was committed.
    Retry,
    /// The commit may or may not be durable (an error after the commit point). Do
    /// not blindly retry: ask `Database::commit_outcome(txn_id, since_seq)` (see
    /// `Error::CommitOutcomeUnknown`), after reopening the database if the
    /// handle is poisoned.
    OutcomeUnknown,
    /// This handle cannot go on safely after an earlier error (a failed fsync,
    /// say). Reopen the database: it rebuilds its state from what is durable.
    Poisoned,
    /// This process's lease expired and other processes fenced it off (Clustered
    /// mode); none of its commits can go in any more. Reopen the database.
    Fenced,
    /// Data in the folder is damaged (a checksum or structure check failed).
    /// Retrying does not help: run `Database::check`, restore from a copy.
    Corrupt,
    /// A bad argument, option or use of the API: an invalid option, a write in a
    /// read-only transaction or through a read-only handle, a transaction used
    /// after it ended, a store opened with other types or options than it has, a
    /// transaction over its memory budget, a key or value that does not encode or decode as the given type.
    /// Retrying as is fails the same way: change the call.
    InvalidInput,
    /// The database or store does not exist.
    NotFound,
    /// The database or store already exists.
    AlreadyExists,
    /// Another process or handle holds the database in a way that excludes this
    /// use (an exclusive open, or `close` while other handles are alive). Retry
    /// once it is gone.
    InUse,
    /// The volume is full. Free some space (nothing committed was lost), then
    /// retry, or reopen if the handle is poisoned.
    DiskFull,
    /// Another I/O error of the file system; the error names the path.
    Io,
    /// The coordinator (Redis, Clustered mode) cannot be reached. Nothing was
    /// committed; retry once it is back.
    Unavailable,
    /// This build cannot serve this database: another format version, or a cargo
    /// feature it was compiled without. Use a build that can.
    Unsupported,
}

/// `Result` with SOP's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// ENOSPC and quota errors say "disk full" and what to do; other I/O errors
    /// stay I/O errors.
    #[test]
    fn a_full_volume_is_named_as_such() {
        for kind in [
            std::io::ErrorKind::StorageFull,
            std::io::ErrorKind::QuotaExceeded,
        ] {
            let e = Error::io("/db/tmp/x.tmp", std::io::Error::from(kind));
            assert!(matches!(e, Error::DiskFull { .. }), "{e:?}");
            let text = e.to_string();
            assert!(text.starts_with("disk full at /db/tmp/x.tmp"), "{text}");
            assert!(text.contains("free some space"), "{text}");
        }
        let e = Error::io("/db/x", std::io::Error::other("boom"));
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
    }

    /// The kind of every variant, stated apart from `Error::kind`. The match has
    /// no wildcard: a new variant does not compile until it is classified here
    /// (and given an example below).
    fn expected_kind(e: &Error) -> ErrorKind {
        use ErrorKind as K;
        match e {
            Error::Io { .. } => K::Io,
            Error::Corrupt { .. } => K::Corrupt,
            Error::Codec(_) => K::InvalidInput,
            Error::InvalidOption(_) => K::InvalidInput,
            Error::UnsupportedVersion { .. } => K::Unsupported,
            Error::NotFound(_) => K::NotFound,
            Error::InUse(..) => K::InUse,
            Error::AlreadyExists(_) => K::AlreadyExists,
            Error::StoreNotFound(_) => K::NotFound,
            Error::StoreExists(_) => K::AlreadyExists,
            Error::StoreMismatch { .. } => K::InvalidInput,
            Error::ReadOnly(_) => K::InvalidInput,
            Error::ReadOnlyOpen(_) => K::InvalidInput,
            Error::TxEnded => K::InvalidInput,
            Error::Conflict(_) => K::Retry,
            Error::Timeout(_) => K::Retry,
            Error::TooLarge { .. } => K::InvalidInput,
            Error::KeyTooLong { .. } => K::InvalidInput,
            Error::CommitOutcomeUnknown { .. } => K::OutcomeUnknown,
            Error::Poisoned(_) => K::Poisoned,
            Error::DiskFull { .. } => K::DiskFull,
            Error::Fenced => K::Fenced,
            Error::SnapshotTooOld(_) => K::Retry,
            Error::Coordinator(_) | Error::Registry(_) => K::Unavailable,
            Error::FeatureDisabled { .. } => K::Unsupported,
        }
    }

    #[test]
    fn every_variant_has_the_kind_that_says_what_to_do() {
        let io = || std::io::Error::other("boom");
        let every = vec![
            Error::io("/db/x", io()),
            Error::corrupt("/db/x", "bad checksum"),
            Error::Codec(CodecError::new("bad key")),
            Error::InvalidOption("slot_length".into()),
            Error::UnsupportedVersion {
                path: "/db/sop.json".into(),
                found: 9,
                supported: 1,
            },
            Error::NotFound("/db".into()),
            Error::InUse("/db".into(), "exclusive".into()),
            Error::AlreadyExists("/db".into()),
            Error::StoreNotFound("s".into()),
            Error::StoreExists("s".into()),
            Error::StoreMismatch {
                name: "s".into(),
                detail: "key type".into(),
            },
            Error::ReadOnly(crate::TxMode::ForReading),
            Error::ReadOnlyOpen("/db".into()),
            Error::TxEnded,
            Error::Conflict("node changed".into()),
            Error::Timeout(std::time::Duration::from_secs(1)),
            Error::TooLarge {
                budget: 1,
                staged: 2,
            },
            Error::KeyTooLong { len: 9, max: 8 },
            Error::CommitOutcomeUnknown {
                attempt: "a".into(),
                source: Box::new(Error::io("/db/log", io())),
            },
            Error::Poisoned("fsync failed".into()),
            Error::io("/db/x", std::io::ErrorKind::StorageFull.into()),
            Error::Fenced,
            Error::SnapshotTooOld("record reclaimed".into()),
            Error::Coordinator("Redis down".into()),
            Error::FeatureDisabled {
                feature: "redis",
                needed_for: "Clustered mode",
            },
        ];
        let variants: std::collections::HashSet<_> =
            every.iter().map(std::mem::discriminant).collect();
        assert_eq!(variants.len(), every.len(), "one example per variant");
        for e in &every {
            assert_eq!(e.kind(), expected_kind(e), "{e:?}");
            assert_eq!(e.is_conflict(), e.kind() == ErrorKind::Retry, "{e:?}");
        }
        let retry = every.iter().filter(|e| e.is_conflict()).count();
        assert_eq!(retry, 3, "conflict, timeout and snapshot too old");
    }
}
