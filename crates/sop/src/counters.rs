//! Cheap counters of what a database handle did, for monitoring
//! (`Database::counters`): relaxed atomics, one `fetch_add` where the event
//! happens, never read on the hot path.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The live counters of one open folder in this process.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub commits: AtomicU64,
    pub conflicts: AtomicU64,
    pub merges: AtomicU64,
    pub merged: AtomicU64,
    pub node_hits: AtomicU64,
    pub node_misses: AtomicU64,
    pub value_hits: AtomicU64,
    pub value_misses: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> EngineCounters {
        EngineCounters {
            commits: self.commits.load(Relaxed),
            conflicts: self.conflicts.load(Relaxed),
            merges: self.merges.load(Relaxed),
            merged: self.merged.load(Relaxed),
            node_cache_hits: self.node_hits.load(Relaxed),
            node_cache_misses: self.node_misses.load(Relaxed),
            value_cache_hits: self.value_hits.load(Relaxed),
            value_cache_misses: self.value_misses.load(Relaxed),
        }
    }
}

/// What the transactions and reads of one open database (a `Database` and
/// its clones) did since it was opened. Counted with relaxed atomics: each figure is exact, but a
/// snapshot taken while others work may mix instants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EngineCounters {
    /// Transactions with writes that committed.
    pub commits: u64,
    /// Commits that failed with a conflict (`Error::Conflict`).
    pub conflicts: u64,
    /// In-flight merges: a commit found its reads changed and replayed its
    /// operations on the newer state.
    pub merges: u64,
    /// Merges whose replay gave the same results (the commit went on).
    pub merged: u64,
    /// Node reads served by the in-process cache.
    pub node_cache_hits: u64,
    /// Node reads that went to the store (disk, registry or bucket).
    pub node_cache_misses: u64,
    /// Separate-value reads served by the in-process cache.
    pub value_cache_hits: u64,
    /// Separate-value reads that went to the store.
    pub value_cache_misses: u64,
}

impl EngineCounters {
    /// Node cache hits over node reads (None before the first read).
    pub fn node_cache_hit_rate(&self) -> Option<f64> {
        let all = self.node_cache_hits + self.node_cache_misses;
        (all > 0).then(|| self.node_cache_hits as f64 / all as f64)
    }
}
