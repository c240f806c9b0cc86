//! Errors of the search crate.

/// What can go wrong in the search layer.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The engine failed (I/O, a conflict at commit, a store missing, ...).
    #[error(transparent)]
    Sop(#[from] sop::Error),
    /// A query that does not parse or names what the index does not have.
    #[error("bad query at byte {pos}: {msg}")]
    BadQuery { pos: usize, msg: String },
    /// A field the index was not created with.
    #[error("unknown field {0:?}")]
    UnknownField(String),
    /// An index configuration that cannot be used.
    #[error("invalid index configuration: {0}")]
    InvalidConfig(String),
    /// Bytes in an index store that do not decode: damage, or another writer's bug.
    #[error("corrupt index entry in {store}: {detail}")]
    Corrupt { store: String, detail: String },
    /// A document id the index cannot key (an empty string, or one too long).
    #[error("invalid document id: {0}")]
    InvalidDocId(String),
}

impl SearchError {
    /// True if the engine reported a conflict (the transaction should be retried).
    pub fn is_conflict(&self) -> bool {
        matches!(self, SearchError::Sop(e) if e.is_conflict())
    }
}

/// A result of the search layer.
pub type Result<T> = std::result::Result<T, SearchError>;
