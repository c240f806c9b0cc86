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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::sim::SimVfs;

    /// Leases in simulated time: a held lock blocks others until its lease ends
    /// on the clock; then another owner takes it, and the old owner can no
    /// longer release it. (On a held clock a wait ends only when the clock is
    /// moved: these tries do not wait.)
    #[test]
    fn a_lock_is_released_only_by_its_owner_and_expires_on_the_clock() {
        let sim = SimVfs::new();
        sim.pause_clock();
        let c = LocalCoordinator::new(Arc::new(sim.clone()));
        let ttl = Duration::from_secs(10);
        assert!(c.lock(1, &[(1, 1)], ttl, Duration::ZERO).unwrap());
        assert!(!c.lock(2, &[(1, 1)], ttl, Duration::ZERO).unwrap());
        c.unlock(2, &[(1, 1)]).unwrap(); // a stranger cannot release it
        assert!(!c.lock(2, &[(1, 1)], ttl, Duration::ZERO).unwrap());
        sim.advance(Duration::from_secs(9));
        assert!(!c.lock(2, &[(1, 1)], ttl, Duration::ZERO).unwrap());
        sim.advance(Duration::from_secs(1));
        // The lease is over: another owner takes it at once.
        assert!(c.lock(2, &[(1, 1)], ttl, Duration::ZERO).unwrap());
        c.unlock(1, &[(1, 1)]).unwrap();
        assert!(!c.lock(3, &[(1, 1)], ttl, Duration::ZERO).unwrap());
        c.unlock(2, &[(1, 1)]).unwrap();
        assert!(c.lock(3, &[(1, 1)], ttl, Duration::ZERO).unwrap());
    }

    /// A waiter blocked on a held lock gets it once the clock passes the lease,
    /// driven by another thread.
    #[test]
    fn a_waiter_gets_the_lock_when_the_clock_passes_the_lease() {
        let sim = SimVfs::new();
        sim.pause_clock();
        let c = Arc::new(LocalCoordinator::new(Arc::new(sim.clone())));
        let ttl = Duration::from_secs(30);
        assert!(c.lock(1, &[(7, 7)], ttl, Duration::ZERO).unwrap());
        let c2 = c.clone();
        let waiter =
            std::thread::spawn(move || c2.lock(2, &[(7, 7)], ttl, Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(120));
        assert!(!waiter.is_finished(), "took a lock whose lease runs on");
        sim.advance(Duration::from_secs(31));
        assert!(waiter.join().unwrap().unwrap());
    }
}
