//! The database facade: opening a folder and the shared in-process state
//! (catching up with the log, durability, checkpoints). Reading blobs is in
//! `read`, writing records in `writer`, garbage in `garbage`, the folder's
//! configuration in `config`, liveness and fencing in `process`.

mod blobs;
mod compact;
mod config;
mod garbage;
mod journal;
mod process;
mod read;
mod reclaim;
mod writer;

pub(crate) use blobs::{unreferenced, Unreferenced};
pub use compact::{CompactOptions, CompactReport};
use config::load_or_create_config;
pub(crate) use config::{config_temps, create_dir_durable, write_config};
use process::{spawn_heartbeat, spawn_recovery, take_process_lock};
pub use reclaim::ReclaimReport;
pub(crate) use writer::{RecordWriter, Written};

use crate::btree::node::{Leaf, Node, ValueRef};
use crate::cache::NodeCache;
use crate::codec::wire::checksum;
use crate::coord::{Coordinator, LocalCoordinator, RedisCoordinator};
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
    pub format: String,
    pub version: u32,
    /// The database's identity (namespaces its keys in Redis).
    #[serde(default)]
    pub id: String,
    pub coordination: Coordination,
}

/// An open database. Cheap to clone; share it between threads.
#[derive(Clone)]
pub struct Database {
    pub(crate) inner: Arc<DbInner>,
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
    _proc_lock: Box<dyn VLock>,
    tmp_counter: AtomicU64,
    poisoned: AtomicBool,
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
    pub fn open(path: impl AsRef<Path>, opts: DbOptions) -> Result<Database> {
        let path = path.as_ref().to_path_buf();
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
            Coordination::Standalone => Box::new(LocalCoordinator::new()),
            Coordination::Redis { url } => {
                if config.id.is_empty() {
                    return Err(Error::corrupt(
                        path.join(CONFIG_FILE),
                        "Clustered mode needs a database id in sop.json",
                    ));
                }
                Box::new(RedisCoordinator::connect(url, &config.id)?)
            }
        };
        for d in ["log", "tmp", "procs", "blobs", "checkpoints"] {
            let p = path.join(d);
            if !vfs.exists(&p).map_err(io_err(&p))? {
                vfs.create_dir_all(&p).map_err(io_err(&p))?;
                vfs.sync_dir(&path).map_err(io_err(&path))?;
            }
        }
        // Openers take turns at open.lock: an exclusive one keeps it, and replaying
        // a crashed owner's journal needs the folder alone.
        let open_lock = journal::take_open_lock(&*vfs, &path)?;
        let (proc_id, proc_lock) = take_process_lock(&*vfs, &path)?;
        let procs = path.join("procs");
        vfs.sync_dir(&procs).map_err(io_err(&procs))?;
        if opts.exclusive {
            journal::check_alone(&*vfs, &path, proc_id)?;
        }
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
            _proc_lock: proc_lock,
            tmp_counter: AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
            snapshots: Mutex::new(Default::default()),
            suspects: Mutex::new(HashMap::new()),
            trash: Mutex::new(Vec::new()),
            blob_gc: Default::default(),
            journal: Mutex::new(None),
            alone: AtomicBool::new(false),
            _open_lock: Mutex::new(None),
            writing_out: Mutex::new(()),
            kick: Arc::default(),
            opts,
        };
        let db = Database {
            inner: Arc::new(inner),
        };
        db.inner.recover_journal()?;
        if db.inner.opts.exclusive {
            *db.inner._open_lock.lock() = Some(open_lock);
        } else {
            drop(open_lock);
        }
        db.inner.load_checkpoint()?;
        if db.inner.opts.recover_on_open {
            db.recover()?;
        }
        let head = db.inner.catch_up()?.seq;
        db.inner.check_no_gap(head)?;
        // Records a crashed process linked may still sit only in the page cache.
        if head > 0 {
            db.inner.log.sync(&*db.inner.vfs, head)?;
        }
        *db.inner.durable.lock() = head;
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
        if self.inner.poisoned.load(Ordering::Relaxed) {
            return Err(Error::Poisoned);
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
            RedisCoordinator::connect(url, &cfg.id)?;
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
    pub info: StoreInfo,
    /// Sequence of the commit that created the store.
    pub created_seq: u64,
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
    pub fn check_poisoned(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Relaxed) {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }
    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }

    /// Read every record newer than what this process has applied.
    pub fn catch_up(&self) -> Result<Arc<DbState>> {
        let current = self.state.read().clone();
        if self.alone.load(Ordering::Acquire) || !self.log_has(current.seq + 1)? {
            return Ok(current);
        }
        let _g = self.catchup.lock();
        let mut st = self.state.read().clone();
        let start = st.seq;
        loop {
            let next = st.seq + 1;
            match self.log.read_header(&*self.vfs, next)? {
                None => break,
                Some(rec) if rec.retired => {
                    // Reclaimed after a checkpoint covered it: continue from that checkpoint.
                    let dir = checkpoint::CheckpointDir::new(&self.path);
                    match dir.load_newest(&*self.vfs, |seq| self.log_has(seq))? {
                        Some(cp) if cp.seq >= next => st = Arc::new(cp),
                        _ => {
                            return Err(Error::corrupt(
                                self.log.path(next),
                                "record was reclaimed but no checkpoint covers it",
                            ))
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
        if let Some(st) = dir.load_newest(&*self.vfs, |seq| self.log_has(seq))? {
            *self.state.write() = Arc::new(st);
        }
        Ok(())
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
        let dir = checkpoint::CheckpointDir::new(&self.path);
        if let Err(e) = dir.write(&*self.vfs, &st, &self.tmp_path()) {
            tracing::warn!(seq, error = %e, "checkpoint not written");
        }
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
                self.poison();
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
                Some(tmp) => self.log.link(&*self.vfs, tmp, seq)?,
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
        self.poison();
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
    pub fn make_durable(&self, seq: u64) -> Result<()> {
        let mut d = self.durable.lock();
        if *d >= seq || seq == 0 {
            return Ok(());
        }
        if self.journaled() {
            // One fdatasync covers every frame appended so far.
            *d = self.journal_sync()?;
            return Ok(());
        }
        // Syncing seq's folder makes every record linked before it durable (earlier
        // folders were synced before the first link into a later one).
        self.log.sync(&*self.vfs, seq)?;
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

impl Drop for DbInner {
    fn drop(&mut self) {
        self.close_journal();
        // No transaction is open (each holds an Arc to us); other processes' may be.
        self.collect_trash_at_close();
        // A clean close leaves nothing for recovery: our temp files are gone
        // with our transactions; remove our liveness lock file and lease.
        self.coord.release_lease(self.proc_id);
        let lock = self
            .path
            .join("procs")
            .join(format!("{:032x}.lock", self.proc_id));
        let _ = self.vfs.remove_file(&lock);
    }
}
