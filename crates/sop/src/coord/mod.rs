//! Coordination between committers ("pheromones").
//!
//! Correctness never rests on these locks: the commit point is an exclusive link
//! in the log (see `log`), which refuses a stale writer by itself. Locks only make
//! contending committers take turns instead of redoing work, and carry leases so
//! a dead holder never blocks others for longer than its lease.

mod local;

pub use local::LocalCoordinator;

use crate::error::Result;
use std::time::{Duration, Instant};

/// A lock name: (store id, logical node id), or a whole-database name.
pub type LockKey = (u64, u64);

/// Who holds a lock: a fresh id per commit attempt.
pub type Owner = u128;

pub trait Coordinator: Send + Sync {
    /// Take all `keys` (sorted, deduplicated by the caller) for `owner` with a lease
    /// of `ttl`, waiting until `deadline`. Returns false if they could not all be
    /// taken in time (nothing stays held then).
    fn lock(&self, owner: Owner, keys: &[LockKey], ttl: Duration, deadline: Instant) -> Result<bool>;
    /// Release the keys `owner` holds; keys held by someone else are left alone.
    fn unlock(&self, owner: Owner, keys: &[LockKey]) -> Result<()>;
}
