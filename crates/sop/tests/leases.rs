//! The Standalone lock table's leases, in simulated time (the clock of the I/O
//! seam, held still by `SimVfs`).

use sop::test_hooks::{Coordinator, LocalCoordinator};
use sop_testkit::SimVfs;
use std::sync::Arc;
use std::time::Duration;

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
    let waiter = std::thread::spawn(move || c2.lock(2, &[(7, 7)], ttl, Duration::from_secs(60)));
    std::thread::sleep(Duration::from_millis(120));
    assert!(!waiter.is_finished(), "took a lock whose lease runs on");
    sim.advance(Duration::from_secs(31));
    assert!(waiter.join().unwrap().unwrap());
}
