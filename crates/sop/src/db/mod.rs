//! The database facade: opening a folder and the shared in-process state
//! (catching up with the log, durability, checkpoints). Reading blobs is in
//! `read`, writing records in `writer`, garbage in `garbage`, the folder's
//! configuration in `config`, liveness and fencing in `process`.

mod blobs;
mod compact;
mod config;
mod garbage;
mod journal;
mod packed_copy;
mod process;
mod read;
mod reclaim;
mod writer;

pub(crate) use blobs::{unreferenced, Unreferenced};
pub use compact::{CompactOptions, CompactReport};
use config::load_or_create_config;
pub(crate) use config::{config_temps, create_dir_durable, write_config};
pub use packed_copy::PackReport;
use process::{spawn_heartbeat, spawn_recovery, take_process_lock};
pub use reclaim::ReclaimReport;
pub(crate) use writer::{RecordWriter, Written};

use crate::btree::node::{Leaf, Node, ValueRef};
use crate::cache::NodeCache;
use crate::codec::wire::checksum;
use crate::coord::{connect_clustered, Coordinator, LocalCoordinator};
use crate::error::{Error, Result};
use crate::io::{OsVfs, VFile, VLock, Vfs};
use crate::log::record::{Placement, Record, PREFIX_LEN};
use crate::log::LogDir;
use crate::options::{Coordination, DbOptions};
use crate::registry::{checkpoint, DbState, Handle, StoreInfo};
use crate::txn::Transaction;
use crate::TxMode;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Detail of the error for a big-value file that is not there.
pub(crate) const MISSING_BLOB: &str = "value blob is missing";

/// Version of the on-disk format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
pub const CONFIG_FILE: &str = "sop.json";

/// What the folder saves about the database (`sop.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DbConfig {
    /// Always `"sop"`.
    pub format: String,
    /// The on-disk format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// The database's identity (namespaces its keys in Redis).
    #[serde(default)]
    pub id: String,
    /// How processes sharing the folder coordinate.
    pub coordination: Coordination,
}

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
    /// Counted among the database's users (false for the background thread's
    /// handle, which must never be the one to close it).
    user: bool,
}

impl Clone for Database {
    fn clone(&self) -> Self {
        Database::from_inner(self.inner.clone())
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if self.user {
            self.inner.release_user();
        }
    }
}

pub(crate) struct DbInner {
    pub path: PathBuf,
    pub vfs: Arc<dyn Vfs>,
    pub opts: DbOptions,
    pub config: DbConfig,
    pub log: LogDir,
    pub state: RwLock<Arc<DbState>>,
    catchup: Mutex<()>,
    /// Serializes this process's link attempts (threads take turns at the log head).
    pub commit_lock: Mutex<()>,
    /// Highest sequence known durable (its directory fsynced).
    durable: Mutex<u64>,
    pub cache: NodeCache,
    files: Mutex<HashMap<u64, Arc<dyn VFile>>>,
    pub coord: Box<dyn Coordinator>,
    pub proc_id: u128,
    /// This process's lock on `procs/<id>.lock` (liveness); given up when the
    /// last user goes (`give_up_folder`).
    proc_lock: Mutex<Option<Box<dyn VLock>>>,
    /// The folder was given up (`give_up_folder`): no background write-out may
    /// touch it any more (another opener may be replaying its journals).
    given_up: AtomicBool,
    tmp_counter: AtomicU64,
    poisoned: AtomicBool,
    /// What poisoned the handle (the first such error).
    poison_reason: Mutex<Option<String>>,
    /// Opened on a full volume with a crashed owner's journal that could not be
    /// replayed (where the disk was full): reads only.
    full: Mutex<Option<PathBuf>>,
    /// Snapshot sequences of this process's open transactions (seq -> how many).
    snapshots: Mutex<std::collections::BTreeMap<u64, usize>>,
    /// Clustered mode: when a process's lease was first seen missing.
    suspects: Mutex<HashMap<u128, std::time::Instant>>,
    /// Garbage released by commit `seq` at an instant: big-value blobs, and whole
    /// blob folders of dropped stores. Deleted once no open transaction reads a
    /// snapshot before `seq` and the grace period has passed (`blobs.rs`).
    trash: Mutex<Vec<(u64, Instant, PathBuf)>>,
    blob_gc: blobs::BlobGc,
    /// Exclusive mode: the commit journal (None until open finishes, and in shared mode).
    journal: Mutex<Option<journal::Journal>>,
    /// Exclusive mode, open: no other process writes the log, so the state in
    /// memory is the newest and catching up reads nothing.
    alone: AtomicBool,
    /// Exclusive mode: `open.lock`, held while open.
    _open_lock: Mutex<Option<Box<dyn VLock>>>,
    /// Database handles and transactions alive (background threads are not
    /// counted): the last one to go closes the journal, in its own thread.
    users: std::sync::atomic::AtomicUsize,
    /// Exclusive mode: one writer of sealed journals at a time, and its wake-up.
    writing_out: Mutex<()>,
    kick: Arc<journal::Kick>,
}

/// The outcome of [`DbInner::link_record`].
pub(crate) enum Linked {
    /// Linked at this sequence (not yet known durable).
    At(u64),
    /// The record no longer applies to the newest state.
    Stale(Arc<DbState>),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

impl Database {
    /// Create or open the database in folder `path`.
    pub fn open(path: impl AsRef<Path>, mut opts: DbOptions) -> Result<Database> {
        let path = path.as_ref().to_path_buf();
        let ro = opts.read_only;
        if ro {
            if opts.exclusive {
                return Err(Error::InvalidOption(
                    "read_only and exclusive exclude each other".into(),
                ));
            }
            // Nothing is written: no creation, no recovery, no background thread.
            opts.create = false;
            opts.recover_on_open = false;
            opts.recovery_interval = None;
        }
        let vfs: Arc<dyn Vfs> = opts.vfs.clone().unwrap_or_else(|| Arc::new(OsVfs));
        if opts.exclusive && opts.journal_bytes == 0 {
            return Err(Error::InvalidOption(
                "journal_bytes must be positive".into(),
            ));
        }
        let exclusive_clustered = || {
            Error::InvalidOption(
                "exclusive needs a Standalone database (Clustered means many processes)".into(),
            )
        };
        if opts.exclusive && matches!(opts.coordination, Some(Coordination::Redis { .. })) {
            return Err(exclusive_clustered());
        }
        let config = load_or_create_config(&*vfs, &path, &opts)?;
        if let (Some(want), true) = (&opts.coordination, true) {
            if *want != config.coordination {
                return Err(Error::InvalidOption(format!(
                    "the database at {} is configured for {:?}, not {:?}; change it with Database::set_coordination",
                    path.display(),
                    config.coordination,
                    want
                )));
            }
        }
        if opts.exclusive && config.coordination != Coordination::Standalone {
            return Err(exclusive_clustered());
        }
        let coord: Box<dyn Coordinator> = match &config.coordination {
            // A read-only handle takes no lock and publishes nothing.
            _ if ro => Box::new(LocalCoordinator::new()),
            Coordination::Standalone => Box::new(LocalCoordinator::new()),
            Coordination::Redis { url } => {
                if config.id.is_empty() {
                    return Err(Error::corrupt(
                        path.join(CONFIG_FILE),
                        "Clustered mode needs a database id in sop.json",
                    ));
                }
                connect_clustered(url, &config.id)?
            }
        };
        for d in ["log", "tmp", "procs", "blobs", "checkpoints"] {
            let p = path.join(d);
            if !ro && !vfs.exists(&p).map_err(io_err(&p))? {
                vfs.create_dir_all(&p).map_err(io_err(&p))?;
                vfs.sync_dir(&path).map_err(io_err(&path))?;
            }
        }
        // Openers take turns at open.lock: an exclusive one keeps it, and replaying
        // a crashed owner's journal needs the folder alone.
        // A read-only opener takes neither (both are files it would write).
        let (open_lock, proc_id, proc_lock) = if ro {
            let none: Box<dyn VLock> = Box::new(NoLock);
            (None, uuid::Uuid::new_v4().as_u128(), none)
        } else {
            let open_lock = journal::take_open_lock(&*vfs, &path)?;
            let (proc_id, proc_lock) = take_process_lock(&*vfs, &path)?;
            let procs = path.join("procs");
            vfs.sync_dir(&procs).map_err(io_err(&procs))?;
            if opts.exclusive {
                journal::check_alone(&*vfs, &path, proc_id)?;
                let tmp = path.join("tmp").join(format!("{proc_id:032x}-owner.tmp"));
                // Only a help to waiting openers (they wait instead of failing at
                // once without it): a full disk must not stop the open.
                if let Err(e) = journal::claim_owner(&*vfs, &path, &tmp, proc_id) {
                    let _ = vfs.remove_file(&tmp);
                    tracing::warn!(error = %e, "could not name this exclusive owner in open.owner");
                }
            }
            (Some(open_lock), proc_id, proc_lock)
        };
        coord.lease(proc_id, opts.lease_ttl)?;
        let inner = DbInner {
            log: LogDir::new(&path),
            cache: NodeCache::new(opts.node_cache_bytes),
            path,
            vfs,
            config,
            state: RwLock::new(Arc::new(DbState::default())),
            catchup: Mutex::new(()),
            commit_lock: Mutex::new(()),
            durable: Mutex::new(0),
            files: Mutex::new(HashMap::new()),
            coord,
            proc_id,
            proc_lock: Mutex::new(Some(proc_lock)),
            given_up: AtomicBool::new(false),
            tmp_counter: AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
            poison_reason: Mutex::new(None),
            full: Mutex::new(None),
            snapshots: Mutex::new(Default::default()),
            suspects: Mutex::new(HashMap::new()),
            trash: Mutex::new(Vec::new()),
            blob_gc: Default::default(),
            journal: Mutex::new(None),
            alone: AtomicBool::new(false),
            _open_lock: Mutex::new(None),
            writing_out: Mutex::new(()),
            users: Default::default(),
            kick: Arc::default(),
            opts,
        };
        let db = Database::from_inner(Arc::new(inner));
        // A crashed exclusive owner's journals are replayed into the log; on a
        // full volume they cannot be (that writes a record pack), so they are
        // read in place and the handle only reads (`DbInner::full`).
        // A read-only opener reads them in place too, and replays nothing.
        let limit = if ro {
            db.inner.attach_journals()?
        } else {
            match db.inner.recover_journal() {
                Ok(()) => None,
                Err(Error::DiskFull { path, .. }) => {
                    let keep = db.inner.attach_journals()?;
                    tracing::warn!(path = %path.display(), "disk full: the journal cannot be replayed; the database is open for reading only");
                    *db.inner.full.lock() = Some(path);
                    keep
                }
                Err(e) => return Err(e),
            }
        };
        let full = db.inner.full.lock().is_some();
        if db.inner.opts.exclusive {
            *db.inner._open_lock.lock() = open_lock;
        } else {
            drop(open_lock);
        }
        db.inner.load_checkpoint()?;
        if db.inner.opts.recover_on_open && !full {
            db.recover()?;
        }
        let head = db.inner.catch_up_to(limit.unwrap_or(u64::MAX))?.seq;
        db.inner.check_no_gap(head)?;
        if ro || full {
            // Reads only. Of the state the journals hold, if any: nothing newer is
            // read (a live owner may still be appending to them).
            if limit.is_some() {
                db.inner.alone.store(true, Ordering::Release);
            }
            *db.inner.durable.lock() = head;
            return Ok(db);
        }
        // Records a crashed process linked may still sit only in the page cache.
        if head > 0 {
            db.inner.log.sync(&*db.inner.vfs, head)?;
        }
        *db.inner.durable.lock() = head;
        // Checkpoints beyond the head whose record is gone were written for a
        // record a power cut removed: a later commit will take that sequence.
        db.inner.remove_stale_checkpoints(head)?;
        if db.inner.opts.exclusive {
            db.inner.start_journal(head)?;
            db.inner.alone.store(true, Ordering::Release);
            journal::spawn_writer(Arc::downgrade(&db.inner), db.inner.kick.clone());
        }
        if let Some(every) = db.inner.opts.recovery_interval {
            spawn_recovery(Arc::downgrade(&db.inner), every);
        }
        if db.inner.coord.clustered() {
            spawn_heartbeat(Arc::downgrade(&db.inner), db.inner.opts.lease_ttl);
            db.inner.coord.publish_head(head);
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
        if self.inner.users.load(Ordering::Acquire) > 1 {
            return Err(Error::InUse(
                self.inner.path.clone(),
                "other handles or open transactions of this database are still alive".into(),
            ));
        }
        let res = self.inner.close_journal();
        drop(self);
        res
    }

    /// A handle on `inner`, counted as a user.
    pub(crate) fn from_inner(inner: Arc<DbInner>) -> Database {
        inner.add_user();
        Database { inner, user: true }
    }

    /// A handle for a background thread's maintenance: not a user, so dropping
    /// it never closes the database.
    pub(crate) fn background(inner: Arc<DbInner>) -> Database {
        Database { inner, user: false }
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
    pub fn commit_outcome(&self, txn_id: u128, since_seq: u64) -> Result<bool> {
        let head = self.inner.catch_up()?.seq;
        for seq in since_seq + 1..=head {
            if let Some(rec) = self.inner.log.read_header(&*self.inner.vfs, seq)? {
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

    /// Create the folder `path` (and its parents) and save a new database's
    /// configuration in it, without opening it (`sop init`). Fails with
    /// `Error::AlreadyExists` if the folder already holds a database.
    pub fn create_config(path: impl AsRef<Path>, coordination: Coordination) -> Result<DbConfig> {
        let path = path.as_ref();
        let vfs = OsVfs;
        let cfg_path = path.join(CONFIG_FILE);
        if vfs.exists(&cfg_path).map_err(io_err(&cfg_path))? {
            return Err(Error::AlreadyExists(path.to_path_buf()));
        }
        create_dir_durable(&vfs, path)?;
        let cfg = DbConfig {
            format: "sop".into(),
            version: FORMAT_VERSION,
            id: format!("{:032x}", uuid::Uuid::new_v4().as_u128()),
            coordination,
        };
        write_config(&vfs, path, &cfg, false)?;
        Ok(cfg)
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

impl DbInner {
    /// Fail if this handle only reads: opened `read_only` (`Error::ReadOnlyOpen`),
    /// or on a full volume (`Error::DiskFull`). Every write, maintenance
    /// included, asks this first.
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.opts.read_only {
            return Err(Error::ReadOnlyOpen(self.path.clone()));
        }
        match &*self.full.lock() {
            Some(path) => Err(Error::DiskFull {
                path: path.clone(),
                source: io::ErrorKind::StorageFull.into(),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn add_user(&self) {
        self.users.fetch_add(1, Ordering::AcqRel);
    }

    /// The last handle or transaction is gone: close the journal here, in the
    /// caller's thread. (Left to the last `Arc`, the close could run in a
    /// background thread that the process's exit then kills halfway.)
    pub(crate) fn release_user(&self) {
        if self.users.fetch_sub(1, Ordering::AcqRel) == 1 {
            match self.close_journal() {
                Ok(()) | Err(Error::Poisoned(_)) => {}
                Err(e) => tracing::warn!(error = %e, "journal left for the next open to replay"),
            }
            // No transaction is open (each is a user); other processes' may be.
            self.collect_trash_at_close();
            // The folder is free for the next opener now, even while a
            // background thread still holds this state for a moment.
            self.give_up_folder();
        }
    }

    /// Whether the last user is gone (background threads then stop). Final:
    /// nothing counts a user again once none is left (a new handle or
    /// transaction comes only from a live one).
    pub(crate) fn is_closed(&self) -> bool {
        self.users.load(Ordering::Acquire) == 0
    }

    /// Give up what marks this process as having the folder open: the exclusive
    /// owner's name, `open.lock`, the Redis lease, and the process lock with its
    /// file (a clean close leaves nothing for recovery). Idempotent.
    fn give_up_folder(&self) {
        // Under the write-out lock: a write-out in progress (the background
        // thread's, even after a failure poisoned the handle) finishes first, and
        // none starts after (`write_out_sealed` checks `given_up`).
        let _gate = self.writing_out.lock();
        // Once only: by then another opener may have claimed the folder (and
        // named itself in open.owner), which a second pass must not undo.
        if self.given_up.swap(true, Ordering::AcqRel) {
            return;
        }
        if self.opts.exclusive {
            // Before `open.lock` goes.
            let _ = self.vfs.remove_file(&self.path.join(journal::OPEN_OWNER));
        }
        *self._open_lock.lock() = None;
        self.coord.release_lease(self.proc_id);
        if let Some(lock) = self.proc_lock.lock().take() {
            let file = self
                .path
                .join("procs")
                .join(format!("{:032x}.lock", self.proc_id));
            // Removed while still locked, so no recovery takes it for a dead one's.
            let _ = self.vfs.remove_file(&file);
            drop(lock);
        }
    }

    pub fn check_poisoned(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Relaxed) {
            Err(self.poisoned_error())
        } else {
            Ok(())
        }
    }
    pub(crate) fn poisoned_error(&self) -> Error {
        let why = self.poison_reason.lock().clone();
        Error::Poisoned(why.unwrap_or_else(|| "an earlier write or fsync failed".into()))
    }
    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }
    /// Poison the handle, saying why (kept for every later `Poisoned` error).
    pub fn poison_with(&self, why: &Error) {
        self.poison_reason
            .lock()
            .get_or_insert_with(|| why.to_string());
        self.poison();
    }

    /// Read every record newer than what this process has applied.
    pub fn catch_up(&self) -> Result<Arc<DbState>> {
        self.catch_up_to(u64::MAX)
    }

    /// Read the records newer than what this process has applied, up to `limit`.
    fn catch_up_to(&self, limit: u64) -> Result<Arc<DbState>> {
        let current = self.state.read().clone();
        if self.alone.load(Ordering::Acquire) || !self.log_has(current.seq + 1)? {
            return Ok(current);
        }
        let _g = self.catchup.lock();
        let mut st = self.state.read().clone();
        let start = st.seq;
        while st.seq < limit {
            let next = st.seq + 1;
            match self.log.read_header(&*self.vfs, next)? {
                None => break,
                Some(rec) if rec.retired => {
                    // Reclaimed after a checkpoint covered it: continue from that checkpoint.
                    let dir = checkpoint::CheckpointDir::new(&self.path);
                    match dir
                        .load_newest(&*self.vfs, |seq, txn| self.checkpoint_matches(seq, txn))?
                    {
                        Some(cp) if cp.seq >= next => st = Arc::new(cp),
                        _ => {
                            let ckpts = self.path.join("checkpoints");
                            let present = dir.list(&*self.vfs).map_or(0, |l| l.len());
                            return Err(Error::corrupt(
                                self.log.path(next),
                                format!(
                                    "record was reclaimed and no intact checkpoint covers it \
                                     ({present} checkpoint file(s) in {}, none usable: damaged, \
                                     or taken at other records)",
                                    ckpts.display()
                                ),
                            ));
                        }
                    }
                }
                Some(rec) => Arc::make_mut(&mut st).apply(next, &rec),
            }
        }
        if st.seq != start {
            *self.state.write() = st.clone();
        }
        Ok(st)
    }

    /// Start from the newest valid checkpoint (damaged ones are skipped: they only save time).
    fn load_checkpoint(&self) -> Result<()> {
        let dir = checkpoint::CheckpointDir::new(&self.path);
        if let Some(st) =
            dir.load_newest(&*self.vfs, |seq, txn| self.checkpoint_matches(seq, txn))?
        {
            *self.state.write() = Arc::new(st);
        }
        Ok(())
    }

    /// Whether record `seq` exists and, if `txn` is known (non-zero), is the
    /// record of that transaction: a checkpoint of `seq` applies only then.
    fn checkpoint_matches(&self, seq: u64, txn: u128) -> Result<bool> {
        match self.log.read_header(&*self.vfs, seq) {
            Ok(Some(rec)) => Ok(txn == 0 || rec.txn == txn),
            Ok(None) | Err(Error::Corrupt { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Write a checkpoint of `st`, once its record is durable. A checkpoint is
    /// derived from the records up to `st.seq`; written while the newest of them
    /// could still vanish in a power cut, it would outlive that record and later
    /// stand for another commit at the same sequence.
    pub fn write_checkpoint(&self, st: &DbState) -> Result<()> {
        self.make_durable(st.seq)?;
        checkpoint::CheckpointDir::new(&self.path).write(&*self.vfs, st, &self.tmp_path())
    }

    /// Write a checkpoint of the state at `seq` if one is due; errors only cost replay time later.
    pub fn maybe_checkpoint(&self, seq: u64) {
        let every = self.opts.checkpoint_every;
        if every == 0 || !seq.is_multiple_of(every) {
            return;
        }
        let st = self.state.read().clone();
        if st.seq != seq {
            return; // someone else's commit came in between; theirs will do
        }
        if let Err(e) = self.write_checkpoint(&st) {
            tracing::warn!(seq, error = %e, "checkpoint not written");
        }
    }

    /// Checkpoints after `head` whose record does not exist. One written by an
    /// older build (no transaction id) may be of a record a power cut removed
    /// before it was durable: it is removed. This build writes a checkpoint only
    /// of a durable record, so one of those beyond the head is evidence that
    /// durable records were lost (damage): it is kept, for `check` to report.
    fn remove_stale_checkpoints(&self, head: u64) -> Result<()> {
        let dir = checkpoint::CheckpointDir::new(&self.path);
        for seq in dir.list(&*self.vfs)?.into_iter().filter(|s| *s > head) {
            if self.log_has(seq)? {
                continue;
            }
            match dir.read(&*self.vfs, seq) {
                Ok(st) if st.head_txn != 0 => tracing::error!(
                    seq,
                    head,
                    "a checkpoint proves that log records up to its sequence were durable, but the log ends before it"
                ),
                _ => dir.remove(&*self.vfs, seq)?,
            }
        }
        Ok(())
    }

    /// Records beyond `head` with one missing in between mean a damaged log
    /// (commits link only behind durable records, so a power cut leaves no gap).
    fn check_no_gap(&self, head: u64) -> Result<()> {
        let beyond: Vec<u64> = self
            .log
            .list_from(&*self.vfs, head)?
            .into_iter()
            .filter(|s| *s > head + 1)
            .collect();
        if let Some(last) = beyond.last() {
            if !self.log_has(head + 1)? {
                return Err(Error::corrupt(
                    self.log.path(head + 1),
                    format!(
                        "log record {} is missing but records up to {last} exist",
                        head + 1
                    ),
                ));
            }
        }
        Ok(())
    }

    fn log_has(&self, seq: u64) -> Result<bool> {
        let p = self.log.path(seq);
        self.vfs.exists(&p).map_err(io_err(&p))
    }

    /// The commit point: link the written record `tmp` at the next sequence,
    /// exclusively, provided `valid` holds at the newest state. Loops while other
    /// committers take the sequence first; `Stale` when `valid` fails.
    pub fn link_record(
        &self,
        w: &Written,
        rec: &Record,
        valid: &mut dyn FnMut(&DbState) -> bool,
        deadline: Instant,
        max_commit_time: Duration,
    ) -> Result<Linked> {
        loop {
            let _g = self.commit_lock.lock();
            let head = self.catch_up()?;
            if head.aborted.contains(&rec.txn) {
                return Err(Error::Conflict(
                    "recovery declared this transaction dead".into(),
                ));
            }
            if head.aborted.contains(&self.proc_id) {
                // Our lease lapsed and another process fenced us off and collected
                // what we left: nothing of ours may commit any more.
                self.poison_with(&Error::Fenced);
                return Err(Error::Fenced);
            }
            if !valid(&head) {
                return Ok(Linked::Stale(head));
            }
            let seq = head.seq + 1;
            let journaled = self.journaled();
            // Never link a record behind one that may not be durable: then the durable
            // records are always a prefix of the log, and a gap can only mean damage.
            // (The journal keeps its frames in log order, and replays only a prefix.)
            if !journaled {
                self.make_durable(head.seq)?;
            }
            let linked = match &w.path {
                // A failed directory sync on the way poisons like any failed sync; a
                // failed link may have linked (a network file system can lose the
                // reply): its outcome is unknown.
                Some(tmp) => {
                    self.log.prepare_link(&*self.vfs, seq, &|| self.poison())?;
                    self.log
                        .link_prepared(&*self.vfs, tmp, seq)
                        .map_err(|e| self.outcome_unknown(rec.txn, e))?
                }
                // Journaled and small: the record lives in the journal (packed) until
                // it is written out; no other process takes sequences meanwhile.
                None => true,
            };
            if linked {
                if journaled {
                    self.journal_append(seq, w)
                        .and_then(|()| self.maybe_rotate_journal())
                        .map_err(|e| self.outcome_unknown(rec.txn, e))?;
                }
                self.install(seq, rec);
                return Ok(Linked::At(seq));
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout(max_commit_time));
            }
        }
    }

    /// Make record `seq`, just linked by attempt `txn`, durable. A failure leaves
    /// the outcome unknown (Linux may drop dirty pages after a failed fsync), so it
    /// poisons the handle and is never retried.
    pub fn make_linked_durable(&self, seq: u64, txn: u128) -> Result<()> {
        self.make_durable(seq)
            .map_err(|e| self.outcome_unknown(txn, e))
    }

    /// An error after attempt `txn` was linked: poison the handle.
    fn outcome_unknown(&self, txn: u128, e: Error) -> Error {
        self.poison_with(&e);
        Error::CommitOutcomeUnknown {
            attempt: format!("{txn:032x}"),
            source: Box::new(e),
        }
    }

    /// Install a state after this process committed record `seq`.
    pub fn install(&self, seq: u64, rec: &Record) {
        let _g = self.catchup.lock();
        let mut st = self.state.read().clone();
        if st.seq + 1 == seq {
            Arc::make_mut(&mut st).apply(seq, rec);
            *self.state.write() = st;
        }
    }

    /// Make record `seq` durable; concurrent committers share one directory sync.
    /// A failure poisons the handle (whoever's record it was): after a failed
    /// fsync the page cache may show entries the disk lacks, and a later sync may
    /// report success without writing them.
    pub fn make_durable(&self, seq: u64) -> Result<()> {
        if self.opts.read_only {
            // It may not write, nor sync (a read-only mount may refuse that).
            return Ok(());
        }
        let mut d = self.durable.lock();
        if *d >= seq || seq == 0 {
            return Ok(());
        }
        if self.journaled() {
            // One fdatasync covers every frame appended so far.
            *d = self.journal_sync().inspect_err(|e| self.poison_with(e))?;
            return Ok(());
        }
        // Syncing seq's folder makes every record linked before it durable (earlier
        // folders were synced before the first link into a later one).
        self.log
            .sync(&*self.vfs, seq)
            .inspect_err(|e| self.poison_with(e))?;
        *d = seq;
        Ok(())
    }

    pub fn tmp_path(&self) -> PathBuf {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        self.path
            .join("tmp")
            .join(format!("{:032x}-{n:08x}.tmp", self.proc_id))
    }
}

/// The lock a read-only handle holds instead of a process lock: none.
struct NoLock;
impl VLock for NoLock {}

impl Drop for DbInner {
    fn drop(&mut self) {
        // The last user (`release_user`) closed the journal, collected the trash
        // and gave the folder up; doing any of it again here could touch files
        // another opener owns by now. This only makes sure of the last (a no-op).
        self.give_up_folder();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
