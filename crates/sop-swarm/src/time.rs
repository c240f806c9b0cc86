//! Wall-clock time in milliseconds since the Unix epoch: leases, due times,
//! backoff. Every host's workers compare these, so their clocks must agree to
//! within a small part of a lease.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
