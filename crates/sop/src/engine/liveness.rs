//! This process among others: its lock file (`procs/<id>.lock`), its lease and
//! the heartbeat that renews it, and who is alive.

use super::*;
use std::collections::HashSet;

/// Renew this process's lease every third of its TTL while the database is open.
pub(crate) fn spawn_heartbeat(weak: std::sync::Weak<DbInner>, ttl: Duration) {
    let _ = std::thread::Builder::new()
        .name("sop-lease".into())
        .spawn(move || {
            let every = (ttl / 3).max(Duration::from_millis(10));
            let step = Duration::from_millis(20).min(every);
            // Paced in real time (so the thread ends soon after the database),
            // due by the clock of the I/O seam (which a test may hold still).
            let mut last = None;
            loop {
                std::thread::sleep(step);
                let Some(inner) = weak.upgrade() else { return };
                if inner.is_closed() {
                    return;
                }
                let now = inner.vfs.now();
                let since = *last.get_or_insert(now);
                if now.saturating_sub(since) < every {
                    continue;
                }
                last = Some(now);
                if inner.coord.clustered() {
                    if let Err(e) = inner.coord.lease(inner.proc_id, ttl) {
                        tracing::warn!(error = %e, "could not renew the process lease");
                    }
                }
                if let Some(l) = &inner.leases {
                    match l.renew(inner.proc_id, now) {
                        Ok(()) => {}
                        Err(Error::Fenced) => {
                            // Another process judged us dead: nothing of ours
                            // may commit any more.
                            tracing::error!(leases = %l.seam.place(), "this process's lease was taken: fenced");
                            inner.poison_with(&Error::Fenced);
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "could not renew the process lease"),
                    }
                }
            }
        });
}

/// Create and lock this process's `procs/<id>.lock`. Creating the file and locking
/// it are two steps: in between, a concurrent recovery (another process opening
/// the folder) can take the lock, judge this process dead and delete the file.
/// Then the lock is held by the recovery (WouldBlock here) or on a deleted file;
/// either way, try again with a fresh id.
pub(super) fn take_process_lock(vfs: &dyn Vfs, layout: &Layout) -> Result<(u128, Box<dyn VLock>)> {
    let mut attempt = 0;
    loop {
        let proc_id = vfs.random();
        let lock_path = layout.proc_lock(proc_id);
        if let Some(lock) = vfs.try_lock(&lock_path).map_err(io_err(&lock_path))? {
            // A recovery that took the lock first deletes the file before releasing it.
            if vfs.exists(&lock_path).map_err(io_err(&lock_path))? {
                return Ok((proc_id, lock));
            }
        }
        attempt += 1;
        if attempt == 100 {
            return Err(Error::io(
                &lock_path,
                io::Error::other("fresh process lock is held"),
            ));
        }
    }
}

impl DbInner {
    /// Whether processes of other hosts may write to this database unseen by
    /// this host's `procs/` (a database in a bucket: every host has its own
    /// folder). Then nothing is presumed of a process this host does not know.
    pub fn hosts_unseen(&self) -> bool {
        match &self.config.registry {
            crate::options::Registry::Folder => false,
            crate::options::Registry::Cassandra(c) => c.leases,
            crate::options::Registry::S3(_) => true,
        }
    }

    /// Whether the OS locks on `procs/` tell who is alive: not on a Cassandra
    /// registry with leases (the folder is a network volume whose locks are
    /// not trusted; the lease rows judge every process).
    pub fn locks_trusted(&self) -> bool {
        !matches!(&self.config.registry, crate::options::Registry::Cassandra(c) if c.leases)
    }

    /// Clustered mode: a process is presumed dead once its lease has been missing
    /// for longer than the lease TTL, as seen by this process.
    pub fn presumed_dead(&self, proc_id: u128) -> Result<bool> {
        if self.coord.is_alive(proc_id)? {
            self.suspects.lock().remove(&proc_id);
            return Ok(false);
        }
        let now = self.vfs.now();
        let first = *self.suspects.lock().entry(proc_id).or_insert(now);
        Ok(now.saturating_sub(first) > self.opts.lease_ttl)
    }
}

/// Processes found alive (holding their lock), and the lock files of dead ones
/// (with their locks, taken by us, so they can be removed).
pub(crate) struct Liveness {
    pub live: HashSet<String>,
    pub dead: Vec<(std::path::PathBuf, Box<dyn crate::io::VLock>)>,
    /// The id prefixes of the processes in `dead`.
    pub dead_prefixes: HashSet<String>,
    /// Writers may run on hosts whose processes this one cannot see (a
    /// database in a bucket: each host has a folder of its own): a process
    /// not found alive may be alive elsewhere, and only those found dead here
    /// are dead.
    pub hosts_unseen: bool,
    /// The OS locks of `procs/` judged this folder's processes (and their
    /// `tmp/` files and claim files); otherwise only leases found dead do.
    pub locks_trusted: bool,
    /// Leases not renewed for longer than the lease time on this process's
    /// clock, with the token seen: recovery may mark them dead. Counted alive
    /// until it does.
    pub stale: Vec<(u128, String)>,
    /// Processes whose leases were marked dead: fenced off by an abort
    /// record before anything they left is deleted.
    pub lease_dead: Vec<u128>,
    /// Processes whose leases say they closed cleanly.
    pub lease_closed: Vec<u128>,
}

impl Liveness {
    /// Whether the writer of a file whose name starts with `prefix` (a
    /// `tmp/` file, a claim file) is gone, so the file is garbage.
    pub fn gone(&self, prefix: &str) -> bool {
        !self.live.contains(prefix) && (self.locks_trusted || self.dead_prefixes.contains(prefix))
    }

    /// A process recovery has just marked dead.
    pub fn mark_dead(&mut self, id: u128) {
        let p = prefix_of(id);
        self.live.remove(&p);
        self.dead_prefixes.insert(p);
        self.lease_dead.push(id);
    }
}

/// The first 16 hex digits of a process id: temporary files and big-value blobs
/// of that process start with them.
pub(crate) fn prefix_of(proc_id: u128) -> String {
    format!("{:016x}", (proc_id >> 64) as u64)
}

/// Who is alive. A process holding its OS file lock is alive. Otherwise, in
/// Standalone mode it is dead; in Clustered mode (where the lock may belong to
/// another host) it is dead only once its Redis lease has been seen missing for
/// longer than the lease TTL (a restarted Redis loses leases for a moment).
pub(crate) fn liveness(db: &DbInner) -> Result<Liveness> {
    let vfs = &*db.vfs;
    let procs = db.layout.procs();
    let mut out = Liveness {
        live: HashSet::new(),
        dead: vec![],
        dead_prefixes: HashSet::new(),
        hosts_unseen: db.hosts_unseen(),
        locks_trusted: db.locks_trusted(),
        stale: vec![],
        lease_dead: vec![],
        lease_closed: vec![],
    };
    if let Some(leases) = &db.leases {
        let view = leases.view(db.proc_id, vfs.now())?;
        for id in view.live {
            out.live.insert(prefix_of(id));
        }
        for (id, token) in view.stale {
            out.live.insert(prefix_of(id));
            out.stale.push((id, token));
        }
        for id in view.dead.iter().chain(&view.closed) {
            out.dead_prefixes.insert(prefix_of(*id));
        }
        out.lease_dead = view.dead;
        out.lease_closed = view.closed;
    }
    if !out.locks_trusted {
        out.live.insert(prefix_of(db.proc_id));
        return Ok(out);
    }
    let me = Layout::proc_lock_name(db.proc_id);
    out.live.insert(prefix_of(db.proc_id));
    // Processes whose OS lock is held here: alive on this host, whatever
    // their lease looks like from here (a stalled heartbeat).
    let mut held = HashSet::new();
    for name in vfs.list_dir(&procs).map_err(|e| Error::io(&procs, e))? {
        if let Some(id) = Layout::parse_proc_dead_marker(&name) {
            // A process found dead earlier whose blobs may remain (a bucket).
            out.dead_prefixes.insert(prefix_of(id));
            continue;
        }
        if name == me || name.len() < 16 || !name.ends_with(".lock") {
            continue;
        }
        let path = procs.join(&name);
        match vfs.try_lock(&path).map_err(|e| Error::io(&path, e))? {
            None => {
                // Held: by its owner, or for a moment by another process's recovery
                // looking at it. Alive for this pass, but in Clustered mode still
                // note whether its lease is missing: otherwise concurrent recoveries,
                // each finding the lock taken by another, would each start timing a
                // dead process only when it finally gets the lock, and none would
                // ever see the lease missing for a whole TTL.
                if db.coord.clustered() {
                    if let Ok(id) = u128::from_str_radix(name.trim_end_matches(".lock"), 16) {
                        db.presumed_dead(id)?;
                    }
                }
                out.live.insert(name[..16].to_string());
                held.insert(name[..16].to_string());
            }
            Some(guard) => {
                if db.coord.clustered() {
                    let Ok(id) = u128::from_str_radix(name.trim_end_matches(".lock"), 16) else {
                        continue;
                    };
                    if !db.presumed_dead(id)? {
                        out.live.insert(name[..16].to_string());
                        continue;
                    }
                }
                // Found dead here, whatever its lease (if any) says yet:
                // recovery marks that lease dead for the other hosts.
                out.live.remove(&name[..16]);
                out.dead_prefixes.insert(name[..16].to_string());
                out.dead.push((path, guard));
            }
        }
    }
    out.stale.retain(|(id, _)| !held.contains(&prefix_of(*id)));
    Ok(out)
}
