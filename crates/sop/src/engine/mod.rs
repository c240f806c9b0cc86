//! The engine: one open folder's shared in-process state, as a few named parts
//! (the commit log, the registry state, the node cache, the coordinator, this
//! process's locks, the garbage queue, the handle's health), and what every
//! layer above needs of it: opening, catching up with the log, durability,
//! checkpoints, reading nodes and values (`read`), writing records (`writer`),
//! the garbage queue (`garbage`), when an unreferenced blob may go (`blobs`),
//! the folder's configuration (`config`), who may open it (`ownership`), and
//! this process among others (`liveness`).
//!
//! Transactions (`txn/`) and maintenance (`maintenance/`) work on the engine;
//! the public `Database` (`db/`) is a counted handle on it.

mod blobs;
mod committed;
mod config;
mod garbage;
pub(crate) mod leases;
mod liveness;
mod ownership;
mod read;
mod stream;
mod writer;

pub(crate) use blobs::{unreferenced, Unreferenced};
pub(crate) use committed::{for_each_value, CommittedTree};
pub(crate) use config::{config_temps, create_dir_durable, load_or_create_config, write_config};
pub use config::{DbConfig, FORMAT_VERSION};
pub(crate) use liveness::{liveness, prefix_of, Liveness};
use liveness::{spawn_heartbeat, take_process_lock};
pub(crate) use stream::CHUNK_TRAILER;
pub(crate) use writer::RecordWriter;

use crate::blob_store::{BlobStore, FolderBlobs};
use crate::btree::node::{Leaf, Node, ValueRef};
use crate::cache::NodeCache;
use crate::codec::wire::checksum;
use crate::coord::{connect_clustered, Coordinator, LocalCoordinator};
use crate::error::{Error, Result};
use crate::health::Health;
use crate::io::{OsVfs, VFile, VLock, Vfs};
use crate::layout::{Layout, TmpNames};
use crate::log::record::{Placement, Record, PREFIX_LEN};
use crate::log::{replay, CommitLog, JournalLog, LogDir, SharedLog};
use crate::options::{Coordination, DbOptions, Registry};
use crate::registry::{checkpoint, DbState, Handle};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Detail of the error for a big-value file that is not there.
pub(crate) const MISSING_BLOB: &str = "value blob is missing";

/// The engine of one open folder (see the module docs).
/// An object store's request counters and the local disk cache of what its
/// reads fetched (`read_cache.rs`); empty for a folder.
#[derive(Default)]
pub(crate) struct ReadCost {
    pub transfer: Option<Arc<crate::read_cache::Transfer>>,
    pub disk: Option<Arc<crate::read_cache::DiskCache>>,
}

pub(crate) struct DbInner {
    pub path: PathBuf,
    /// Every path in the folder.
    pub layout: Layout,
    pub vfs: Arc<dyn Vfs>,
    pub opts: DbOptions,
    pub config: DbConfig,
    /// The folder's record files (read by maintenance and the commit log).
    pub log: Arc<LogDir>,
    /// Big values (`blob_store/`).
    pub blobs: Arc<dyn BlobStore>,
    /// What reads from an object store cost, and its local disk cache.
    pub reads: ReadCost,
    /// The commit point and durability: a shared folder's, or an exclusive
    /// folder's journal (`log/`).
    pub commits: Arc<dyn CommitLog>,
    pub state: RwLock<Arc<DbState>>,
    catchup: Mutex<()>,
    /// Serializes this process's publish attempts (threads take turns at the log head).
    pub commit_lock: Mutex<()>,
    pub cache: NodeCache,
    /// Commits, conflicts, merges, cache hits (`Database::counters`).
    pub counters: crate::counters::Counters,
    pub coord: Box<dyn Coordinator>,
    /// Process leases where OS locks cannot tell who is alive (a bucket; a
    /// Cassandra registry with `leases`): `leases.rs`.
    pub leases: Option<leases::Leases>,
    pub proc_id: u128,
    /// This process's lock on `procs/<id>.lock` (liveness); given up when the
    /// last user goes (`give_up_folder`).
    proc_lock: Mutex<Option<Box<dyn VLock>>>,
    pub tmp: Arc<TmpNames>,
    /// Poisoned after a failed write or sync of shared state (shared with `commits`).
    pub health: Arc<Health>,
    /// Opened on a full volume with a crashed owner's journal that could not be
    /// replayed (where the disk was full): reads only.
    full: Mutex<Option<PathBuf>>,
    /// Snapshot sequences of this process's open transactions (seq -> how many).
    snapshots: Mutex<std::collections::BTreeMap<u64, usize>>,
    /// Clustered mode: when a process's lease was first seen missing.
    suspects: Mutex<HashMap<u128, Duration>>,
    /// Garbage released by commit `seq` at an instant: big-value blobs, and whole
    /// blob folders of dropped stores. Deleted once no open transaction reads a
    /// snapshot before `seq` and the grace period has passed (`blobs.rs`).
    trash: Mutex<Vec<(u64, Duration, PathBuf)>>,
    blob_gc: blobs::BlobGc,
    /// No other process writes the log (an exclusive folder, or a crashed owner's
    /// journals read in place): the state in memory is the newest and catching up
    /// reads nothing.
    alone: AtomicBool,
    /// Exclusive mode: `open.lock`, held while open.
    _open_lock: Mutex<Option<Box<dyn VLock>>>,
    /// Database handles and transactions alive (background threads are not
    /// counted): the last one to go closes the journal, in its own thread.
    users: std::sync::atomic::AtomicUsize,
}

/// The commit log of a database whose registry is on Cassandra.
#[cfg(feature = "cassandra")]
fn cassandra_log(
    cfg: &crate::options::CassandraRegistry,
    id: &str,
    vfs: Arc<dyn Vfs>,
    log: Arc<LogDir>,
    tmp: Arc<TmpNames>,
    health: Arc<Health>,
    layout: &Layout,
) -> Result<Arc<dyn CommitLog>> {
    if id.is_empty() {
        return Err(Error::corrupt(
            layout.config(),
            "a Cassandra registry needs a database id in sop.json",
        ));
    }
    Ok(Arc::new(crate::log::CassandraLog::open(
        cfg, id, vfs, log, tmp, health, layout,
    )?))
}

#[cfg(not(feature = "cassandra"))]
fn cassandra_log(
    _: &crate::options::CassandraRegistry,
    _: &str,
    _: Arc<dyn Vfs>,
    _: Arc<LogDir>,
    _: Arc<TmpNames>,
    _: Arc<Health>,
    _: &Layout,
) -> Result<Arc<dyn CommitLog>> {
    Err(Error::FeatureDisabled {
        feature: "cassandra",
        needed_for: "a database whose registry is on Cassandra",
    })
}

/// A database in an object store: its commit log, blob store, leases and
/// request counters.
type ObjectParts = (
    Arc<dyn CommitLog>,
    Arc<dyn BlobStore>,
    Box<dyn leases::ProcessLeases>,
    Arc<crate::read_cache::Transfer>,
);

/// The lease rows of a database whose registry is on Cassandra.
#[cfg(feature = "cassandra")]
fn cassandra_leases(
    cfg: &crate::options::CassandraRegistry,
    id: &str,
) -> Result<Box<dyn leases::ProcessLeases>> {
    Ok(Box::new(crate::log::RowLeases::open(cfg, id)?))
}

#[cfg(not(feature = "cassandra"))]
fn cassandra_leases(
    _: &crate::options::CassandraRegistry,
    _: &str,
) -> Result<Box<dyn leases::ProcessLeases>> {
    Err(Error::FeatureDisabled {
        feature: "cassandra",
        needed_for: "a database whose registry is on Cassandra",
    })
}

/// The commit log and the blob store of a database in an object store. The
/// bucket keeps the database's `sop.json` too: the first opener puts its own
/// there, and every opener takes the database's identity from it (the folders
/// of several hosts name one database).
#[cfg(feature = "s3")]
fn object_store_log(
    cfg: &crate::options::S3Bucket,
    config: &mut DbConfig,
    vfs: Arc<dyn Vfs>,
    health: Arc<Health>,
) -> Result<ObjectParts> {
    let client = crate::objects::ObjectClient::connect(cfg)?;
    // Read first: an opener with read-only credentials (a reader serving a
    // database built elsewhere) writes nothing when the bucket has it.
    let mut theirs = client.get(Layout::CONFIG_FILE)?;
    if theirs.is_none() {
        let saved = serde_json::to_vec_pretty(&*config)
            .map_err(|e| Error::InvalidOption(format!("sop.json: {e}")))?;
        if !client.put_new(Layout::CONFIG_FILE, saved.into())? {
            theirs = client.get(Layout::CONFIG_FILE)?;
        }
    }
    if let Some(theirs) = theirs {
        let at = client.location(Layout::CONFIG_FILE);
        let theirs: DbConfig =
            serde_json::from_slice(&theirs).map_err(|e| Error::corrupt(&at, e.to_string()))?;
        if theirs.version != config.version || theirs.format != config.format {
            return Err(Error::corrupt(&at, "not a database of this format version"));
        }
        config.id = theirs.id;
    }
    let objects = Arc::new(crate::blob_store::ObjectBlobs::new(client.clone()));
    let leases = Box::new(crate::objects::ObjectLeases::new(client.clone()));
    let transfer = client.transfer();
    Ok((
        Arc::new(crate::log::ObjectLog::new(client, vfs, health)),
        objects,
        leases,
        transfer,
    ))
}

#[cfg(not(feature = "s3"))]
fn object_store_log(
    _: &crate::options::S3Bucket,
    _: &mut DbConfig,
    _: Arc<dyn Vfs>,
    _: Arc<Health>,
) -> Result<ObjectParts> {
    Err(Error::FeatureDisabled {
        feature: "s3",
        needed_for: "a database in an object store",
    })
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

impl DbInner {
    /// The first half of opening the folder at `path`: check the options, load
    /// or create the configuration, connect the coordinator, take `open.lock` and
    /// this process's lock, and build the engine (no log read yet). Returns it
    /// with `open.lock` (None for a read-only handle); `open_log` does the rest.
    pub(crate) fn create(
        path: impl AsRef<Path>,
        mut opts: DbOptions,
    ) -> Result<(DbInner, Option<Box<dyn VLock>>)> {
        let path = path.as_ref().to_path_buf();
        let layout = Layout::new(&path);
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
        if opts.shared_node_cache.is_none() {
            opts.shared_node_cache = Some(!crate::io::is_local_fs(&path));
        }
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
        // The opener's settings for the same registry (its contact points, its
        // timeout) win over the saved ones; another registry is refused.
        let mut config = config;
        if let Some(want) = &opts.registry {
            let same = match (want, &config.registry) {
                (Registry::Folder, Registry::Folder) => true,
                (Registry::Cassandra(a), Registry::Cassandra(b)) => a.keyspace == b.keyspace,
                (Registry::S3(a), Registry::S3(b)) => a.url == b.url,
                _ => false,
            };
            if same {
                let mut want = want.clone();
                // Whether processes are judged by leases is the database's
                // choice (saved at creation): every opener must judge alike.
                if let (Registry::Cassandra(w), Registry::Cassandra(saved)) =
                    (&mut want, &config.registry)
                {
                    w.leases = saved.leases;
                }
                config.registry = want;
            } else {
                return Err(Error::InvalidOption(format!(
                    "the database at {} keeps its registry in {:?}, not {:?}",
                    path.display(),
                    config.registry,
                    want
                )));
            }
        }
        if opts.exclusive && !config.registry.is_folder() {
            return Err(Error::InvalidOption(
                "exclusive needs the folder's own registry (one in Cassandra or a bucket is shared)".into(),
            ));
        }
        let health = Arc::new(Health::default());
        // Before the coordinator: a bucket's database may lend this folder its id.
        let objects = match &config.registry {
            Registry::S3(cfg) => Some(object_store_log(
                &cfg.clone(),
                &mut config,
                vfs.clone(),
                health.clone(),
            )?),
            _ => None,
        };
        let coord: Box<dyn Coordinator> = match &config.coordination {
            // A read-only handle takes no lock and publishes nothing.
            _ if ro => Box::new(LocalCoordinator::new(vfs.clone())),
            Coordination::Standalone => Box::new(LocalCoordinator::new(vfs.clone())),
            Coordination::Redis { url } => {
                if config.id.is_empty() {
                    return Err(Error::corrupt(
                        layout.config(),
                        "Clustered mode needs a database id in sop.json",
                    ));
                }
                connect_clustered(url, &config.id)?
            }
        };
        for p in layout.dirs() {
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
            (None, vfs.random(), none)
        } else {
            let open_lock = ownership::take_open_lock(&*vfs, &layout)?;
            let (proc_id, proc_lock) = take_process_lock(&*vfs, &layout)?;
            let procs = layout.procs();
            vfs.sync_dir(&procs).map_err(io_err(&procs))?;
            if opts.exclusive {
                ownership::check_alone(&*vfs, &layout, proc_id)?;
                let tmp = TmpNames::new(&layout, proc_id).named("owner");
                // Only a help to waiting openers (they wait instead of failing at
                // once without it): a full disk must not stop the open.
                if let Err(e) = ownership::claim_owner(&*vfs, &layout, &tmp, proc_id) {
                    let _ = vfs.remove_file(&tmp);
                    tracing::warn!(error = %e, "could not name this exclusive owner in open.owner");
                }
            }
            (Some(open_lock), proc_id, proc_lock)
        };
        coord.lease(proc_id, opts.lease_ttl)?;
        let log = Arc::new(LogDir::new(&layout));
        let tmp = Arc::new(TmpNames::new(&layout, proc_id));
        let mut blobs: Arc<dyn BlobStore> = Arc::new(FolderBlobs::new(
            vfs.clone(),
            layout.clone(),
            health.clone(),
        ));
        let mut leases = None;
        let mut reads = ReadCost::default();
        let commits: Arc<dyn CommitLog> = if let Some((log, objects, l, transfer)) = objects {
            blobs = objects;
            leases = Some(l);
            reads.transfer = Some(transfer);
            if let Some(dir) = &opts.object_cache_dir {
                let c =
                    crate::read_cache::DiskCache::open(dir, &config.id, opts.object_cache_bytes)
                        .map_err(|e| Error::io(dir, e))?;
                reads.disk = Some(c);
            }
            log
        } else if let Registry::Cassandra(cfg) = &config.registry {
            cassandra_log(
                cfg,
                &config.id,
                vfs.clone(),
                log.clone(),
                tmp.clone(),
                health.clone(),
                &layout,
            )?
        } else if opts.exclusive {
            JournalLog::new(
                vfs.clone(),
                &layout,
                log.clone(),
                health.clone(),
                tmp.clone(),
                opts.journal_bytes,
                opts.recovery_interval.is_some(),
            )
        } else {
            Arc::new(SharedLog::new(
                vfs.clone(),
                log.clone(),
                tmp.clone(),
                health.clone(),
                &layout,
            ))
        };
        let leases = match &config.registry {
            _ if ro => None,
            Registry::Cassandra(cfg) if cfg.leases => Some(cassandra_leases(cfg, &config.id)?),
            _ => leases,
        }
        .map(|seam| leases::Leases::new(seam, opts.lease_ttl));
        if let Some(l) = &leases {
            // Before this process writes anything another process may judge.
            l.register(proc_id, vfs.now())?;
        }
        let inner = DbInner {
            leases,
            log,
            blobs,
            reads,
            commits,
            cache: NodeCache::new(opts.node_cache_bytes),
            counters: Default::default(),
            path,
            layout,
            vfs,
            config,
            state: RwLock::new(Arc::new(DbState::default())),
            catchup: Mutex::new(()),
            commit_lock: Mutex::new(()),
            coord,
            proc_id,
            proc_lock: Mutex::new(Some(proc_lock)),
            tmp,
            health,
            full: Mutex::new(None),
            snapshots: Mutex::new(Default::default()),
            suspects: Mutex::new(HashMap::new()),
            trash: Mutex::new(Vec::new()),
            blob_gc: Default::default(),
            alone: AtomicBool::new(false),
            _open_lock: Mutex::new(None),
            users: Default::default(),
            opts,
        };
        Ok((inner, open_lock))
    }

    /// The second half of opening: replay (or read in place) a crashed exclusive
    /// owner's journals, load the newest checkpoint, run `recover` if recovery
    /// on open is asked for, read the log to its head and start the commit log.
    /// `Ok(true)` if the handle may write (not read-only, not on a full volume).
    pub(crate) fn open_log(
        self: &Arc<Self>,
        open_lock: Option<Box<dyn VLock>>,
        recover: &mut dyn FnMut() -> Result<()>,
    ) -> Result<bool> {
        let ro = self.opts.read_only;
        // A crashed exclusive owner's journals are replayed into the log; on a
        // full volume they cannot be (that writes a record pack), so they are
        // read in place and the handle only reads (`DbInner::full`).
        // A read-only opener reads them in place too, and replays nothing.
        let limit = if ro {
            self.attach_journals()?
        } else {
            match self.replay_journals() {
                Ok(()) => None,
                Err(Error::DiskFull { path, .. }) => {
                    let keep = self.attach_journals()?;
                    tracing::warn!(path = %path.display(), "disk full: the journal cannot be replayed; the database is open for reading only");
                    *self.full.lock() = Some(path);
                    keep
                }
                Err(e) => return Err(e),
            }
        };
        let full = self.full.lock().is_some();
        if self.leases.is_some() {
            // Renewed from now on: recovery on open and catching up may take
            // longer than a lease, and others judge this lease meanwhile.
            spawn_heartbeat(Arc::downgrade(self), self.opts.lease_ttl);
        }
        if self.opts.exclusive {
            *self._open_lock.lock() = open_lock;
        } else {
            drop(open_lock);
        }
        self.load_checkpoint()?;
        if self.opts.recover_on_open && !full {
            recover()?;
        }
        let head = self.catch_up_to(limit.unwrap_or(u64::MAX))?.seq;
        self.check_no_gap(head)?;
        if ro || full {
            // Reads only. Of the state the journals hold, if any: nothing newer is
            // read (a live owner may still be appending to them).
            if limit.is_some() {
                self.alone.store(true, Ordering::Release);
            }
            self.commits.start(head, false)?;
            return Ok(false);
        }
        // Makes the head durable (a crashed process may have linked it unsynced).
        self.commits.start(head, true)?;
        // Checkpoints beyond the head whose record is gone were written for a
        // record a power cut removed: a later commit will take that sequence.
        self.remove_stale_checkpoints(head)?;
        if self.commits.alone() {
            self.alone.store(true, Ordering::Release);
        }
        if self.coord.clustered() && self.leases.is_none() {
            spawn_heartbeat(Arc::downgrade(self), self.opts.lease_ttl);
        }
        if self.coord.clustered() {
            self.coord.publish_head(head);
        }
        Ok(true)
    }

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

    /// Database handles and transactions alive.
    pub(crate) fn users(&self) -> usize {
        self.users.load(Ordering::Acquire)
    }

    pub(crate) fn add_user(&self) {
        self.users.fetch_add(1, Ordering::AcqRel);
    }

    /// The last handle or transaction is gone: close the journal here, in the
    /// caller's thread. (Left to the last `Arc`, the close could run in a
    /// background thread that the process's exit then kills halfway.)
    pub(crate) fn release_user(&self) {
        if self.users.fetch_sub(1, Ordering::AcqRel) == 1 {
            match self.close_log() {
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
        // Once, and while no write-out of journaled records runs (`give_up`): by
        // then another opener may have claimed the folder (and named itself in
        // open.owner), which a second pass must not undo.
        self.commits.give_up(&mut || self.release_folder());
    }

    fn release_folder(&self) {
        if self.opts.exclusive {
            // Before `open.lock` goes.
            let _ = self.vfs.remove_file(&self.layout.open_owner());
        }
        *self._open_lock.lock() = None;
        self.coord.release_lease(self.proc_id);
        if let Some(l) = &self.leases {
            l.seam.release(self.proc_id);
        }
        if let Some(lock) = self.proc_lock.lock().take() {
            let file = self.layout.proc_lock(self.proc_id);
            // Removed while still locked, so no recovery takes it for a dead one's.
            let _ = self.vfs.remove_file(&file);
            drop(lock);
        }
    }

    pub fn check_poisoned(&self) -> Result<()> {
        self.health.check()
    }
    /// Poison the handle, saying why (kept for every later `Poisoned` error).
    pub fn poison_with(&self, why: &Error) {
        self.health.poison_with(why);
    }

    /// A clean close of the commit log (an exclusive folder's journal is written
    /// out into the log).
    pub(crate) fn close_log(&self) -> Result<()> {
        self.commits.close()
    }

    /// On open, holding `open.lock` alone: replay the journals a crashed
    /// exclusive owner left (`log::replay`).
    fn replay_journals(&self) -> Result<()> {
        let ckpts = checkpoint::Checkpoints::new(self.commits.checkpoints());
        replay::recover(
            &*self.vfs,
            &self.layout,
            &self.log,
            &self.tmp,
            &mut |keep| {
                ckpts.remove_after(keep)?;
                ckpts.sync()
            },
        )
    }

    /// Where the journals cannot be replayed: read them in place
    /// (`log::replay::attach`); the last record to read, if there are any.
    fn attach_journals(&self) -> Result<Option<u64>> {
        replay::attach(&*self.vfs, &self.layout, &self.log)
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
            match self.commits.read_header(next)? {
                None => break,
                Some(rec) if rec.retired => {
                    // Reclaimed after a checkpoint covered it: continue from that checkpoint.
                    let dir = checkpoint::Checkpoints::new(self.commits.checkpoints());
                    match dir.load_newest(|seq, txn| self.checkpoint_matches(seq, txn))? {
                        Some(cp) if cp.seq >= next => st = Arc::new(cp),
                        _ => {
                            let ckpts = self.layout.checkpoints();
                            let present = dir.list().map_or(0, |l| l.len());
                            return Err(Error::corrupt(
                                self.commits.location(next),
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
        let dir = checkpoint::Checkpoints::new(self.commits.checkpoints());
        if let Some(st) = dir.load_newest(|seq, txn| self.checkpoint_matches(seq, txn))? {
            *self.state.write() = Arc::new(st);
        }
        Ok(())
    }

    /// Whether record `seq` exists and, if `txn` is known (non-zero), is the
    /// record of that transaction: a checkpoint of `seq` applies only then.
    fn checkpoint_matches(&self, seq: u64, txn: u128) -> Result<bool> {
        match self.commits.read_header(seq) {
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
        checkpoint::Checkpoints::new(self.commits.checkpoints()).write(st)
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
        let dir = checkpoint::Checkpoints::new(self.commits.checkpoints());
        for seq in dir.list()?.into_iter().filter(|s| *s > head) {
            if self.log_has(seq)? {
                continue;
            }
            match dir.read(seq) {
                Ok(st) if st.head_txn != 0 => tracing::error!(
                    seq,
                    head,
                    "a checkpoint proves that log records up to its sequence were durable, but the log ends before it"
                ),
                _ => dir.remove(seq)?,
            }
        }
        Ok(())
    }

    /// Records beyond `head` with one missing in between mean a damaged log
    /// (commits link only behind durable records, so a power cut leaves no gap).
    fn check_no_gap(&self, head: u64) -> Result<()> {
        let beyond: Vec<u64> = self
            .commits
            .list_from(head)?
            .into_iter()
            .filter(|s| *s > head + 1)
            .collect();
        if let Some(last) = beyond.last() {
            if !self.log_has(head + 1)? {
                return Err(Error::corrupt(
                    self.commits.location(head + 1),
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
        self.commits.exists(seq)
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

    /// Make record `seq` durable; concurrent committers share one sync. A
    /// failure poisons the handle (whoever's record it was): after a failed
    /// fsync the page cache may show entries the disk lacks, and a later sync may
    /// report success without writing them.
    pub fn make_durable(&self, seq: u64) -> Result<()> {
        if self.opts.read_only {
            // It may not write, nor sync (a read-only mount may refuse that).
            return Ok(());
        }
        self.commits.make_durable(seq)
    }

    pub fn tmp_path(&self) -> PathBuf {
        self.tmp.next()
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
