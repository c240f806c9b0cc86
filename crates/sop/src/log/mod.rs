//! The commit log: what orders commits, and where their records live.
//!
//! [`CommitLog`] is the interface a backend provides; the commit protocol
//! (`txn/commit.rs`) and catching up (`db/`) call only it. Its implementations:
//!
//! - [`SharedLog`] (`shared.rs`): any number of processes share the folder. The
//!   commit point is the exclusive hard link of a fully written, fsynced record
//!   file to the next free sequence number; a directory sync makes it durable.
//! - [`JournalLog`] (`exclusive.rs`): one process has the folder alone
//!   (`DbOptions::exclusive`). Small records go into an append-only journal made
//!   durable by one `fdatasync` per commit, and are written out as record files
//!   in the background.
//! - `CassandraLog` (`cassandra/`, feature `cassandra`): the record files stay
//!   in the folder; a lightweight transaction claims each sequence.
//! - `ObjectLog` (`objects.rs`, feature `s3`): records are objects in a bucket;
//!   a create-only PUT publishes each.
//!
//! docs/ARCHITECTURE.md §4.5 states the guarantees every implementation gives;
//! §4.6 and §4.7 how Cassandra and an object store give them.
//!
//! The rest of this folder is the folder's format: record files and their
//! naming (`dir.rs`, `record.rs`), record packs (`pack.rs`), journal frames
//! (`journal.rs`), and the replay of a crashed owner's journals (`replay.rs`).

#[cfg(feature = "cassandra")]
mod cassandra;
pub(crate) mod checkpoints;
mod dir;
mod exclusive;
pub mod image;
pub mod journal;
#[cfg(feature = "s3")]
mod objects;
pub mod pack;
pub mod record;
pub(crate) mod replay;
mod shared;
pub(crate) mod sync_mark;

#[cfg(feature = "cassandra")]
pub(crate) use cassandra::{CassandraLog, RowLeases};
pub use dir::{LogDir, Packed};
pub(crate) use exclusive::JournalLog;
#[cfg(all(feature = "s3", feature = "test-hooks"))]
pub(crate) use objects::record_key;
#[cfg(feature = "s3")]
pub(crate) use objects::ObjectLog;
pub(crate) use shared::SharedLog;

use crate::error::Result;
use crate::io::VFile;
use record::Record;
use std::path::PathBuf;
use std::sync::Arc;

/// A finished record, ready to be published.
pub(crate) struct Written {
    /// Its temporary file, fsynced; `None` when it exists only as `bytes`.
    pub path: Option<PathBuf>,
    /// The record's bytes, when the log takes them in memory
    /// ([`CommitLog::copy_max`]).
    pub bytes: Option<Vec<u8>>,
}

impl Written {
    /// Remove the temporary file, if any (after publishing it, or giving up).
    pub fn discard(&self, vfs: &dyn crate::io::Vfs) {
        if let Some(p) = &self.path {
            let _ = vfs.remove_file(p);
        }
    }
}

/// What a backend provides to order commits and keep them.
///
/// Guarantees every implementation gives (the protocol relies on each):
///
/// 1. **One winner per sequence.** [`publish`](CommitLog::publish) of sequence
///    `seq` succeeds for exactly one record, whoever races for it, in this
///    process or any other; every other attempt learns that `seq` is taken.
/// 2. **Durable prefix.** Once [`make_durable`](CommitLog::make_durable)`(seq)`
///    returns, records `1..=seq` survive a crash or power cut. A record is never
///    published behind one that may still vanish, so after a crash the log is a
///    prefix of what was published: a gap can only mean damage.
/// 3. **Readable once published.** A published record can be read back by every
///    process (`read_header`, `open_record`), and `exists(seq)` is true for it.
/// 4. **Unknown outcome is reported, never guessed.** An error from `publish`
///    may hide a success (a lost reply): the caller reports the commit's outcome
///    as unknown and never retries it.
pub(crate) trait CommitLog: Send + Sync {
    /// Records up to this many bytes may be handed to [`publish`](CommitLog::publish)
    /// in memory (`Written::bytes`) instead of as a synced file; 0 for never.
    fn copy_max(&self) -> usize;

    /// Whether no other process can publish while this handle is open, so the
    /// state in memory is always the newest (catching up reads nothing).
    fn alone(&self) -> bool;

    /// Before publishing at `seq`, with every record before it applied: make what
    /// publishing needs true (its predecessors durable, room for its name). An
    /// error here leaves no trace of the commit.
    fn prepare(&self, seq: u64, w: &Written) -> Result<()>;

    /// The commit point: make `w` record `seq`, exactly once. `Ok(false)` if
    /// another record has `seq`. Any error leaves the outcome unknown.
    fn publish(&self, seq: u64, w: &Written) -> Result<bool>;

    /// Make every record up to `seq` durable; concurrent callers share the work.
    /// A failure poisons the handle.
    fn make_durable(&self, seq: u64) -> Result<()>;

    /// At open, once the log has been read up to `head`: make `head` durable (a
    /// crashed process may have published it without syncing), or, for a handle
    /// that never writes (`writable` false), take it as durable; then start
    /// taking commits.
    fn start(&self, head: u64, writable: bool) -> Result<()>;

    /// Whether record `seq` has been published (as far as this process can see).
    fn exists(&self, seq: u64) -> Result<bool>;

    /// Whether an attempt to publish whose outcome was reported unknown may
    /// still take a sequence later (a request queued in a remote registry), so
    /// that only taking the next sequence settles it (`Database::commit_outcome`).
    fn lost_claims_linger(&self) -> bool {
        false
    }

    /// Whether record `seq` exists, once any attempt to publish it that may
    /// still be in flight has been settled: after `Ok(false)` no attempt made
    /// so far can publish `seq`. Where publishing is one atomic step (a link),
    /// the same as `exists`.
    fn settle(&self, seq: u64) -> Result<bool> {
        self.exists(seq)
    }

    /// The header of record `seq`; `Ok(None)` if it does not exist (yet).
    fn read_header(&self, seq: u64) -> Result<Option<Record>>;

    /// Record `seq` as a file to read node images and values from.
    fn open_record(&self, seq: u64) -> Result<Arc<dyn VFile>>;

    /// Retire every record at or below `up_to` whose sequence is not in `live`
    /// (a durable checkpoint at `up_to` or later covers their headers, and
    /// nothing current refers to their bodies), keeping for each a tombstone
    /// that names its transaction and keeps its sequence taken. Durable on
    /// return. Returns how many were retired, and their bytes.
    fn retire(&self, up_to: u64, live: &std::collections::HashSet<u64>) -> Result<(usize, u64)>;

    /// Sequences of the records present after `after` (all of them for 0),
    /// ascending, as a listing shows them. For maintenance only (check,
    /// finding a gap): what exists is decided by `exists`/`read_header`, since
    /// some stores' listings lag behind writes.
    fn list_from(&self, after: u64) -> Result<Vec<u64>>;

    /// Whether the records are files in the folder's `log/` (compaction packs
    /// them there, and reads their sizes from the folder); false for an object
    /// store.
    fn in_folder(&self) -> bool {
        true
    }

    /// Record `seq`'s length and its body's length (node images and values),
    /// `None` if it is missing or retired: what compaction weighs a record by
    /// where the records are not files in the folder (`in_folder` false).
    fn record_sizes(&self, seq: u64) -> Result<Option<(u64, u64)>> {
        let _ = seq;
        Err(crate::error::Error::InvalidOption(
            "this commit log keeps its records in the folder".into(),
        ))
    }

    /// Where record `seq` is (for messages).
    fn location(&self, seq: u64) -> PathBuf;

    /// Where checkpoints of the registry state are kept.
    fn checkpoints(&self) -> &dyn checkpoints::CheckpointStore;

    /// Move records kept elsewhere for now (a journal) to their final place, so
    /// maintenance sees every record as a file. A no-op where there is none.
    fn write_out(&self) -> Result<()>;

    /// A clean close: everything published is durable and in its final place.
    /// An error leaves it for the next opener to finish (replay).
    fn close(&self) -> Result<()>;

    /// Drop what is left of a record that was not published (its temporary
    /// file, and wherever `prepare` put it).
    fn discard(&self, w: &Written);

    /// Recovery's part in the log: remove what processes that are `dead` left
    /// for sequences up to `head` (taken by others) and finish what a crash
    /// stopped halfway. Returns how many files were removed.
    fn tidy(&self, _head: u64, _dead: &dyn Fn(u128) -> bool) -> Result<usize> {
        Ok(0)
    }

    /// `check`'s part in the log, before the folder's records are read: what
    /// the log keeps outside the folder agrees with the folder up to `head`.
    /// Problems found go to `problems`; an error means the check could not run.
    fn check(&self, _head: u64, _problems: &mut Vec<String>) -> Result<()> {
        Ok(())
    }

    /// Stop for good: no background work touches the folder after this returns,
    /// and `release` runs once, while none runs (the first call only; later
    /// calls do nothing).
    fn give_up(&self, release: &mut dyn FnMut());
}
