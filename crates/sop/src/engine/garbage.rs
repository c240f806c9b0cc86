//! Snapshots of open transactions, and garbage deleted once no snapshot needs it.

use super::*;

impl DbInner {
    /// The oldest snapshot an open transaction of this process reads, if any.
    pub fn oldest_snapshot(&self) -> Option<u64> {
        self.snapshots.lock().keys().next().copied()
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
        let now = self.vfs.now();
        let mut t = self.trash.lock();
        for (sid, blob) in &rec.released_files {
            t.push((seq, now, self.blobs.location(*sid, *blob)));
        }
        for sid in &rec.dropped {
            t.push((seq, now, self.blobs.store_location(*sid)));
        }
        drop(t);
        self.collect_trash();
    }

    /// Delete trash released by commits newer than every open snapshot of this
    /// process, once `blob_grace` has passed since the release or no other
    /// process is alive (snapshots of other processes: `engine/blobs.rs`).
    pub fn collect_trash(&self) {
        self.collect_trash_with(self.snapshots.lock().keys().next().copied());
    }

    /// At close: no snapshot of ours is left; the grace still holds for others.
    /// What stays is collected by recovery (its writer is then not alive).
    pub(super) fn collect_trash_at_close(&self) {
        self.collect_trash_with(None);
    }

    fn collect_trash_with(&self, oldest: Option<u64>) {
        let grace = self.opts.blob_grace;
        let now = self.vfs.now();
        let mut t = self.trash.lock();
        let (unneeded, keep): (Vec<_>, Vec<_>) = t
            .drain(..)
            .partition(|(seq, _, _)| oldest.is_none_or(|o| o >= *seq));
        *t = keep;
        drop(t);
        let (mut ready, waiting): (Vec<_>, Vec<_>) = unneeded
            .into_iter()
            .partition(|(_, at, _)| now.saturating_sub(*at) >= grace);
        if !waiting.is_empty() && !self.others_alive() {
            ready.extend(waiting);
        } else {
            self.trash.lock().extend(waiting);
        }
        let failed: Vec<_> = ready
            .into_iter()
            .filter(|(_, _, path)| self.blobs.remove(path).is_err())
            .collect();
        // Retried at the next collection (or by recovery after this process ends).
        self.trash.lock().extend(failed);
    }

    /// Garbage waiting for deletion (not orphans).
    pub fn trash_paths(&self) -> Vec<PathBuf> {
        self.trash
            .lock()
            .iter()
            .map(|(_, _, p)| p.clone())
            .collect()
    }
}
