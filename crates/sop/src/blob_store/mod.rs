//! Where big values live (`ValuePlacement::Big`): one immutable blob per value,
//! named by its store and a blob id. [`BlobStore`] is what a backend provides;
//! the engine, transactions and maintenance reach big values only through it.
//! Today's implementation is a folder (`folder.rs`: `blobs/<store>/<blob>`); an
//! object store is next (docs/ARCHITECTURE.md §4.5).
//!
//! Record bodies (node images and separate values) are not here: they are
//! published and read through the commit log (`log/`).

mod folder;
#[cfg(feature = "s3")]
mod objects;

pub(crate) use folder::FolderBlobs;
#[cfg(feature = "s3")]
pub(crate) use objects::ObjectBlobs;

use crate::error::Result;
use std::path::PathBuf;

/// A blob found by listing the store: its store's and its own name as the
/// backend spells them (maintenance judges names: a blob's name starts with its
/// writer's process id), and its location.
pub(crate) struct Listed {
    pub store: String,
    pub name: String,
    pub location: PathBuf,
}

/// What a backend provides for big values.
///
/// Guarantees: a blob is written once and never changed (`put` fails if it
/// exists); once `sync` returns, the blobs it names survive a crash or power
/// cut, so a commit record may refer to them; `get` returns the bytes `put`
/// wrote, or `None` once the blob is gone.
pub(crate) trait BlobStore: Send + Sync {
    /// Where blob `blob` of store `store` lives (a path, or an object's key):
    /// for messages, and as the blob's name in the garbage queue.
    fn location(&self, store: u64, blob: u128) -> PathBuf;

    /// Where store `store`'s blobs live (dropped as a whole with the store).
    fn store_location(&self, store: u64) -> PathBuf;

    /// Write a new blob. Not durable until `sync`.
    fn put(&self, store: u64, blob: u128, bytes: &[u8]) -> Result<()>;

    /// Make `blobs` durable (their bytes and their names). A failure that may
    /// have lost another writer's name poisons the handle.
    fn sync(&self, blobs: &[(u64, u128)]) -> Result<()>;

    /// A blob's bytes; `None` if it is not there.
    fn get(&self, store: u64, blob: u128) -> Result<Option<Vec<u8>>>;

    /// Remove what `location` names: a blob, or a dropped store's blobs. Ok
    /// when it is gone (or was never there).
    fn remove(&self, location: &std::path::Path) -> Result<()>;

    /// Every blob there is, in no particular order.
    fn list(&self) -> Result<Vec<Listed>>;
}
