//! Reclaiming space: retire record files that nothing current points into.
//!
//! A record is dead when no node handle of the newest state lives in it (as the
//! node's image or as the base a leaf delta applies to) and no current leaf points
//! at a separate value in it. Dead records at or below a
//! durable checkpoint are replaced, atomically (rename), by a hard link to a
//! tombstone file shared by the records one run retires (one durable write for
//! thousands of records). The name stays taken, so no stale writer can ever link
//! a commit at that sequence, and the tombstone keeps each record's transaction
//! id (for `commit_outcome`). A process catching up through a tombstone continues
//! from the checkpoint; a transaction of another process still reading an older
//! snapshot from a retired record gets `SnapshotTooOld` (retryable). Compaction
//! (`compact.rs`) empties mostly-dead records first, so that this can retire them.

use crate::btree::node::ValueRef;
use crate::engine::DbInner;
use crate::error::Result;
use serde::Serialize;

use crate::engine::for_each_value;
use crate::maintenance::Progress;
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

/// Retire dead record files (see the module comment). Safe at any time, from
/// any process; an open transaction of this process that reads an older
/// snapshot postpones it.
/// `progress` counts steps: one per store whose live records are gathered,
/// and one for retiring the dead ones.
pub(crate) fn reclaim(db: &DbInner, progress: &Progress) -> Result<ReclaimReport> {
    db.check_writable()?;
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
    // The head is made durable first: what is retired here is judged dead by
    // the head, and must stay dead after a power cut.
    db.write_checkpoint(&head)?;

    progress.add_total(head.stores.len() as u64 + 1);
    let mut live: HashSet<u64> = HashSet::new();
    for st in head.stores.values() {
        live.extend(st.nodes.values().flat_map(|h| h.images()).map(|i| i.seq));
        if st.info.options.values.has_separate() {
            for_each_value(db, st, |v| {
                if let ValueRef::Segment { seq, .. } = *v {
                    live.insert(seq);
                }
            })?;
        }
        progress.advance(1);
    }

    let (retired, bytes) = db.commits.retire(head.seq, &live)?;
    progress.advance(1);
    let report = ReclaimReport {
        retired,
        bytes,
        skipped: None,
    };
    Ok(report)
}
