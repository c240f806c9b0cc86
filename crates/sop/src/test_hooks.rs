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
