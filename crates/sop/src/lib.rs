//! SOP: Scalable Objects Persistence — an embedded, ACID, ordered key-value engine
//! whose B-tree nodes are immutable blobs in a folder.
//!
//! ```no_run
//! use sop::{Database, DbOptions, StoreOptions, TxMode};
//! let db = Database::open("my-data", DbOptions::default())?;
//! let tx = db.begin(TxMode::ForWriting)?;
//! let users = tx.create_store::<String, String>("users", StoreOptions::default())?;
//! users.add(&"ada".to_string(), &"Ada Lovelace".to_string())?;
//! drop(users);
//! tx.commit()?;
//! # Ok::<(), sop::Error>(())
//! ```

pub mod btree;
pub mod cache;
mod catalog;
pub mod codec;
pub mod coord;
pub mod db;
mod engine;
pub mod error;
mod health;
pub mod io;
pub mod json;
mod json_text;
mod layout;
pub mod log;
mod maintenance;
pub mod options;
pub mod registry;
pub mod store;
pub mod txn;

pub use btree::node::ItemId;
pub use codec::key::Key;
pub use codec::value::Value;
pub use db::{
    CheckReport, CompactOptions, CompactReport, Database, PackReport, ReclaimReport,
    RecoveryReport, StoreCheck,
};
pub use error::{CodecError, Error, ErrorKind, Result};
pub use json::{JsonRange, JsonStore};
pub use layout::Layout;
pub use options::{Coordination, DbOptions, StoreOptions, ValuePlacement, DEFAULT_BLOB_GRACE};
pub use store::{Cursor, Range, RawCursor, RawRange, RawStore, Store, StoreStats};
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
