//! Reclaiming space: retire record files that nothing current points into.
//!
//! A record is dead when no node handle of the newest state lives in it and no
//! current leaf points at a separate value in it. Dead records at or below a
//! durable checkpoint are replaced, atomically (rename), by a 40-byte tombstone
//! that keeps the name taken (so no stale writer can ever link a commit at that
//! sequence) and the transaction id (for `commit_outcome`). A process catching up
//! through a tombstone continues from the checkpoint; a transaction of another
//! process still reading an older snapshot from a retired record gets
//! `SnapshotTooOld` (retryable). Live nodes in mostly-dead records are not moved
//! yet (no compaction), so a record with one live node keeps its whole size.

use super::*;

use crate::log::record::{encode_tombstone, TOMBSTONE_LEN};
use crate::options::ValuePlacement;
use crate::txn::view::for_each_value;
use std::collections::HashSet;

/// What `Database::reclaim` did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReclaimReport {
    /// Records replaced by tombstones.
    pub retired: usize,
    /// Bytes their files held.
    pub bytes: u64,
    /// Why nothing was tried, if so.
    pub skipped: Option<String>,
}

impl Database {
    /// Retire dead record files (see the module comment). Safe at any time, from
    /// any process; an open transaction of this process that reads an older
    /// snapshot postpones it.
    pub fn reclaim(&self) -> Result<ReclaimReport> {
        let db = &*self.inner;
        let vfs = &*db.vfs;
        let head = db.catch_up()?;
        if head.seq == 0 {
            return Ok(ReclaimReport::default());
        }
        if db.oldest_snapshot().is_some_and(|s| s < head.seq) {
            return Ok(ReclaimReport {
                skipped: Some("an open transaction reads an older snapshot".into()),
                ..Default::default()
            });
        }
        // A checkpoint at the head: nobody needs a record header at or below it.
        checkpoint::CheckpointDir::new(&db.path).write(vfs, &head, &db.tmp_path())?;

        let mut live: HashSet<u64> = HashSet::new();
        for st in head.stores.values() {
            live.extend(st.nodes.values().map(|h| h.seq));
            if st.info.options.values != ValuePlacement::Separate {
                continue;
            }
            for_each_value(db, st, |v| {
                if let ValueRef::Segment { seq, .. } = *v {
                    live.insert(seq);
                }
            })?;
        }

        let mut report = ReclaimReport::default();
        let mut dirs = HashSet::new();
        for seq in db
            .log
            .list(vfs)?
            .into_iter()
            .filter(|s| *s <= head.seq && !live.contains(s))
        {
            let path = db.log.path(seq);
            let len = match vfs.open(&path) {
                Ok(f) => f.len().map_err(|e| Error::io(&path, e))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&path, e)),
            };
            if len == TOMBSTONE_LEN as u64 {
                continue; // already retired
            }
            let Some(rec) = db.log.read_header(vfs, seq)? else {
                continue;
            };
            let tmp = db.tmp_path();
            let f = vfs.create_new(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let done = f
                .append(&encode_tombstone(seq, rec.txn))
                .and_then(|_| f.sync_data())
                .and_then(|_| vfs.rename(&tmp, &path));
            if let Err(e) = done {
                let _ = vfs.remove_file(&tmp);
                return Err(Error::io(&path, e));
            }
            dirs.insert(db.log.subdir(seq));
            report.retired += 1;
            report.bytes += len;
        }
        for d in dirs {
            vfs.sync_dir(&d).map_err(|e| Error::io(&d, e))?;
        }
        db.files.lock().clear();
        Ok(report)
    }
}
