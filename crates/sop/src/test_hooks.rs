//! Internals for SOP's own tests, fuzz targets and test tools (cargo feature
//! `test-hooks`, off by default). Not part of the API: anything here may change
//! in any release, and nothing here is needed to use a database.
//!
//! - the decoders of on-disk bytes and their types (node images, commit records,
//!   checkpoint images, the wire primitives), for `tests/decode_garbage.rs` and
//!   the cargo-fuzz targets in `fuzz/`;
//! - the commit log as a folder of records ([`LogDir`]), for tests that look at
//!   what was committed (abort records that fence a process, say) or forge a
//!   record;
//! - the item frames of JSON stores;
//! - the coordinators (Standalone's lock table, and Clustered mode's), driven
//!   directly by the lease tests and by the worker processes of `sop-fixtures`.

pub use crate::btree::node::{cmp_item, Internal, Leaf, Node, Sep, ValueRef};
pub use crate::codec::wire::{checksum, put_varint, Reader};
#[cfg(feature = "redis")]
pub use crate::coord::RedisCoordinator;
pub use crate::coord::{Coordinator, LocalCoordinator};
pub use crate::json::{decode_item, encode_item};
pub use crate::log::record::{Placement, Record, StoreDelta, PREFIX_LEN, TRAILER_LEN};
pub use crate::log::LogDir;
pub use crate::registry::Image;

/// The header of commit record `seq` of `db`, wherever its log keeps it (a
/// folder, Cassandra, a bucket); `None` if there is no such record.
pub fn read_record(db: &crate::Database, seq: u64) -> crate::Result<Option<Record>> {
    db.inner.commits.read_header(seq)
}

/// Make `store` reachable in this process as the bucket `memory://NAME/PREFIX`
/// (`Registry::S3`): an in-memory object store, or one that injects faults in
/// front of another, for the object store backend's conformance and crash
/// tests. Replaces an earlier store of that name.
#[cfg(feature = "s3")]
pub fn register_object_store(name: &str, store: std::sync::Arc<dyn object_store::ObjectStore>) {
    crate::objects::register(name, store)
}

/// Re-exported for tests that build an in-memory or fault-injecting store.
#[cfg(feature = "s3")]
pub use object_store;

/// The object name of commit record `seq` under a bucket database's prefix.
#[cfg(feature = "s3")]
pub fn object_record_name(seq: u64) -> String {
    crate::log::record_key(seq)
}
