//! Exclusive mode: the journal rotation (in the committing thread) against the
//! background write-out of a sealed journal, interleaved on purpose.
//!
//! The race this pins down: a committer sealing a journal takes the spare file
//! and renames `journal-spare.wal` to the next journal's name; the write-out
//! thread, finishing an older sealed journal, renames that one to
//! `journal-spare.wal`. If the write-out's rename lands between the committer's
//! taking the spare and its rename, the committer's file loses its name and every
//! commit it then acknowledges is appended to a file nobody can find again.
//!
//! The simulated file system's hook steers the two threads into exactly that
//! window: the write-out of the first sealed journal is held back until the
//! committer has sealed two journals (so a second one waits for write-out), and
//! the committer's rename of the spare then waits (at most two seconds) for the
//! write-out to rename another journal to the spare's name.

use sop::{Database, DbOptions, StoreOptions, TxMode};
use sop_testkit::{HookOp, SimVfs};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const DB: &str = "/data/db";

#[derive(Default)]
struct Seen {
    /// Journal files the committer created (at rotations while there is no spare).
    journals_created: usize,
    /// Record packs the write-out started.
    packs: usize,
    /// Renames of a written-out journal to the spare's name.
    gave_spare: usize,
    /// The committer is renaming the spare (it has taken it).
    taking_spare: bool,
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

const SPARE: &str = "journal-spare.wal";
const WAIT: Duration = Duration::from_secs(2);

/// 1. The write-out's first pack waits until two rotations sealed two journals
///    (so when it has given the first one the spare's name, a second waits).
/// 2. Its second pack waits until the committer, at the next rotation, has taken
///    the spare and is about to rename it.
/// 3. That rename waits until the write-out has given the second journal the
///    spare's name, or two seconds have passed.
fn hook(seen: Arc<(Mutex<Seen>, Condvar)>) -> sop_testkit::Hook {
    Arc::new(move |op| {
        let (m, cv) = &*seen;
        let writer = std::thread::current().name() == Some("sop-journal");
        let mut s = m.lock().unwrap();
        match op {
            HookOp::CreateNew(p) if !writer && name(p).starts_with("journal-") => {
                s.journals_created += 1;
            }
            HookOp::CreateNew(_) if writer => {
                s.packs += 1;
                if s.packs == 1 {
                    s = cv
                        .wait_timeout_while(s, WAIT, |s| s.journals_created < 2)
                        .unwrap()
                        .0;
                } else if s.packs == 2 {
                    s = cv
                        .wait_timeout_while(s, WAIT, |s| !s.taking_spare)
                        .unwrap()
                        .0;
                }
            }
            HookOp::Rename { to, .. } if name(to) == SPARE => s.gave_spare += 1,
            HookOp::Rename { from, .. } if name(from) == SPARE && !s.taking_spare => {
                s.taking_spare = true;
                let before = s.gave_spare;
                cv.notify_all();
                s = cv
                    .wait_timeout_while(s, WAIT, |s| s.gave_spare == before)
                    .unwrap()
                    .0;
            }
            _ => {}
        }
        drop(s);
        cv.notify_all();
    })
}

fn opts(vfs: &SimVfs) -> DbOptions {
    DbOptions {
        vfs: Some(Arc::new(vfs.clone())),
        exclusive: true,
        journal_bytes: 4 << 10,
        // The background write-out thread runs (it is what races the rotation).
        recovery_interval: Some(Duration::from_secs(3600)),
        ..Default::default()
    }
}

#[test]
fn rotation_never_loses_the_journal_file_to_the_write_out() {
    let vfs = SimVfs::new();
    let seen = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
    let db = Database::open(Path::new(DB), opts(&vfs)).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, String>("s", StoreOptions::default())
        .unwrap();
    tx.commit().unwrap();
    vfs.set_hook(Some(hook(seen.clone())));

    // Commits of about 600 bytes: a 4 KiB journal rotates every few commits. They
    // go on until the interleaving was set up and 20 more commits followed (the
    // write-out thread may get the CPU late on a busy machine).
    let mut acked = Vec::new();
    let mut failure = None;
    let mut set_up_at = None;
    let start = std::time::Instant::now();
    for i in 0..5000u64 {
        if set_up_at.is_none() && seen.0.lock().unwrap().taking_spare {
            set_up_at = Some(i);
        }
        if set_up_at.is_some_and(|at| i >= at + 20) || start.elapsed() > Duration::from_secs(20) {
            break;
        }
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, String>("s").unwrap();
        s.add(&i, &format!("{i:08}").repeat(60)).unwrap();
        match tx.commit() {
            Ok(()) => acked.push(i),
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
    }
    vfs.set_hook(None);
    assert!(set_up_at.is_some(), "the interleaving was never set up");
    let closed = db.close();

    // A clean close leaves an ordinary folder: no journal of any name.
    let left: Vec<String> = vfs
        .file_names_under(Path::new(DB))
        .iter()
        .map(|p| name(p))
        .filter(|n| n.starts_with("journal-"))
        .collect();

    // Power cut after the close: only what was made durable counts.
    let after = vfs.crash_image_strict();
    let db = Database::open(Path::new(DB), opts(&after)).unwrap();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_store::<u64, String>("s").unwrap();
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|i| s.get(i).unwrap().is_none())
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged commits lost (first {:?}); the run ended with {:?}",
        lost.len(),
        &lost[..lost.len().min(8)],
        failure
    );
    assert_eq!(failure, None, "a commit failed");
    closed.unwrap();
    assert!(left.is_empty(), "a clean close left {left:?}");
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}
