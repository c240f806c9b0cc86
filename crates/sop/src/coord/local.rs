//! In-process coordinator for Standalone mode: a lock table with leases.

use super::{Coordinator, LockKey, Owner};
use crate::error::Result;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct LocalCoordinator {
    table: Mutex<HashMap<LockKey, (Owner, Instant)>>,
    freed: Condvar,
}

impl LocalCoordinator {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Coordinator for LocalCoordinator {
    fn lock(
        &self,
        owner: Owner,
        keys: &[LockKey],
        ttl: Duration,
        deadline: Instant,
    ) -> Result<bool> {
        let mut t = self.table.lock();
        loop {
            let now = Instant::now();
            let blocked = keys
                .iter()
                .any(|k| matches!(t.get(k), Some((o, exp)) if *o != owner && *exp > now));
            if !blocked {
                for k in keys {
                    t.insert(*k, (owner, now + ttl));
                }
                return Ok(true);
            }
            if now >= deadline {
                return Ok(false);
            }
            // Wake at the deadline or when a lease could have expired.
            let wait = (deadline - now).min(Duration::from_millis(50));
            self.freed.wait_for(&mut t, wait);
        }
    }

    fn unlock(&self, owner: Owner, keys: &[LockKey]) -> Result<()> {
        let mut t = self.table.lock();
        for k in keys {
            if matches!(t.get(k), Some((o, _)) if *o == owner) {
                t.remove(k);
            }
        }
        drop(t);
        self.freed.notify_all();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_released_only_by_its_owner_and_expires() {
        let c = LocalCoordinator::new();
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(c
            .lock(1, &[(1, 1)], Duration::from_millis(100), soon)
            .unwrap());
        assert!(!c
            .lock(
                2,
                &[(1, 1)],
                Duration::from_millis(100),
                Instant::now() + Duration::from_millis(20)
            )
            .unwrap());
        c.unlock(2, &[(1, 1)]).unwrap(); // a stranger cannot release it
        assert!(!c
            .lock(2, &[(1, 1)], Duration::from_millis(100), Instant::now())
            .unwrap());
        // after the lease expires, another owner takes it, and the old owner cannot release it
        assert!(c
            .lock(
                2,
                &[(1, 1)],
                Duration::from_millis(100),
                Instant::now() + Duration::from_millis(500)
            )
            .unwrap());
        c.unlock(1, &[(1, 1)]).unwrap();
        assert!(!c
            .lock(3, &[(1, 1)], Duration::from_millis(100), Instant::now())
            .unwrap());
        c.unlock(2, &[(1, 1)]).unwrap();
        assert!(c
            .lock(3, &[(1, 1)], Duration::from_millis(100), Instant::now())
            .unwrap());
    }
}
