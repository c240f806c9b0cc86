//! The commit log of a folder many processes share: one record file per commit,
//! published by an exclusive hard link, made durable by a directory sync that
//! the processes share through the folder's sync mark (`sync_mark.rs`).

use super::{CommitLog, LogDir, Written};
use crate::error::{Error, Result};
use crate::health::Health;
use crate::io::{VFile, Vfs};
use crate::layout::{Layout, TmpNames};
use crate::log::checkpoints::{CheckpointStore, FolderCheckpoints};
use crate::log::record::Record;
use crate::log::sync_mark::SyncMark;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shared folder's log (see the module docs).
pub(crate) struct SharedLog {
    vfs: Arc<dyn Vfs>,
    dir: Arc<LogDir>,
    tmp: Arc<TmpNames>,
    checkpoints: FolderCheckpoints,
    health: Arc<Health>,
    /// Highest sequence known durable (its directory synced).
    durable: Mutex<u64>,
    /// How far any process saw the log durable (shared syncs).
    mark: SyncMark,
    /// How long this process's directory syncs take (nanoseconds, a moving
    /// average): how long to wait for another process's.
    sync_ns: AtomicU64,
    given_up: AtomicBool,
}

impl SharedLog {
    pub fn new(
        vfs: Arc<dyn Vfs>,
        dir: Arc<LogDir>,
        tmp: Arc<TmpNames>,
        health: Arc<Health>,
        layout: &Layout,
    ) -> SharedLog {
        SharedLog {
            checkpoints: FolderCheckpoints::new(vfs.clone(), layout.clone(), tmp.clone()),
            mark: SyncMark::new(vfs.clone(), layout.clone()),
            sync_ns: AtomicU64::new(1_000_000),
            vfs,
            dir,
            tmp,
            health,
            durable: Mutex::new(0),
            given_up: AtomicBool::new(false),
        }
    }

    /// Evidence from other processes that record `seq` is durable: the sync
    /// mark (some process synced past it), or a record linked after it (a
    /// record is linked only once the one before it is durable, `prepare`).
    /// The highest sequence so shown durable, if any.
    fn shown_durable(&self, seq: u64) -> Option<u64> {
        let marked = self.mark.read();
        if marked >= seq {
            return Some(marked);
        }
        self.dir
            .exists(&*self.vfs, seq + 1)
            .unwrap_or(false)
            .then_some(seq)
    }

    /// Record `seq`, behind the one about to be linked, is usually another
    /// process's, linked a moment ago and being synced by it now: wait a little
    /// (about two of our own syncs) for that sync to show in the mark, or for a
    /// later record to be linked, rather than sync the folder again at once.
    /// Only a hint: `make_durable` follows and syncs if it must.
    fn await_durable(&self, seq: u64) {
        if seq == 0 || *self.durable.lock() >= seq {
            return;
        }
        let ns = self.sync_ns.load(Ordering::Relaxed).saturating_mul(2);
        let limit = Duration::from_nanos(ns).clamp(WAIT_MIN, WAIT_MAX);
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.shown_durable(seq).is_some() {
                return;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// Bounds of [`SharedLog::await_durable`]'s wait (real time: the simulator's
/// clock may be paused, and this wait is for a real sync in another process).
const WAIT_MIN: Duration = Duration::from_micros(200);
const WAIT_MAX: Duration = Duration::from_millis(10);

impl CommitLog for SharedLog {
    fn copy_max(&self) -> usize {
        0
    }

    fn alone(&self) -> bool {
        false
    }

    fn prepare(&self, seq: u64, _: &Written) -> Result<()> {
        // Never link a record behind one that may not be durable: then the durable
        // records are always a prefix of the log, and a gap can only mean damage.
        self.await_durable(seq - 1);
        self.make_durable(seq - 1)?;
        // A failed directory sync on the way poisons like any failed sync.
        self.dir
            .prepare_link(&*self.vfs, seq, &|| self.health.poison())
    }

    fn publish(&self, seq: u64, w: &Written) -> Result<bool> {
        let Some(tmp) = &w.path else {
            return Err(Error::InvalidOption(
                "a shared folder publishes record files only".into(),
            ));
        };
        // A failed link may have linked (a network file system can lose the
        // reply): the caller reports the outcome as unknown.
        self.dir.link_prepared(&*self.vfs, tmp, seq)
    }

    fn make_durable(&self, seq: u64) -> Result<()> {
        let mut d = self.durable.lock();
        if *d >= seq || seq == 0 {
            return Ok(());
        }
        // Another process may have synced past it already.
        if let Some(shown) = self.shown_durable(seq) {
            *d = shown;
            return Ok(());
        }
        // Syncing seq's folder makes every record linked before it durable (earlier
        // folders were synced before the first link into a later one).
        let t = Instant::now();
        self.dir
            .sync(&*self.vfs, seq)
            .inspect_err(|e| self.health.poison_with(e))?;
        let ns = t.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
        let avg = self.sync_ns.load(Ordering::Relaxed);
        self.sync_ns
            .store(avg - avg / 8 + ns / 8, Ordering::Relaxed);
        *d = seq;
        self.mark.raise(seq);
        Ok(())
    }

    fn start(&self, head: u64, writable: bool) -> Result<()> {
        // Records a crashed process linked may still sit only in the page cache.
        if writable && head > 0 {
            self.dir.sync(&*self.vfs, head)?;
        }
        *self.durable.lock() = head;
        Ok(())
    }

    fn exists(&self, seq: u64) -> Result<bool> {
        self.dir.exists(&*self.vfs, seq)
    }

    fn read_header(&self, seq: u64) -> Result<Option<Record>> {
        self.dir.read_header(&*self.vfs, seq)
    }

    fn open_record(&self, seq: u64) -> Result<Arc<dyn VFile>> {
        self.dir.segment(&*self.vfs, seq)
    }

    fn retire(&self, up_to: u64, live: &std::collections::HashSet<u64>) -> Result<(usize, u64)> {
        self.dir.retire_dead(&*self.vfs, &self.tmp, up_to, live)
    }

    fn list_from(&self, after: u64) -> Result<Vec<u64>> {
        self.dir.list_after(&*self.vfs, after)
    }

    fn location(&self, seq: u64) -> std::path::PathBuf {
        self.dir.path(seq)
    }

    fn checkpoints(&self) -> &dyn CheckpointStore {
        &self.checkpoints
    }

    fn write_out(&self) -> Result<()> {
        Ok(())
    }

    fn close(&self) -> Result<()> {
        Ok(())
    }

    fn discard(&self, w: &Written) {
        w.discard(&*self.vfs);
    }

    fn give_up(&self, release: &mut dyn FnMut()) {
        if !self.given_up.swap(true, Ordering::AcqRel) {
            release();
        }
    }
}
