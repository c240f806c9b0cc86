//! Cheap counters of what a database handle did, for monitoring
//! (`Database::counters`): relaxed atomics, one `fetch_add` where the event
//! happens, never read on the hot path.
//!
//! Cache hits and misses are counted on every node and value read, by every
//! reading thread at once: one shared atomic would be a cache line bouncing
//! between cores on each read. They are [`Striped`]: each thread adds to one
//! of a few padded slots (by a per-thread index), and a snapshot sums them.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Slots of a striped counter (a power of two).
const STRIPES: usize = 8;

/// One slot on a cache line of its own (128 bytes: adjacent-line prefetch).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

/// A counter bumped from many threads at once (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Striped([Slot; STRIPES]);

impl Striped {
    pub(crate) fn bump(&self) {
        self.0[stripe()].0.fetch_add(1, Relaxed);
    }

    fn sum(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Relaxed)).sum()
    }
}

/// This thread's slot index: threads take indexes in turn as they first count.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Relaxed) % STRIPES;
    }
    MINE.with(|m| *m)
}

/// The live counters of one open folder in this process.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub node_hits: Striped,
    pub node_misses: Striped,
    pub value_hits: Striped,
    pub value_misses: Striped,
    /// Per commit, not per read: plain atomics (on a line of their own, after
    /// the striped ones).
    pub commits: AtomicU64,
    pub conflicts: AtomicU64,
    pub merges: AtomicU64,
    pub merged: AtomicU64,
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
            node_cache_hits: self.node_hits.sum(),
            node_cache_misses: self.node_misses.sum(),
            value_cache_hits: self.value_hits.sum(),
            value_cache_misses: self.value_misses.sum(),
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
