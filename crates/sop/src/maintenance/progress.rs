//! How far a maintenance call has got, for a caller watching from another
//! thread (the Data Manager's jobs): two relaxed counters the call advances.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Progress of one maintenance call: `done` out of `total` units (items for
/// `check`, planned node and value moves for `compact`, steps for `reclaim`). `total` may grow
/// while the call runs (compaction plans round by round). Share it (e.g. in an
/// `Arc`) with the thread that shows it.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    /// A fresh counter at 0 of 0.
    pub fn new() -> Progress {
        Progress::default()
    }
    /// Units done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Relaxed)
    }
    /// Units known so far.
    pub fn total(&self) -> u64 {
        self.total.load(Relaxed)
    }
    pub(crate) fn add_total(&self, n: u64) {
        self.total.fetch_add(n, Relaxed);
    }
    pub(crate) fn advance(&self, n: u64) {
        self.done.fetch_add(n, Relaxed);
    }
}
