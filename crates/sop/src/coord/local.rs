//! In-process coordinator for Standalone mode: a lock table with leases, timed
//! by the I/O seam's clock (so tests run leases in simulated time).

use super::{Coordinator, LockKey, Owner};
use crate::error::Result;
use crate::io::Vfs;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub struct LocalCoordinator {
    /// Each key's holder and when its lease ends (on `clock`'s time).
    table: Mutex<HashMap<LockKey, (Owner, Duration)>>,
    freed: Condvar,
    clock: Arc<dyn Vfs>,
}

impl LocalCoordinator {
    /// A lock table whose leases run on `clock`'s time (`Vfs::now`).
    pub fn new(clock: Arc<dyn Vfs>) -> Self {
        LocalCoordinator {
            table: Mutex::new(HashMap::new()),
            freed: Condvar::new(),
            clock,
        }
    }
}

impl Coordinator for LocalCoordinator {
    fn lock(
        &self,
        owner: Owner,
        keys: &[LockKey],
        ttl: Duration,
        timeout: Duration,
    ) -> Result<bool> {
        let deadline = self.clock.now() + timeout;
        let mut t = self.table.lock();
        loop {
            let now = self.clock.now();
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
            // Wake at the deadline or when a lease could have expired (checked
            // again on the clock, which a test may drive).
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
