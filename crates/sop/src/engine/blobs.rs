//! Big-value blobs nobody refers to: the one rule that says when such a blob is
//! garbage (used by recovery and by `check`), the grace period before garbage is
//! deleted (used by the releasing process and by recovery), and what a reader
//! that finds a blob missing is told.
//!
//! A blob's name starts with the first 16 hex digits of the id of the process
//! that wrote it. A blob no item of the newest state refers to is either
//! - **in flight**: its writer is alive (a transaction of it may still commit the
//!   blob; or a commit released it, and the releasing process deletes it, or left
//!   it at its close: then it waits for its writer to end), or
//! - **garbage**: its writer is not alive. Nothing can adopt it any more (in
//!   Clustered mode a presumed-dead writer is fenced off first), so it is a blob
//!   a commit released, or one an uncommitted transaction wrote. Recovery deletes
//!   it; `check` lists it as garbage, never as a fault. (After a power cut a
//!   released blob whose unlink was not yet durable comes back: garbage too.)
//!
//! In a database whose writers may run on hosts this one cannot see (a bucket:
//! each host has its own folder and `procs/`), "not alive" cannot be known of
//! a process this host never saw: there a blob is garbage only if its writer
//! was found dead here, and released blobs always wait for the grace period.
//!
//! Deleting garbage waits for `DbOptions::blob_grace`, counted from a moment after
//! the commit that released it was linked, on the deleter's monotonic clock, while
//! any other process has the folder open (it may read a snapshot from before that
//! commit). A process that starts later begins at or after that commit, so with no
//! other process alive the blob goes at once. Only durations on one clock are
//! compared, never timestamps of two hosts. A reader that still finds a blob
//! missing gets `SnapshotTooOld` if a commit after its snapshot released the blob
//! (or dropped its store, or was reclaimed, so the log cannot tell), `Corrupt`
//! otherwise.

use super::*;
use std::collections::HashSet;

/// What a blob no item of the newest state refers to is (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreferenced {
    /// Its writer is alive.
    InFlight,
    /// Its writer is not alive: recovery deletes it (after the grace period).
    Garbage,
    /// Not named like a blob: no process of ours wrote it.
    Stranger,
}

/// The rule, given who is alive. Where other hosts' processes are unseen (a
/// database in a bucket), a writer this host does not know is presumed alive:
/// only the blobs of processes found dead here are garbage (a crashed process
/// of another host leaves its blobs to that host's recovery).
pub(crate) fn unreferenced(name: &str, life: &Liveness) -> Unreferenced {
    let blob_name = name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit());
    match blob_name.then(|| &name[..16]) {
        None => Unreferenced::Stranger,
        Some(p) if life.live.contains(p) => Unreferenced::InFlight,
        Some(p) if life.hosts_unseen && !life.dead_prefixes.contains(p) => Unreferenced::InFlight,
        Some(_) => Unreferenced::Garbage,
    }
}

/// This process's memory for the grace rule.
#[derive(Default)]
pub(crate) struct BlobGc {
    /// Recovery: when each garbage blob was first seen as garbage.
    seen: Mutex<HashMap<PathBuf, Duration>>,
    /// When other processes were last seen alive (that answer is reused for a
    /// second; "none alive" is never reused, see `others_alive`).
    others_seen: Mutex<Option<Duration>>,
}

impl DbInner {
    /// Whether a process other than this one has the folder open (Clustered: may
    /// still be alive). Exclusive mode: never. "None" is always looked up afresh,
    /// after the release in question was linked: a process starting later begins
    /// at or after it. "Some" is reused for a second (it only delays deletion).
    pub(crate) fn others_alive(&self) -> bool {
        if self.opts.exclusive {
            return false;
        }
        if self.hosts_unseen() {
            // Another host's process may read an old snapshot: always wait.
            return true;
        }
        let mut last = self.blob_gc.others_seen.lock();
        if last.is_some_and(|t| self.vfs.now().saturating_sub(t) < Duration::from_secs(1)) {
            return true;
        }
        let me = prefix_of(self.proc_id);
        let alive = match liveness(self) {
            Ok(life) => life.live.iter().any(|p| *p != me),
            Err(e) => {
                tracing::debug!(error = %e, "liveness unknown: keeping released blobs");
                true
            }
        };
        *last = alive.then(|| self.vfs.now());
        alive
    }

    /// Of `paths` (garbage found by recovery now), those whose grace has passed:
    /// seen as garbage for at least `blob_grace` by this process, or all of them
    /// if no other process is alive. Forgets paths no longer garbage.
    pub(crate) fn past_grace(&self, paths: Vec<PathBuf>) -> Vec<PathBuf> {
        let now = self.vfs.now();
        let mut seen = self.blob_gc.seen.lock();
        let now_garbage: HashSet<&PathBuf> = paths.iter().collect();
        seen.retain(|p, _| now_garbage.contains(p));
        for p in &paths {
            seen.entry(p.clone()).or_insert(now);
        }
        let grace = self.opts.blob_grace;
        let (ready, waiting): (Vec<_>, Vec<_>) = paths
            .into_iter()
            .partition(|p| seen.get(p).is_some_and(|t| now.saturating_sub(*t) >= grace));
        drop(seen);
        if waiting.is_empty() || self.others_alive() {
            return ready;
        }
        ready.into_iter().chain(waiting).collect()
    }

    /// A blob of store `sid` the snapshot at `snap_seq` refers to is missing:
    /// `SnapshotTooOld` if a later commit released it (or dropped the store, or
    /// was reclaimed: the log can no longer tell), `Corrupt` otherwise.
    pub(crate) fn missing_blob(&self, sid: u64, blob: u128, snap_seq: u64) -> Error {
        let path = self.blobs.location(sid, blob);
        let mut seq = snap_seq;
        loop {
            seq += 1;
            let rec = match self.commits.read_header(seq) {
                Ok(Some(rec)) => rec,
                Ok(None) => return Error::corrupt(&path, MISSING_BLOB),
                Err(e) => return e,
            };
            let why = if rec.retired {
                Some(format!("commit record {seq} was reclaimed"))
            } else if rec.dropped.contains(&sid) {
                Some(format!("commit {seq} dropped the store"))
            } else if rec.released_files.contains(&(sid, blob)) {
                Some(format!("commit {seq} released it"))
            } else {
                None
            };
            if let Some(why) = why {
                return Error::SnapshotTooOld(format!(
                    "{} was collected after this snapshot ({why})",
                    path.display()
                ));
            }
        }
    }
}
