//! Typed errors.

use std::path::PathBuf;

/// A decoding failure of bytes that came from disk or from a caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

impl CodecError {
    pub fn new(msg: impl Into<String>) -> Self {
        CodecError(msg.into())
    }
}

/// Everything that can go wrong in SOP.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt data in {path}: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{0}")]
    Codec(#[from] CodecError),
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error("database at {path} has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("no database at {0} (open with create enabled to make one)")]
    NotFound(PathBuf),
    #[error("database at {0} is in use: {1}")]
    InUse(PathBuf, String),
    #[error("a database already exists at {0}")]
    AlreadyExists(PathBuf),
    #[error("store {0:?} does not exist")]
    StoreNotFound(String),
    #[error("store {0:?} already exists")]
    StoreExists(String),
    #[error("store {name:?} does not match: {detail}")]
    StoreMismatch { name: String, detail: String },
    #[error("write operation in a {0:?} transaction; begin the transaction ForWriting")]
    ReadOnly(crate::TxMode),
    #[error("the transaction has already ended")]
    TxEnded,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("commit did not finish within the maximum commit time of {0:?}")]
    Timeout(std::time::Duration),
    #[error("transaction exceeds its memory budget of {budget} bytes (staged {staged} bytes)")]
    TooLarge { budget: usize, staged: usize },
    /// The commit record may or may not be durable: an error happened after the
    /// commit point. The caller must not blindly retry; look up the outcome with
    /// `Database::commit_outcome(attempt)`.
    #[error("commit outcome unknown for attempt {attempt}: {source}")]
    CommitOutcomeUnknown { attempt: String, source: Box<Error> },
    /// An earlier error left this handle unable to go on safely (after a failed
    /// fsync the page cache may claim bytes the disk never got); the text says
    /// which. Reopening the database rebuilds its state from what is durable.
    #[error("the database handle is poisoned by an earlier error ({0}); reopen the database")]
    Poisoned(String),
    /// The volume holding the database is full (ENOSPC or a quota).
    #[error("disk full at {path}: free some space on that volume (nothing committed was lost), then retry or reopen")]
    DiskFull { path: PathBuf, source: std::io::Error },
    #[error("this process's lease expired and other processes fenced it off; reopen the database")]
    Fenced,
    #[error("snapshot too old: {0}")]
    SnapshotTooOld(String),
    #[error("coordinator error: {0}")]
    Coordinator(String),
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
    /// True for errors a caller may resolve by retrying the whole transaction.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Error::Conflict(_) | Error::Timeout(_) | Error::SnapshotTooOld(_)
        )
    }
}

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
}
