//! The database facade: opening a folder, the shared in-process state, reading
//! nodes and values, and writing commit records.

use crate::btree::node::{Node, ValueRef};
use crate::cache::NodeCache;
use crate::codec::wire::checksum;
use crate::coord::{Coordinator, LocalCoordinator};
use crate::error::{Error, Result};
use crate::io::{OsVfs, VFile, VLock, Vfs};
use crate::log::record::{Placement, Record, PREFIX_LEN};
use crate::log::LogDir;
use crate::options::{Coordination, DbOptions};
use crate::registry::{checkpoint, DbState, Handle};
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
use std::time::Duration;

/// Version of the on-disk format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
pub const CONFIG_FILE: &str = "sop.json";

/// What the folder saves about the database (`sop.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DbConfig {
    pub format: String,
    pub version: u32,
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
    /// Garbage released by commit `seq`: big-value blobs, and whole blob folders of
    /// dropped stores. Deleted once no open transaction reads a snapshot before `seq`.
    trash: Mutex<Vec<(u64, PathBuf)>>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

impl Database {
    /// Create or open the database in folder `path`.
    pub fn open(path: impl AsRef<Path>, opts: DbOptions) -> Result<Database> {
        let path = path.as_ref().to_path_buf();
        let vfs: Arc<dyn Vfs> = opts.vfs.clone().unwrap_or_else(|| Arc::new(OsVfs));
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
        let coord: Box<dyn Coordinator> = match &config.coordination {
            Coordination::Standalone => Box::new(LocalCoordinator::new()),
            Coordination::Redis { url } => {
                return Err(Error::InvalidOption(format!(
                    "the database is configured for Clustered mode (Redis at {url}); this build supports Standalone only"
                )))
            }
        };
        for d in ["log", "tmp", "procs", "blobs", "checkpoints"] {
            let p = path.join(d);
            if !vfs.exists(&p).map_err(io_err(&p))? {
                vfs.create_dir_all(&p).map_err(io_err(&p))?;
                vfs.sync_dir(&path).map_err(io_err(&path))?;
            }
        }
        let (proc_id, proc_lock) = take_process_lock(&*vfs, &path)?;
        let procs = path.join("procs");
        vfs.sync_dir(&procs).map_err(io_err(&procs))?;
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
            trash: Mutex::new(Vec::new()),
            opts,
        };
        let db = Database { inner: Arc::new(inner) };
        db.inner.load_checkpoint()?;
        db.recover()?;
        let head = db.inner.catch_up()?.seq;
        db.inner.check_no_gap(head)?;
        // Records a crashed process linked may still sit only in the page cache.
        if head > 0 {
            db.inner.log.sync(&*db.inner.vfs, head)?;
        }
        *db.inner.durable.lock() = head;
        if let Some(every) = db.inner.opts.recovery_interval {
            spawn_recovery(Arc::downgrade(&db.inner), every);
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
        let snap = self.inner.catch_up()?;
        Ok(Transaction::new(self.inner.clone(), mode, snap, max_commit_time))
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

    /// The configuration saved in the folder.
    pub fn config(&self) -> &DbConfig {
        &self.inner.config
    }

    /// Bytes held by the node and value cache.
    pub fn cache_bytes(&self) -> u64 {
        self.inner.cache.weight()
    }
}

/// Run recovery every `every` while the database is open (the thread holds only a
/// weak reference and ends when the database is dropped).
fn spawn_recovery(weak: std::sync::Weak<DbInner>, every: Duration) {
    let _ = std::thread::Builder::new().name("sop-recovery".into()).spawn(move || {
        let step = Duration::from_millis(100).min(every);
        let mut waited = Duration::ZERO;
        loop {
            std::thread::sleep(step);
            waited += step;
            if waited < every {
                if weak.strong_count() == 0 {
                    return;
                }
                continue;
            }
            waited = Duration::ZERO;
            let Some(inner) = weak.upgrade() else { return };
            let db = Database { inner };
            if let Err(e) = db.recover() {
                tracing::warn!(error = %e, "periodic recovery failed");
            }
            db.inner.collect_trash();
        }
    });
}

/// Create and lock this process's `procs/<id>.lock`. Creating the file and locking
/// it are two steps: in between, a concurrent recovery (another process opening
/// the folder) can take the lock, judge this process dead and delete the file.
/// Then the lock is held by the recovery (WouldBlock here) or on a deleted file;
/// either way, try again with a fresh id.
fn take_process_lock(vfs: &dyn Vfs, path: &Path) -> Result<(u128, Box<dyn VLock>)> {
    let mut attempt = 0;
    loop {
        let proc_id = uuid::Uuid::new_v4().as_u128();
        let lock_path = path.join("procs").join(format!("{proc_id:032x}.lock"));
        if let Some(lock) = vfs.try_lock(&lock_path).map_err(io_err(&lock_path))? {
            // A recovery that took the lock first deletes the file before releasing it.
            if vfs.exists(&lock_path).map_err(io_err(&lock_path))? {
                return Ok((proc_id, lock));
            }
        }
        attempt += 1;
        if attempt == 100 {
            return Err(Error::io(&lock_path, io::Error::other("fresh process lock is held")));
        }
    }
}

fn load_or_create_config(vfs: &dyn Vfs, path: &Path, opts: &DbOptions) -> Result<DbConfig> {
    let cfg_path = path.join(CONFIG_FILE);
    if !vfs.exists(&cfg_path).map_err(io_err(&cfg_path))? {
        if !opts.create {
            return Err(Error::NotFound(path.to_path_buf()));
        }
        create_dir_durable(vfs, path)?;
        let cfg = DbConfig {
            format: "sop".into(),
            version: FORMAT_VERSION,
            coordination: opts.coordination.clone().unwrap_or_default(),
        };
        write_config(vfs, path, &cfg, false)?;
    }
    let bytes = vfs.read_all(&cfg_path).map_err(io_err(&cfg_path))?;
    let cfg: DbConfig = serde_json::from_slice(&bytes).map_err(|e| Error::corrupt(&cfg_path, e.to_string()))?;
    if cfg.format != "sop" {
        return Err(Error::corrupt(&cfg_path, format!("not a SOP database (format {:?})", cfg.format)));
    }
    if cfg.version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion { path: cfg_path, found: cfg.version, supported: FORMAT_VERSION });
    }
    Ok(cfg)
}

/// Create `path` and any missing ancestors, syncing the parent of each one
/// created so the new folders survive a power cut.
pub(crate) fn create_dir_durable(vfs: &dyn Vfs, path: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut p = Some(path);
    while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
        if vfs.exists(d).map_err(io_err(d))? {
            break;
        }
        missing.push(d.to_path_buf());
        p = d.parent();
    }
    vfs.create_dir_all(path).map_err(io_err(path))?;
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            vfs.sync_dir(parent).map_err(io_err(parent))?;
        }
    }
    Ok(())
}

/// Write `sop.json` atomically; `replace` allows overwriting an existing one.
pub(crate) fn write_config(vfs: &dyn Vfs, path: &Path, cfg: &DbConfig, replace: bool) -> Result<()> {
    let cfg_path = path.join(CONFIG_FILE);
    let tmp = path.join(format!("{CONFIG_FILE}.{:032x}.tmp", uuid::Uuid::new_v4().as_u128()));
    let f = vfs.create_new(&tmp).map_err(io_err(&tmp))?;
    f.append(&serde_json::to_vec_pretty(cfg).expect("config serializes")).map_err(io_err(&tmp))?;
    f.sync_data().map_err(io_err(&tmp))?;
    drop(f);
    let res = if replace {
        vfs.rename(&tmp, &cfg_path)
    } else {
        let r = vfs.link_exclusive(&tmp, &cfg_path);
        let _ = vfs.remove_file(&tmp);
        match r {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()), // a racing creator won
            r => r,
        }
    };
    res.map_err(io_err(&cfg_path))?;
    vfs.sync_dir(path).map_err(io_err(path))
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
        if !self.log_has(current.seq + 1)? {
            return Ok(current);
        }
        let _g = self.catchup.lock();
        let mut st = self.state.read().clone();
        let start = st.seq;
        loop {
            let next = st.seq + 1;
            match self.log.read_header(&*self.vfs, next)? {
                None => break,
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
        let dir = self.path.join("checkpoints");
        let mut seqs: Vec<u64> = self
            .vfs
            .list_dir(&dir)
            .map_err(io_err(&dir))?
            .iter()
            .filter_map(|n| n.strip_suffix(".ckpt").and_then(|h| u64::from_str_radix(h, 16).ok()))
            .collect();
        seqs.sort_unstable();
        for seq in seqs.into_iter().rev() {
            let path = dir.join(format!("{seq:016x}.ckpt"));
            let bytes = match self.vfs.read_all(&path) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping unreadable checkpoint");
                    continue;
                }
            };
            match checkpoint::decode(&bytes) {
                Ok(st) if st.seq == seq && self.log_has(seq)? => {
                    *self.state.write() = Arc::new(st);
                    return Ok(());
                }
                Ok(_) => tracing::warn!(path = %path.display(), "skipping checkpoint that does not match the log"),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "skipping damaged checkpoint"),
            }
        }
        Ok(())
    }

    /// Write a checkpoint of the state at `seq` if one is due; errors only cost replay time later.
    pub fn maybe_checkpoint(&self, seq: u64) {
        let every = self.opts.checkpoint_every;
        if every == 0 || seq % every != 0 {
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

    pub fn write_checkpoint(&self, st: &DbState) -> Result<()> {
        let dir = self.path.join("checkpoints");
        let tmp = self.tmp_path();
        let f = self.vfs.create_new(&tmp).map_err(io_err(&tmp))?;
        let res = (|| {
            f.append(&checkpoint::encode(st)).map_err(io_err(&tmp))?;
            f.sync_data().map_err(io_err(&tmp))?;
            let to = dir.join(format!("{:016x}.ckpt", st.seq));
            match self.vfs.link_exclusive(&tmp, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(Error::io(&to, e)),
            }
            self.vfs.sync_dir(&dir).map_err(io_err(&dir))?;
            // Keep the two newest.
            let mut seqs: Vec<u64> = self
                .vfs
                .list_dir(&dir)
                .map_err(io_err(&dir))?
                .iter()
                .filter_map(|n| n.strip_suffix(".ckpt").and_then(|h| u64::from_str_radix(h, 16).ok()))
                .collect();
            seqs.sort_unstable();
            for old in seqs.iter().rev().skip(2) {
                let _ = self.vfs.remove_file(&dir.join(format!("{old:016x}.ckpt")));
            }
            Ok(())
        })();
        let _ = self.vfs.remove_file(&tmp);
        res
    }

    /// Records beyond `head` with one missing in between mean a damaged log
    /// (commits link only behind durable records, so a power cut leaves no gap).
    fn check_no_gap(&self, head: u64) -> Result<()> {
        let beyond: Vec<u64> = self.log.list_from(&*self.vfs, head)?.into_iter().filter(|s| *s > head + 1).collect();
        if let Some(last) = beyond.last() {
            if !self.log_has(head + 1)? {
                return Err(Error::corrupt(
                    self.log.path(head + 1),
                    format!("log record {} is missing but records up to {last} exist", head + 1),
                ));
            }
        }
        Ok(())
    }

    fn log_has(&self, seq: u64) -> Result<bool> {
        let p = self.log.path(seq);
        self.vfs.exists(&p).map_err(io_err(&p))
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
        // Syncing seq's folder makes every record linked before it durable (earlier
        // folders were synced before the first link into a later one).
        self.log.sync(&*self.vfs, seq)?;
        *d = seq;
        Ok(())
    }

    pub fn segment(&self, seq: u64) -> Result<Arc<dyn VFile>> {
        if let Some(f) = self.files.lock().get(&seq) {
            return Ok(f.clone());
        }
        let path = self.log.path(seq);
        let f = self.vfs.open(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::corrupt(&path, "commit segment referenced by the registry is missing")
            } else {
                Error::io(&path, e)
            }
        })?;
        let mut files = self.files.lock();
        if files.len() >= 512 {
            files.clear();
        }
        files.insert(seq, f.clone());
        Ok(f)
    }

    /// Read, verify and decode the node image at `h`.
    pub fn read_node(&self, h: &Handle) -> Result<Arc<Node>> {
        if let Some(n) = self.cache.get((h.seq, h.off)) {
            return Ok(n);
        }
        let node = self.read_node_uncached(h)?;
        self.cache.insert((h.seq, h.off), node.clone());
        Ok(node)
    }

    pub fn read_node_uncached(&self, h: &Handle) -> Result<Arc<Node>> {
        let f = self.segment(h.seq)?;
        let mut buf = vec![0u8; h.len as usize];
        f.read_exact_at(&mut buf, h.off).map_err(|e| Error::io(self.log.path(h.seq), e))?;
        if checksum(&buf) != h.checksum {
            return Err(Error::corrupt(
                self.log.path(h.seq),
                format!("node at offset {} ({} bytes) fails its checksum", h.off, h.len),
            ));
        }
        let node = Node::decode(&buf, h.seq)
            .map_err(|e| Error::corrupt(self.log.path(h.seq), format!("node at offset {}: {e}", h.off)))?;
        Ok(Arc::new(node))
    }

    pub fn blob_path(&self, store: u64, blob: u128) -> PathBuf {
        self.path.join("blobs").join(format!("{store:016x}")).join(format!("{blob:032x}"))
    }

    /// Read a separate value.
    pub fn read_value(&self, store: u64, v: &ValueRef<'_>, cache: bool) -> Result<Bytes> {
        match *v {
            ValueRef::Inline(b) => Ok(Bytes::copy_from_slice(b)),
            ValueRef::Segment { seq, off, len, checksum: sum } => {
                if let Some(b) = self.cache.get_value((seq, off)) {
                    return Ok(b);
                }
                let f = self.segment(seq)?;
                let mut buf = vec![0u8; len as usize];
                f.read_exact_at(&mut buf, off).map_err(|e| Error::io(self.log.path(seq), e))?;
                if checksum(&buf) != sum {
                    return Err(Error::corrupt(self.log.path(seq), format!("value at offset {off} fails its checksum")));
                }
                let b = Bytes::from(buf);
                if cache {
                    self.cache.insert_value((seq, off), b.clone());
                }
                Ok(b)
            }
            ValueRef::File { blob, len, checksum: sum } => {
                let path = self.blob_path(store, blob);
                let buf = self.vfs.read_all(&path).map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        Error::corrupt(&path, "value blob is missing")
                    } else {
                        Error::io(&path, e)
                    }
                })?;
                if buf.len() as u64 != len || checksum(&buf) != sum {
                    return Err(Error::corrupt(&path, "value blob fails its checksum"));
                }
                Ok(Bytes::from(buf))
            }
            ValueRef::Pending(_) => unreachable!("pending values are resolved by the transaction"),
        }
    }

    pub fn register_snapshot(&self, seq: u64) {
        *self.snapshots.lock().entry(seq).or_insert(0) += 1;
    }

    pub fn release_snapshot(&self, seq: u64) {
        let mut s = self.snapshots.lock();
        if let Some(n) = s.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                s.remove(&seq);
            }
        }
        drop(s);
        self.collect_trash();
    }

    /// Queue what commit `seq` released, then collect what no snapshot needs.
    pub fn trash_after_commit(&self, seq: u64, rec: &Record) {
        let mut t = self.trash.lock();
        for (sid, blob) in &rec.released_files {
            t.push((seq, self.blob_path(*sid, *blob)));
        }
        for sid in &rec.dropped {
            t.push((seq, self.path.join("blobs").join(format!("{sid:016x}"))));
        }
        drop(t);
        self.collect_trash();
    }

    /// Delete trash released by commits newer than every open snapshot.
    pub fn collect_trash(&self) {
        let oldest = self.snapshots.lock().keys().next().copied();
        let mut t = self.trash.lock();
        let (ready, keep): (Vec<_>, Vec<_>) = t.drain(..).partition(|(seq, _)| oldest.is_none_or(|o| o >= *seq));
        *t = keep;
        drop(t);
        let failed: Vec<_> = ready.into_iter().filter(|(_, path)| !self.remove_path(path)).collect();
        // Retried at the next collection (or by recovery after this process ends).
        self.trash.lock().extend(failed);
    }

    /// Garbage waiting for deletion (not orphans).
    pub fn trash_paths(&self) -> Vec<PathBuf> {
        self.trash.lock().iter().map(|(_, p)| p.clone()).collect()
    }

    /// A file, or a folder of files (a dropped store's blobs). True when gone.
    fn remove_path(&self, path: &Path) -> bool {
        let gone = |r: io::Result<()>| r.is_ok() || r.is_err_and(|e| e.kind() == io::ErrorKind::NotFound);
        match self.vfs.list_dir(path) {
            Ok(names) => {
                let mut ok = true;
                for n in names {
                    ok &= gone(self.vfs.remove_file(&path.join(n)));
                }
                ok && gone(self.vfs.remove_dir(path))
            }
            Err(_) => gone(self.vfs.remove_file(path)),
        }
    }

    pub fn tmp_path(&self) -> PathBuf {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        self.path.join("tmp").join(format!("{:032x}-{n:08x}.tmp", self.proc_id))
    }
}

impl Drop for DbInner {
    fn drop(&mut self) {
        // No transaction is open (each holds an Arc to us): everything can go.
        for (_, path) in std::mem::take(&mut *self.trash.lock()) {
            self.remove_path(&path);
        }
        // A clean close leaves nothing for recovery: our temp files are gone
        // with our transactions; remove our liveness lock file.
        let lock = self.path.join("procs").join(format!("{:032x}.lock", self.proc_id));
        let _ = self.vfs.remove_file(&lock);
    }
}

/// Streams one commit record into a temporary file.
pub(crate) struct RecordWriter {
    pub path: PathBuf,
    file: Arc<dyn VFile>,
    buf: Vec<u8>,
    pos: u64,
}

const FLUSH_AT: usize = 1 << 20;

impl RecordWriter {
    pub fn create(db: &DbInner) -> Result<RecordWriter> {
        let path = db.tmp_path();
        let file = db.vfs.create_new(&path).map_err(io_err(&path))?;
        let mut buf = Vec::with_capacity(64 << 10);
        buf.extend_from_slice(&Record::prefix());
        Ok(RecordWriter { path, file, buf, pos: PREFIX_LEN as u64 })
    }
    pub fn add(&mut self, bytes: &[u8]) -> Result<Placement> {
        let p = Placement { off: self.pos, len: bytes.len() as u32, checksum: checksum(bytes) };
        self.buf.extend_from_slice(bytes);
        self.pos += bytes.len() as u64;
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(p)
    }
    fn flush(&mut self) -> Result<()> {
        self.file.append(&self.buf).map_err(io_err(&self.path))?;
        self.buf.clear();
        Ok(())
    }
    /// Write the header and trailer and fsync the file.
    pub fn finish(mut self, rec: &Record) -> Result<PathBuf> {
        let h = rec.encode_header();
        let off = self.pos;
        self.buf.extend_from_slice(&h);
        self.buf.extend_from_slice(&Record::trailer(off, &h));
        self.flush()?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        Ok(self.path)
    }
}
