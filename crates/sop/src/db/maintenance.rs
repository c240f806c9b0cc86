//! Maintenance through the public handle: each method runs the engine's
//! maintenance (`maintenance/`) on this database.

use super::Database;
use crate::error::Result;
use crate::maintenance::{
    check, compact, reclaim, recovery, CheckReport, CompactOptions, CompactReport, Progress,
    ReclaimReport, RecoveryReport,
};

impl Database {
    /// Run recovery now: collect what dead processes left (temporary record
    /// files, big-value blobs nothing refers to, past the grace period). Safe at
    /// any time, from any number of processes at once.
    pub fn recover(&self) -> Result<RecoveryReport> {
        recovery::recover(&self.inner)
    }

    /// Verify the whole database (reads everything; bypasses the cache).
    pub fn check(&self) -> Result<CheckReport> {
        check::check(&self.inner, &Progress::default())
    }

    /// [`check`](Self::check), advancing `progress` by the items it has
    /// verified (its total: the items of every store) as it goes.
    pub fn check_with_progress(&self, progress: &Progress) -> Result<CheckReport> {
        check::check(&self.inner, progress)
    }

    /// Compact with the default options (see [`CompactOptions`]).
    pub fn compact(&self) -> Result<CompactReport> {
        compact::compact(&self.inner)
    }

    /// Move live data out of mostly-dead records, then reclaim. Safe at any
    /// time, from any process, concurrently with writers.
    pub fn compact_with(&self, o: &CompactOptions) -> Result<CompactReport> {
        compact::compact_with(&self.inner, o, &Progress::default())
    }

    /// [`compact_with`](Self::compact_with), advancing `progress` by the
    /// planned moves (of nodes and values) done; the total grows round by round.
    pub fn compact_with_progress(
        &self,
        o: &CompactOptions,
        progress: &Progress,
    ) -> Result<CompactReport> {
        compact::compact_with(&self.inner, o, progress)
    }

    /// Retire dead record files. Safe at any time, from any process; an open
    /// transaction of this process that reads an older snapshot postpones it.
    pub fn reclaim(&self) -> Result<ReclaimReport> {
        reclaim::reclaim(&self.inner, &Progress::default())
    }

    /// [`reclaim`](Self::reclaim), advancing `progress` by steps: one per
    /// store whose live records have been gathered, one for retiring the rest.
    pub fn reclaim_with_progress(&self, progress: &Progress) -> Result<ReclaimReport> {
        reclaim::reclaim(&self.inner, progress)
    }
}
