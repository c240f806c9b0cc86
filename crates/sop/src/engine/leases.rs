//! Process leases where OS locks cannot tell who is alive: a database in a
//! bucket (each host has a folder of its own) and a Cassandra registry whose
//! folder is a network volume (`CassandraRegistry::leases`). The seam is
//! [`ProcessLeases`]: register this process, renew its lease, list every
//! lease with a token that changes at each renewal, mark one dead, forget a
//! dead one. Two implementations: objects in the bucket renewed with `If-Match`
//! on their ETag (`objects/leases.rs`), and rows in a Cassandra table renewed
//! with lightweight transactions on a generation column
//! (`log/cassandra/leases.rs`). The folder's own liveness, the OS lock on
//! `procs/<id>.lock`, stays in `liveness.rs`.
//!
//! The rules (docs/ARCHITECTURE.md §8, "Leases without OS locks"):
//! - A process registers its lease at open, before it writes anything.
//! - Renewing is conditional on the token the process last wrote. If it fails
//!   because the lease changed, another process marked it dead: this process
//!   is fenced (its handle is poisoned with `Error::Fenced`), and a commit
//!   whose lease is older than its renewal period renews first, so a process
//!   that wakes up late finds out before it commits.
//! - A recoverer judges a lease stale when it has seen the same token for
//!   longer than the lease time on its own clock (the I/O seam's): no wall
//!   clocks of two hosts are compared. It then marks it dead, conditionally on
//!   that token, so a renewal racing it wins or loses as a whole; only a lease
//!   this recoverer marked (or found marked) is dead.
//! - A dead process is fenced off by an abort record before anything it left
//!   is deleted (§8): that, not the lease, is what keeps its late commit from
//!   pointing at a deleted blob.

use super::*;

/// What a listing says of one process's lease. (Only the bucket and Cassandra
/// backends make leases: without their features nothing builds one.)
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(any(feature = "s3", feature = "cassandra")), allow(dead_code))]
pub(crate) enum LeaseState {
    /// Alive, last renewed with this token (an ETag, a generation).
    Renewed(String),
    /// Marked dead by a recoverer: it can never be renewed again.
    Dead,
    /// Its process closed the database cleanly (it commits nothing more), and
    /// may have left released blobs for others to collect.
    Closed,
}

/// Why a renewal failed.
#[derive(Debug)]
#[cfg_attr(not(any(feature = "s3", feature = "cassandra")), allow(dead_code))]
pub(crate) enum RenewError {
    /// The lease is no longer ours (marked dead, or gone): fenced.
    Lost,
    /// The store could not be reached; the lease may still be ours.
    Other(Error),
}

/// The liveness seam of a shared registry (see the module docs).
pub(crate) trait ProcessLeases: Send + Sync {
    /// Create this process's lease (before it writes anything).
    fn register(&self, me: u128) -> Result<()>;
    /// Renew it, conditionally on the token written last.
    fn renew(&self, me: u128) -> std::result::Result<(), RenewError>;
    /// Every lease there is (this process's included).
    fn list(&self) -> Result<Vec<(u128, LeaseState)>>;
    /// Mark `id` dead if its lease still has `token` (`None`: whatever it has,
    /// for a process known dead otherwise). `Ok(false)`: it was renewed since.
    fn mark_dead(&self, id: u128, token: Option<&str>) -> Result<bool>;
    /// Forget a dead process (nothing of it is left to collect).
    fn forget(&self, id: u128) -> Result<()>;
    /// This process closes cleanly: mark its lease closed, conditionally on
    /// its token (best effort; a lease already marked dead stays dead).
    fn release(&self, me: u128);
    /// Where the leases are, for messages.
    fn place(&self) -> String;
}

/// A database's leases, with this process's memory of what it saw.
pub(crate) struct Leases {
    pub seam: Box<dyn ProcessLeases>,
    ttl: Duration,
    /// Other processes' tokens, and when this process first saw each one.
    seen: Mutex<HashMap<u128, (String, Duration)>>,
    /// When this process's lease was last renewed, on its clock.
    renewed: Mutex<Duration>,
}

/// What one look at the leases found.
#[derive(Default)]
pub(crate) struct LeaseView {
    /// Alive (renewed within the lease time, as this process saw it).
    pub live: Vec<u128>,
    /// Marked dead (fenced off by an abort record before what they left goes).
    pub dead: Vec<u128>,
    /// Closed cleanly.
    pub closed: Vec<u128>,
    /// Not renewed for longer than the lease time on this process's clock,
    /// with the token seen: recovery may mark them dead.
    pub stale: Vec<(u128, String)>,
}

impl Leases {
    pub fn new(seam: Box<dyn ProcessLeases>, ttl: Duration) -> Leases {
        Leases {
            seam,
            ttl,
            seen: Mutex::new(HashMap::new()),
            renewed: Mutex::new(Duration::ZERO),
        }
    }

    /// Register this process; `now` starts its lease.
    pub fn register(&self, me: u128, now: Duration) -> Result<()> {
        self.seam.register(me)?;
        *self.renewed.lock() = now;
        Ok(())
    }

    /// Renew this process's lease. `Err(Fenced)` if it was lost.
    pub fn renew(&self, me: u128, now: Duration) -> Result<()> {
        match self.seam.renew(me) {
            Ok(()) => {
                *self.renewed.lock() = now;
                Ok(())
            }
            Err(RenewError::Lost) => Err(Error::Fenced),
            Err(RenewError::Other(e)) => Err(e),
        }
    }

    /// Before a commit point: a lease not renewed for half of its time (a
    /// process that was stopped, or whose heartbeat stalls) is renewed now,
    /// so a process marked dead finds out before it commits.
    pub fn ensure_fresh(&self, me: u128, now: Duration) -> Result<()> {
        let last = *self.renewed.lock();
        if now.saturating_sub(last) < self.ttl / 2 {
            return Ok(());
        }
        self.renew(me, now)
    }

    /// Look at every lease but `me`'s, timing unchanged tokens on `now`.
    pub fn view(&self, me: u128, now: Duration) -> Result<LeaseView> {
        let all = self.seam.list()?;
        let mut seen = self.seen.lock();
        let listed: HashSet<u128> = all.iter().map(|(id, _)| *id).collect();
        seen.retain(|id, _| listed.contains(id));
        let mut out = LeaseView::default();
        for (id, state) in all {
            if id == me {
                continue;
            }
            match state {
                LeaseState::Dead => {
                    seen.remove(&id);
                    out.dead.push(id);
                }
                LeaseState::Closed => {
                    seen.remove(&id);
                    out.closed.push(id);
                }
                LeaseState::Renewed(token) => {
                    let first = match seen.get(&id) {
                        Some((t, at)) if *t == token => *at,
                        _ => {
                            seen.insert(id, (token.clone(), now));
                            now
                        }
                    };
                    if now.saturating_sub(first) > self.ttl {
                        out.stale.push((id, token));
                    } else {
                        out.live.push(id);
                    }
                }
            }
        }
        Ok(out)
    }
}

use std::collections::HashSet;

impl DbInner {
    /// Before a commit (and again at its commit point): a lease older than
    /// half its time (a process that was stopped, or whose heartbeat stalls)
    /// is renewed first. If it was marked dead meanwhile, the handle is
    /// poisoned and the commit fails with `Fenced`.
    pub(crate) fn check_lease(&self) -> Result<()> {
        let Some(l) = &self.leases else {
            return Ok(());
        };
        l.ensure_fresh(self.proc_id, self.vfs.now())
            .inspect_err(|e| {
                if matches!(e, Error::Fenced) {
                    self.poison_with(&Error::Fenced);
                }
            })
    }
}
