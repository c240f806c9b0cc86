//! Coordination between committers ("pheromones").
//!
//! Correctness never rests on these locks: the commit point is an exclusive link
//! in the log (see `log`), which refuses a stale writer by itself. Locks only make
//! contending committers take turns instead of redoing work, and carry leases so
//! a dead holder never blocks others for longer than its lease.

mod local;
#[cfg(feature = "redis")]
pub mod redis;

#[cfg(feature = "redis")]
pub use self::redis::RedisCoordinator;
pub use local::LocalCoordinator;

use crate::error::Result;
use std::time::Duration;

/// A lock name: (store id, logical node id), or a whole-database name.
pub type LockKey = (u64, u64);

/// Who holds a lock: a fresh id per commit attempt.
pub type Owner = u128;

pub trait Coordinator: Send + Sync {
    /// Take all `keys` (sorted, deduplicated by the caller) for `owner` with a lease
    /// of `ttl`, waiting at most `timeout`. Returns false if they could not all be
    /// taken in time (nothing stays held then).
    fn lock(
        &self,
        owner: Owner,
        keys: &[LockKey],
        ttl: Duration,
        timeout: Duration,
    ) -> Result<bool>;
    /// Release the keys `owner` holds; keys held by someone else are left alone.
    fn unlock(&self, owner: Owner, keys: &[LockKey]) -> Result<()>;

    /// Tell other processes the log reached `seq` (a hint; best effort).
    fn publish_head(&self, _seq: u64) {}
    /// `unlock`, then `publish_head(seq)` if a commit published `seq` (one
    /// round trip where the coordinator is remote).
    fn unlock_and_publish(&self, owner: Owner, keys: &[LockKey], seq: Option<u64>) -> Result<()> {
        let r = self.unlock(owner, keys);
        if let Some(seq) = seq {
            self.publish_head(seq);
        }
        r
    }
    /// The newest sequence some process announced, if known.
    fn head_hint(&self) -> Option<u64> {
        None
    }
    /// Shared cache of immutable bytes (record headers, node images); best effort.
    fn cache_get(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }
    fn cache_put(&self, _key: &str, _value: &[u8]) {}
    /// Hold (renew) this process's liveness lease.
    fn lease(&self, _proc_id: u128, _ttl: Duration) -> Result<()> {
        Ok(())
    }
    /// Whether a process's lease is held. Only meaningful when `clustered()`.
    fn is_alive(&self, _proc_id: u128) -> Result<bool> {
        Ok(true)
    }
    fn release_lease(&self, _proc_id: u128) {}
    /// True when liveness comes from leases (Clustered) rather than OS file locks.
    fn clustered(&self) -> bool {
        false
    }
}

/// The coordinator of a Clustered database: Redis at `url`, keys namespaced by
/// `db_id`. In a build without the `redis` feature, `Error::FeatureDisabled`.
pub(crate) fn connect_clustered(url: &str, db_id: &str) -> Result<Box<dyn Coordinator>> {
    #[cfg(feature = "redis")]
    {
        Ok(Box::new(RedisCoordinator::connect(url, db_id)?))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = (url, db_id);
        Err(crate::error::Error::FeatureDisabled {
            feature: "redis",
            needed_for: "Clustered mode",
        })
    }
}
