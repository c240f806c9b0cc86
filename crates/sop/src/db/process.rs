//! This process among others: its lock file, lease heartbeat, periodic recovery,
//! and fencing of processes presumed dead.

use super::*;
use crate::txn::commit::Published;

/// Run recovery every `every` while the database is open (the thread holds only a
/// weak reference and ends when the database is dropped).
pub(super) fn spawn_recovery(weak: std::sync::Weak<DbInner>, every: Duration) {
    let _ = std::thread::Builder::new()
        .name("sop-recovery".into())
        .spawn(move || {
            let step = Duration::from_millis(100).min(every);
            let mut waited = Duration::ZERO;
            loop {
                std::thread::sleep(step);
                waited += step;
                if waited < every {
                    if weak.strong_count() == 0 {
                        return;
                    }
                    continue;
                }
                waited = Duration::ZERO;
                let Some(inner) = weak.upgrade() else { return };
                if inner.is_closed() {
                    return;
                }
                let db = Database::background(inner);
                if let Err(e) = db.recover() {
                    tracing::warn!(error = %e, "periodic recovery failed");
                }
                db.inner.collect_trash();
                if db.inner.opts.auto_reclaim {
                    let o = super::compact::CompactOptions {
                        write_out_journal: false,
                        ..Default::default()
                    };
                    if let Err(e) = db.compact_with(&o) {
                        tracing::warn!(error = %e, "periodic compaction failed");
                    }
                }
            }
        });
}

/// Renew this process's lease every third of its TTL while the database is open.
pub(super) fn spawn_heartbeat(weak: std::sync::Weak<DbInner>, ttl: Duration) {
    let _ = std::thread::Builder::new()
        .name("sop-lease".into())
        .spawn(move || {
            let every = (ttl / 3).max(Duration::from_millis(10));
            let step = Duration::from_millis(20).min(every);
            let mut waited = Duration::ZERO;
            loop {
                std::thread::sleep(step);
                waited += step;
                let Some(inner) = weak.upgrade() else { return };
                if inner.is_closed() {
                    return;
                }
                if waited < every {
                    continue;
                }
                waited = Duration::ZERO;
                if let Err(e) = inner.coord.lease(inner.proc_id, ttl) {
                    tracing::warn!(error = %e, "could not renew the process lease");
                }
            }
        });
}

/// Create and lock this process's `procs/<id>.lock`. Creating the file and locking
/// it are two steps: in between, a concurrent recovery (another process opening
/// the folder) can take the lock, judge this process dead and delete the file.
/// Then the lock is held by the recovery (WouldBlock here) or on a deleted file;
/// either way, try again with a fresh id.
pub(super) fn take_process_lock(vfs: &dyn Vfs, path: &Path) -> Result<(u128, Box<dyn VLock>)> {
    let mut attempt = 0;
    loop {
        let proc_id = uuid::Uuid::new_v4().as_u128();
        let lock_path = path.join("procs").join(format!("{proc_id:032x}.lock"));
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
    /// Clustered mode: a process is presumed dead once its lease has been missing
    /// for longer than the lease TTL, as seen by this process.
    pub fn presumed_dead(&self, proc_id: u128) -> Result<bool> {
        if self.coord.is_alive(proc_id)? {
            self.suspects.lock().remove(&proc_id);
            return Ok(false);
        }
        let now = std::time::Instant::now();
        let first = *self.suspects.lock().entry(proc_id).or_insert(now);
        Ok(now.duration_since(first) > self.opts.lease_ttl)
    }

    /// Link a record declaring processes dead (fencing). Idempotent.
    pub fn append_aborts(&self, procs: &[u128]) -> Result<()> {
        let rec = Record {
            txn: uuid::Uuid::now_v7().as_u128(),
            aborts: procs.to_vec(),
            ..Default::default()
        };
        let written = RecordWriter::create(self)?.finish(&rec)?;
        let deadline = Instant::now() + self.opts.max_commit_time;
        let linked = crate::txn::commit::publish(
            self,
            &written,
            &rec,
            &mut |head| !procs.iter().all(|p| head.aborted.contains(p)),
            deadline,
            self.opts.max_commit_time,
        );
        written.discard(&*self.vfs);
        if let Published::At(seq) = linked? {
            crate::txn::commit::make_published_durable(self, seq, rec.txn)?;
            self.coord.publish_head(seq);
        }
        Ok(())
    }
}
