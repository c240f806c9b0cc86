//! SOP: Scalable Objects Persistence — an embedded, ACID, ordered key-value engine
//! whose B-tree nodes are immutable blobs in a folder.
//!
//! Open a [`Database`] on a folder, [`begin`](Database::begin) a [`Transaction`],
//! create or open stores in it (typed [`Store`]s, byte [`RawStore`]s or
//! [`JsonStore`]s), and commit:
//!
//! ```
//! use sop::{Database, DbOptions, StoreOptions, TxMode};
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("my-data");
//! let db = Database::open(&path, DbOptions::default())?;
//! let tx = db.begin(TxMode::ForWriting)?;
//! let users = tx.create_store::<String, String>("users", StoreOptions::default())?;
//! users.add(&"ada".to_string(), &"Ada Lovelace".to_string())?;
//! drop(users);
//! tx.commit()?;
//! # Ok::<(), sop::Error>(())
//! ```
//!
//! Everything a program needs is exported here, at the root. The only extension
//! points are the storage seam ([`Vfs`], set in [`DbOptions::vfs`]) and the key and
//! value codecs ([`Key`], [`Value`]).

// Every public item is documented and implements `Debug`. The `test-hooks`
// feature (off by default) exposes internals for SOP's own tests and fuzz
// targets, which are not API and held to neither; `cargo doc -p sop` and the
// clippy run of `cargo clippy -p sop --lib` (both in scripts/test.sh) check the
// API without it.
#![cfg_attr(
    not(feature = "test-hooks"),
    deny(missing_docs),
    warn(missing_debug_implementations)
)]

mod blob_store;
mod btree;
mod cache;
mod catalog;
mod codec;
mod coord;
mod counters;
mod db;
mod debug_impls;
mod engine;
mod error;
mod health;
mod io;
mod json;
mod json_text;
mod layout;
mod log;
mod maintenance;
#[cfg(feature = "s3")]
mod objects;
mod options;
mod read_cache;
mod registry;
mod store;
mod stream;
mod txn;

#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub mod test_hooks;

// ------------------------------------------------------------- database
pub use counters::EngineCounters;
pub use db::{Database, DbConfig, DbStats, StoreSummary, FORMAT_VERSION};
pub use options::{
    CassandraRegistry, Coordination, DbOptions, Registry, S3Bucket, DEFAULT_BLOB_GRACE,
};
pub use read_cache::{DiskCacheStats, ReadStats};

// ---------------------------------------------------------- transactions
pub use txn::Transaction;

/// How a transaction may use the database. There is no default: choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    /// Reads and writes; validated and merged at commit.
    ForWriting,
    /// Reads only; the commit fails if anything read was changed by another commit.
    ForReading,
    /// Reads only from a snapshot; no validation at all (static data).
    NoCheck,
}

// ---------------------------------------------------------------- stores
pub use btree::node::{ItemId, MAX_KEY_LEN};
pub use catalog::StoreInfo;
pub use options::{
    StoreOptions, ValuePlacement, AUTO_INLINE_MAX, DEFAULT_SLOT_LENGTH, MAX_SLOT_LENGTH,
    MIN_SLOT_LENGTH,
};
pub use store::{Cursor, Range, RawCursor, RawRange, RawStore, Store, StoreStats};
pub use stream::{
    StreamPut, ValueReader, MAX_STREAM_CHUNK_SIZE, MIN_STREAM_CHUNK_SIZE, STREAM_CHUNK_SIZE,
};

// ------------------------------------------------------ keys and values
pub use codec::key::Key;
pub use codec::value::Value;

// ----------------------------------------------------------- JSON stores
pub use codec::json_key::{compare_json_keys, encode_json_key, IndexField, IndexSpec, SortOrder};
pub use json::{parse_json, JsonRange, JsonStore, JSON_KEY_TYPE};

// ----------------------------------------------------------- maintenance
pub use db::{
    CheckReport, CompactOptions, CompactReport, PackReport, Progress, ReclaimReport,
    RecoveryReport, StoreCheck,
};

// ---------------------------------------------------------------- errors
pub use error::{CodecError, Error, ErrorKind, Result};

// ------------------------------------------------- storage (the I/O seam)
pub use io::{is_local_fs, FileId, OsVfs, SyncCounts, VFile, VLock, Vfs};
pub use layout::Layout;
