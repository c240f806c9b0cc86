//! Recovery. Safe to run at any time, from any number of processes at once, and
//! again after a crash during itself: every step is idempotent.
//!
//! - Nothing in the log needs repair: a record is linked only behind durable
//!   records, so a power cut loses at most a suffix of commits that never
//!   returned Ok, and a linked record is a complete commit (rolled forward by
//!   every reader). A gap is damage, reported by `open` and `check`.
//! - A process is dead when its `procs/<id>.lock` file lock can be taken. Its
//!   temporary record files are deleted (they were never linked, so never
//!   committed), and so are its big-value blobs that no live item references
//!   (released by a commit, or written by a transaction that never committed),
//!   once `DbOptions::blob_grace` has passed (the rule: `engine/blobs.rs`).

use crate::engine::for_each_value;
use crate::engine::{liveness, prefix_of, unreferenced, DbInner, Unreferenced};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::options::ValuePlacement;
use std::collections::HashSet;
use std::io;

/// What a recovery pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Processes found dead.
    pub dead_processes: usize,
    /// Temporary record files of dead processes, and temporary configuration
    /// files a crash left, deleted.
    pub removed_temp_files: usize,
    /// Big-value blobs of dead processes that no item refers to, deleted.
    pub removed_blobs: usize,
}

/// Run recovery now.
pub(crate) fn recover(db: &DbInner) -> Result<RecoveryReport> {
    db.check_writable()?;
    let vfs = &*db.vfs;
    let mut report = RecoveryReport::default();
    // List what may be garbage before deciding who is alive: a process that
    // starts later cannot own anything listed here.
    let tmp = db.layout.tmp();
    let tmp_names = vfs.list_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let blob_names = db.blobs.list()?;
    let blob_prefixes: HashSet<String> = blob_names
        .iter()
        .filter(|b| b.name.len() >= 16)
        .map(|b| b.name[..16].to_string())
        .collect();
    // The log's leftovers (claim files) are judged up to a head read before the
    // liveness check: a process that starts later claims only beyond it.
    let log_head = db.catch_up()?.seq;
    let mut life = liveness(db)?;
    report.dead_processes = life.dead.len();
    let lock_dead: Vec<u128> = life
        .dead
        .iter()
        .filter_map(|(p, _)| {
            p.file_name()?
                .to_str()
                .and_then(Layout::parse_proc_lock_name)
        })
        .collect();
    let mut fence = Vec::new();
    if db.coord.clustered() {
        fence.extend(&lock_dead);
    }
    if let Some(leases) = &db.leases {
        // A lease this host saw unchanged for the lease time is marked dead,
        // conditionally on what was seen (a renewal racing this wins or
        // loses as a whole); one whose OS lock is free here is dead for sure.
        for (id, token) in std::mem::take(&mut life.stale) {
            if leases.seam.mark_dead(id, Some(&token))? {
                tracing::info!(process = %format!("{id:032x}"), leases = %leases.seam.place(), "lease not renewed in time: marked dead");
                report.dead_processes += 1;
                life.mark_dead(id);
            }
        }
        for id in &lock_dead {
            leases.seam.mark_dead(*id, None)?;
        }
        // Every process whose lease is dead is fenced off (once): a recoverer
        // that marked it and then crashed left that to the next one.
        fence.extend(&life.lease_dead);
    }
    if !fence.is_empty() {
        let aborted = &db.catch_up()?.aborted;
        fence.retain(|id| !aborted.contains(id));
        fence.sort_unstable();
        fence.dedup();
    }
    if !fence.is_empty() {
        // Fence the dead off first: after this record, nothing of theirs can
        // commit, so what they left can be deleted safely.
        super::fencing::append_aborts(db, &fence)?;
    }
    // `sop.json` temps a crash left (their writers hold open.lock).
    report.removed_temp_files += db.remove_abandoned_config_temps()?;
    let dead = |name: &str| name.len() >= 16 && life.gone(&name[..16]);
    for name in tmp_names.iter().filter(|n| dead(n)) {
        remove_if_present(vfs, &tmp.join(name))?;
        report.removed_temp_files += 1;
    }
    report.removed_temp_files += db.commits.tidy(log_head, &|p| life.gone(&prefix_of(p)))?;
    let candidates: Vec<_> = blob_names
        .into_iter()
        .filter(|b| unreferenced(&b.name, &life) == Unreferenced::Garbage)
        .collect();
    // The dead processes' lock files go now: holding their locks would make
    // them look alive to the grace rule's fresh look below. Their blobs stay
    // garbage without them (one rule: engine/blobs.rs).
    for (path, guard) in life.dead {
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(Layout::parse_proc_lock_name);
        if let (true, Some(id)) = (life.hosts_unseen, id) {
            // Keep it known dead while its blobs remain: without the marker
            // its blobs would look like those of another host's process.
            let marker = db.layout.proc_dead_marker(id);
            if let Err(e) = vfs.create_new(&marker) {
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return Err(Error::io(&marker, e));
                }
            }
        }
        remove_if_present(vfs, &path)?;
        drop(guard);
    }
    // An open transaction of ours may read an older snapshot that still points
    // at some of them: leave them for a later pass.
    let head = db.catch_up()?.seq;
    let busy = db.oldest_snapshot().is_some_and(|s| s < head);
    // "Referenced" is judged by the head: make it durable first, or a power
    // cut could bring back an older state that still points at what we delete.
    db.make_durable(head)?;
    if !candidates.is_empty() && !busy {
        let referenced = referenced_blobs(db)?;
        let garbage = candidates
            .into_iter()
            .filter(|b| !referenced.contains(&(b.store.clone(), b.name.clone())))
            .map(|b| b.location)
            .collect();
        // Other processes' snapshots may still read them: the grace period.
        for path in db.past_grace(garbage) {
            db.blobs.remove(&path)?;
            report.removed_blobs += 1;
        }
    }
    // Leases of dead processes none of whose blobs was listed at the start
    // (nothing of theirs can appear later) are done with; so is the lock file
    // a process judged by its lease left in `procs/`.
    if let (Some(leases), false) = (&db.leases, busy) {
        for id in life.lease_dead.iter().chain(&life.lease_closed) {
            if !blob_prefixes.contains(&prefix_of(*id)) {
                leases.seam.forget(*id)?;
            }
            if !life.locks_trusted {
                let lock = db.layout.proc_lock(*id);
                if let Ok(Some(_g)) = vfs.try_lock(&lock) {
                    remove_if_present(vfs, &lock)?;
                }
            }
        }
    }
    // Markers of dead processes none of whose blobs was listed at the start
    // (nothing of theirs can appear later) are done with.
    if life.hosts_unseen && !busy {
        let procs = db.layout.procs();
        let left: HashSet<&str> = blob_prefixes.iter().map(String::as_str).collect();
        for name in vfs.list_dir(&procs).map_err(|e| Error::io(&procs, e))? {
            let Some(id) = Layout::parse_proc_dead_marker(&name) else {
                continue;
            };
            if !left.contains(prefix_of(id).as_str()) {
                remove_if_present(vfs, &procs.join(&name))?;
            }
        }
    }
    Ok(report)
}

/// (store dir name, blob file name) of every big value referenced by the newest state.
pub(crate) fn referenced_blobs(db: &DbInner) -> Result<HashSet<(String, String)>> {
    let head = db.catch_up()?;
    let mut live = HashSet::new();
    for st in head.stores.values() {
        if st.info.options.values != ValuePlacement::Big {
            continue;
        }
        for_each_value(db, st, |v| {
            for blob in v.big_blobs().into_iter().flat_map(|b| b.iter()) {
                live.insert((format!("{:016x}", st.info.id), format!("{blob:032x}")));
            }
        })?;
    }
    Ok(live)
}

fn remove_if_present(vfs: &dyn crate::io::Vfs, path: &std::path::Path) -> Result<()> {
    match vfs.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}
