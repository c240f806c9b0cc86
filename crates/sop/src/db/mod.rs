//! The public database handle: `Database`, a counted handle on the engine
//! (`engine/`). Opening (`open`), transactions, statistics and the folder's
//! configuration are here; maintenance (`maintenance.rs`, run by the engine's
//! maintenance code in `maintenance/`), compact copies (`packed_copy.rs`) and
//! the background thread (`background.rs`) beside it.

mod background;
mod by_url;
mod maintenance;
mod packed_copy;

pub use crate::engine::{DbConfig, FORMAT_VERSION};
pub use crate::maintenance::{
    CheckReport, CompactOptions, CompactReport, Progress, ReclaimReport, RecoveryReport, StoreCheck,
};
pub use packed_copy::PackReport;

use crate::coord::connect_clustered;
use crate::engine::{create_dir_durable, load_or_create_config, write_config, DbInner};
use crate::error::{Error, Result};
use crate::io::{OsVfs, Vfs};
use crate::maintenance::recovery;
use crate::options::{Coordination, DbOptions};
use crate::registry::StoreInfo;
use crate::txn::Transaction;
use crate::TxMode;
use background::spawn_recovery;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// An open database. Cheap to clone; share it between threads.
///
/// The database closes when the last clone and the last transaction begun from
/// it are gone, in the thread that drops that last one: an exclusive folder's
/// journal is then written out into the log (`Database::close` does the same and
/// reports errors).
///
/// ```
/// use sop::{Database, DbOptions, StoreOptions, TxMode};
/// # let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("db");
/// let db = Database::open(&path, DbOptions::default())?; // creates the folder
/// let tx = db.begin(TxMode::ForWriting)?;
/// tx.create_store::<u64, String>("notes", StoreOptions::default())?
///     .add(&1, &"first".to_string())?;
/// tx.commit()?;
/// let head = db.head()?; // the sequence of the newest commit
/// assert_eq!(db.stats()?.stores[0].items, 1);
/// db.close()?;
///
/// // Another open (in this process or another) sees what was committed.
/// let db = Database::open(&path, DbOptions::default())?;
/// assert_eq!(db.head()?, head);
/// let tx = db.begin(TxMode::NoCheck)?;
/// assert_eq!(tx.open_store::<u64, String>("notes")?.get(&1)?.as_deref(), Some("first"));
/// # Ok::<(), sop::Error>(())
/// ```
pub struct Database {
    pub(crate) inner: Arc<DbInner>,
}

impl Clone for Database {
    fn clone(&self) -> Self {
        Database::from_inner(self.inner.clone())
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        self.inner.release_user();
    }
}

impl Database {
    /// Create or open the database in folder `path`; or, with the `s3` feature,
    /// the database in a bucket by its URL, `s3://BUCKET/PREFIX` (this host's
    /// state of it then goes under `DbOptions::state_dir`; the endpoint comes
    /// from the options' `Registry::S3` for that URL, else from
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`).
    pub fn open(path: impl AsRef<Path>, opts: DbOptions) -> Result<Database> {
        let (path, opts) = by_url::resolve(path.as_ref(), opts)?;
        let (inner, open_lock) = DbInner::create(path, opts)?;
        let db = Database::from_inner(Arc::new(inner));
        let writable = db
            .inner
            .open_log(open_lock, &mut || recovery::recover(&db.inner).map(|_| ()))?;
        if writable {
            if let Some(every) = db.inner.opts.recovery_interval {
                spawn_recovery(Arc::downgrade(&db.inner), every);
            }
        }
        Ok(db)
    }

    /// Begin a transaction with the database's default maximum commit time.
    pub fn begin(&self, mode: TxMode) -> Result<Transaction> {
        self.begin_with(mode, self.inner.opts.max_commit_time)
    }

    /// Begin a transaction whose commit gives up after `max_commit_time`.
    pub fn begin_with(&self, mode: TxMode, max_commit_time: Duration) -> Result<Transaction> {
        self.inner.check_poisoned()?;
        if mode == TxMode::ForWriting {
            self.inner.check_writable()?;
        }
        let mut snap = self.inner.catch_up()?;
        // Another process announced a newer commit that our view of the folder
        // does not show yet (network file systems cache directory lookups).
        if let Some(hint) = self.inner.coord.head_hint() {
            let mut tries = 0;
            while snap.seq < hint && tries < 50 {
                std::thread::sleep(Duration::from_millis(2));
                snap = self.inner.catch_up()?;
                tries += 1;
            }
        }
        Ok(Transaction::new(
            self.inner.clone(),
            mode,
            snap,
            max_commit_time,
        ))
    }

    /// Close the database now and report what closing did not finish (dropping
    /// the last handle closes it too, logging errors). An exclusive folder closed
    /// with `Ok` holds no journal: every journaled commit was written out into
    /// the log. Fails with `Error::InUse` if other clones of this handle or open
    /// transactions are still alive (it then closes when the last of them goes).
    pub fn close(self) -> Result<()> {
        if self.inner.users() > 1 {
            return Err(Error::InUse(
                self.inner.path.clone(),
                "other handles or open transactions of this database are still alive".into(),
            ));
        }
        let res = self.inner.close_log();
        drop(self);
        res
    }

    /// A handle on `inner`, counted as a user.
    pub(crate) fn from_inner(inner: Arc<DbInner>) -> Database {
        inner.add_user();
        Database { inner }
    }

    /// The folder of this database.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The sequence number of the newest commit this process has seen.
    pub fn head(&self) -> Result<u64> {
        Ok(self.inner.catch_up()?.seq)
    }

    /// Whether the transaction with this id has a durable commit record
    /// (used after `Error::CommitOutcomeUnknown`).
    ///
    /// The answer is final: an attempt still in flight in the log (a claim a
    /// Cassandra node accepted but did not finish) is settled first, and where
    /// a lost claim may still arrive later (a Cassandra registry) an empty
    /// record takes the next sequence before a `false` is given, so a `false`
    /// cannot turn `true` later. That needs a handle that may write.
    pub fn commit_outcome(&self, txn_id: u128, since_seq: u64) -> Result<bool> {
        let head = loop {
            let head = self.inner.catch_up()?.seq;
            if !self.inner.commits.settle(head + 1)? {
                break head;
            }
        };
        if self.committed_between(txn_id, since_seq, head)? {
            return Ok(true);
        }
        if !self.inner.commits.lost_claims_linger() {
            return Ok(false);
        }
        // A lost claim may still be queued in the registry: take the next
        // sequence with an empty record, after which it can take none.
        let fence = crate::maintenance::fencing::append_empty(&self.inner)?;
        self.committed_between(txn_id, head, fence)
    }

    /// Whether a record in `from + 1..=to` is transaction `txn_id`'s.
    fn committed_between(&self, txn_id: u128, from: u64, to: u64) -> Result<bool> {
        for seq in from + 1..=to {
            if let Some(rec) = self.inner.commits.read_header(seq)? {
                if rec.txn == txn_id {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Change how processes coordinate over the folder at `path` (Standalone or
    /// Clustered). Do it while no process has the database open in the other mode.
    pub fn set_coordination(path: impl AsRef<Path>, coordination: Coordination) -> Result<()> {
        let path = path.as_ref();
        let vfs = OsVfs;
        let opts = DbOptions {
            create: false,
            ..Default::default()
        };
        let mut cfg = load_or_create_config(&vfs, path, &opts)?;
        if let Coordination::Redis { url } = &coordination {
            // Check the server answers before saving an address nobody can use.
            connect_clustered(url, &cfg.id)?;
        }
        if cfg.id.is_empty() {
            cfg.id = format!("{:032x}", uuid::Uuid::new_v4().as_u128());
        }
        cfg.coordination = coordination;
        write_config(&vfs, path, &cfg, true)
    }

    /// The configuration saved in the folder.
    pub fn config(&self) -> &DbConfig {
        &self.inner.config
    }

    /// Bytes held by the node and value cache.
    pub fn cache_bytes(&self) -> u64 {
        self.inner.cache.weight()
    }

    /// What this process did on this database since it opened it: commits,
    /// conflicts, in-flight merges, node and value cache hits and misses.
    pub fn counters(&self) -> crate::EngineCounters {
        self.inner.counters.snapshot()
    }

    /// Create the folder `path` (and its parents) and save a new database's
    /// configuration in it, without opening it (`sop init`). Fails with
    /// `Error::AlreadyExists` if the folder already holds a database.
    pub fn create_config(path: impl AsRef<Path>, coordination: Coordination) -> Result<DbConfig> {
        Self::create_config_with(path, coordination, crate::options::Registry::Folder)
    }

    /// [`create_config`](Database::create_config) with the registry's place too:
    /// `Registry::Cassandra` keeps the registry and the commit point on Cassandra
    /// (the keyspace and table are made when the database is first opened).
    pub fn create_config_with(
        path: impl AsRef<Path>,
        coordination: Coordination,
        registry: crate::options::Registry,
    ) -> Result<DbConfig> {
        let path = path.as_ref();
        let vfs = OsVfs;
        let cfg_path = crate::layout::Layout::new(path).config();
        if vfs.exists(&cfg_path).map_err(|e| Error::io(&cfg_path, e))? {
            return Err(Error::AlreadyExists(path.to_path_buf()));
        }
        create_dir_durable(&vfs, path)?;
        let cfg = DbConfig {
            format: "sop".into(),
            version: FORMAT_VERSION,
            id: format!("{:032x}", uuid::Uuid::new_v4().as_u128()),
            coordination,
            registry,
        };
        write_config(&vfs, path, &cfg, false)?;
        Ok(cfg)
    }

    /// What this handle's reads and writes have cost so far: requests and
    /// bytes to and from an object store (all zero for a folder), and the
    /// local disk cache's hits and misses (`DbOptions::object_cache_dir`).
    pub fn read_stats(&self) -> crate::ReadStats {
        self.inner.read_stats()
    }

    /// The registry as of the newest commit: per store its info, item count, and
    /// the number and total size of its current node images. Reads no node.
    pub fn stats(&self) -> Result<DbStats> {
        let head = self.inner.catch_up()?;
        let mut stores: Vec<StoreSummary> = head
            .stores
            .values()
            .map(|s| StoreSummary {
                info: (*s.info).clone(),
                created_seq: s.created_seq,
                items: s.count,
                nodes: s.nodes.len() as u64,
                delta_nodes: s.nodes.values().filter(|h| h.base.is_some()).count() as u64,
                node_bytes: s
                    .nodes
                    .values()
                    .flat_map(|h| h.images())
                    .map(|i| i.len as u64)
                    .sum(),
            })
            .collect();
        stores.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        Ok(DbStats {
            head: head.seq,
            stores,
        })
    }
}

impl Database {
    /// Whether the folder at `path` holds a database: its configuration file
    /// (`sop.json`) is there. A missing folder, or one of other files, does not.
    ///
    /// ```
    /// use sop::{Database, DbOptions};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("db");
    /// assert!(!Database::exists(&path)?);
    /// Database::open(&path, DbOptions::default())?.close()?;
    /// assert!(Database::exists(&path)?);
    /// # Ok::<(), sop::Error>(())
    /// ```
    pub fn exists(path: impl AsRef<Path>) -> Result<bool> {
        let cfg_path = crate::layout::Layout::new(path.as_ref()).config();
        OsVfs.exists(&cfg_path).map_err(|e| Error::io(&cfg_path, e))
    }
}

/// What `Database::stats` reports.
#[derive(Clone, Debug, Serialize)]
pub struct DbStats {
    /// Sequence of the newest commit.
    pub head: u64,
    /// Stores by name.
    pub stores: Vec<StoreSummary>,
}

/// One store in `DbStats`.
#[derive(Clone, Debug, Serialize)]
pub struct StoreSummary {
    /// What was saved about the store when it was created.
    pub info: StoreInfo,
    /// Sequence of the commit that created the store.
    pub created_seq: u64,
    /// Items in the store.
    pub items: u64,
    /// Nodes in the registry (current images).
    pub nodes: u64,
    /// Of those, leaves whose current image is a delta of an earlier full image.
    pub delta_nodes: u64,
    /// Bytes of the current node images, and of the full images leaf deltas apply
    /// to (superseded images are not counted).
    pub node_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A background thread holding the state for a moment when the last handle
    /// goes (the journal writer checks for work every 200 ms) must not keep the
    /// folder: the next opener, exclusive or not, gets in at once. (An exclusive
    /// opener once found the closed owner still named and alive: `InUse`.)
    #[test]
    fn the_last_handle_gives_the_folder_up_though_a_thread_still_holds_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let excl = || DbOptions {
            exclusive: true,
            recovery_interval: None,
            ..Default::default()
        };
        for reopen_exclusive in [true, false] {
            let db = Database::open(dir.path(), excl()).unwrap();
            let held = db.inner.clone(); // as the writer thread's upgrade would
            drop(db);
            let start = Instant::now();
            let again = Database::open(
                dir.path(),
                DbOptions {
                    exclusive: reopen_exclusive,
                    ..excl()
                },
            )
            .unwrap_or_else(|e| panic!("reopen (exclusive {reopen_exclusive}): {e}"));
            assert!(start.elapsed() < Duration::from_secs(1));
            assert!(held.is_closed());
            drop(again);
            drop(held);
        }
    }
}
