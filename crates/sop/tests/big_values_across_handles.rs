//! Big values (`ValuePlacement::Big`, one file each) read by one handle while
//! another handle on the same folder replaces them. Two `Database` handles on one
//! folder are two processes as far as the engine knows (each has its own process
//! id, lock file, snapshots and garbage queue); `snapshot_across_processes` runs
//! the writer in a real second OS process.
//!
//! The promise: a reader in any process either reads the value its snapshot has,
//! or gets the retryable `SnapshotTooOld`; never `Corrupt` on a healthy database.
//! A released blob is deleted only `DbOptions::blob_grace` after the commit that
//! released it, so a reader younger than that always reads its value.

use sop::{Database, DbOptions, Error, StoreOptions, TxMode, ValuePlacement};
use std::path::Path;
use std::time::Duration;

const MODES: [TxMode; 3] = [TxMode::NoCheck, TxMode::ForReading, TxMode::ForWriting];

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

fn no_grace() -> DbOptions {
    DbOptions {
        blob_grace: Duration::ZERO,
        ..opts()
    }
}

fn big() -> StoreOptions {
    StoreOptions {
        slot_length: 8,
        values: ValuePlacement::Big,
        ..Default::default()
    }
}

fn v(n: u8) -> Vec<u8> {
    vec![n; 1000]
}

fn put(db: &Database, k: u64, val: &[u8]) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_or_create_store::<u64, Vec<u8>>("s", big()).unwrap();
    s.upsert(&k, &val.to_vec()).unwrap();
    tx.commit().unwrap();
}

fn blob_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for s in std::fs::read_dir(dir.join("blobs")).unwrap() {
        for b in std::fs::read_dir(s.unwrap().path()).unwrap() {
            out.push(b.unwrap().path());
        }
    }
    out
}

/// What `reader` finds under key 1.
fn read1(reader: &sop::Transaction) -> sop::Result<Option<Vec<u8>>> {
    reader.open_store::<u64, Vec<u8>>("s")?.get(&1)
}

/// A replaces the value B's open transaction reads; B still reads the old one
/// (the blob is kept for `blob_grace`), in every mode.
#[test]
fn a_reader_in_another_handle_reads_a_replaced_big_value() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let a = Database::open(dir.path(), opts()).unwrap();
        put(&a, 1, &v(1));
        let b = Database::open(dir.path(), opts()).unwrap();
        let reader = b.begin(mode).unwrap();
        put(&a, 1, &v(2));
        match read1(&reader) {
            Ok(got) => assert_eq!(got, Some(v(1)), "{mode:?}: the snapshot's value"),
            Err(e) => panic!("{mode:?}: a young snapshot must read its value: {e}"),
        }
        drop(reader);
        let now = b.begin(TxMode::NoCheck).unwrap();
        assert_eq!(
            read1(&now).unwrap(),
            Some(v(2)),
            "{mode:?}: the newest value"
        );
    }
}

/// Without a grace period the blob goes at once: the reader gets the retryable
/// `SnapshotTooOld`, never `Corrupt`, and a retry reads the new value.
#[test]
fn a_collected_blob_is_snapshot_too_old_not_corrupt() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let a = Database::open(dir.path(), no_grace()).unwrap();
        put(&a, 1, &v(1));
        let b = Database::open(dir.path(), no_grace()).unwrap();
        let reader = b.begin(mode).unwrap();
        put(&a, 1, &v(2));
        assert_eq!(blob_files(dir.path()).len(), 1, "the old blob is gone");
        match read1(&reader) {
            Ok(got) => panic!("{mode:?}: read {got:?} from a deleted blob"),
            Err(Error::SnapshotTooOld(_)) => {}
            Err(e) => panic!("{mode:?}: expected SnapshotTooOld, got {e}"),
        }
        drop(reader);
        let retry = b.begin(mode).unwrap();
        assert_eq!(read1(&retry).unwrap(), Some(v(2)), "{mode:?}: the retry");
    }
}

/// A store dropped after the snapshot releases its whole blob folder: also
/// `SnapshotTooOld`.
#[test]
fn a_dropped_stores_blobs_are_snapshot_too_old_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let a = Database::open(dir.path(), no_grace()).unwrap();
    put(&a, 1, &v(1));
    let b = Database::open(dir.path(), no_grace()).unwrap();
    let reader = b.begin(TxMode::NoCheck).unwrap();
    let tx = a.begin(TxMode::ForWriting).unwrap();
    tx.drop_store("s").unwrap();
    tx.commit().unwrap();
    assert!(
        blob_files(dir.path()).is_empty(),
        "the store's blobs are gone"
    );
    match read1(&reader) {
        Err(Error::SnapshotTooOld(_)) => {}
        r => panic!("expected SnapshotTooOld, got {r:?}"),
    }
}

/// Recovery in a third handle does not collect a released blob a younger
/// snapshot still reads, though its creator is gone.
#[test]
fn recovery_elsewhere_keeps_a_blob_a_young_snapshot_reads() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let a = Database::open(dir.path(), opts()).unwrap();
        put(&a, 1, &v(1));
        drop(a); // the blob's creator is gone
        let b = Database::open(dir.path(), opts()).unwrap();
        let reader = b.begin(mode).unwrap();
        // C replaces the value while a snapshot of its own keeps its garbage queued.
        let c = Database::open(dir.path(), opts()).unwrap();
        let c_reader = c.begin(TxMode::NoCheck).unwrap();
        put(&c, 1, &v(2));
        // D opens (recovery on open) and recovers again.
        let d = Database::open(dir.path(), opts()).unwrap();
        d.recover().unwrap();
        assert_eq!(blob_files(dir.path()).len(), 2, "{mode:?}: both blobs kept");
        match read1(&reader) {
            Ok(got) => assert_eq!(got, Some(v(1)), "{mode:?}"),
            Err(e) => panic!("{mode:?}: a young snapshot must read its value: {e}"),
        }
        drop(c_reader);
    }
}

/// The same with no grace: recovery collects the blob, the reader gets
/// `SnapshotTooOld`.
#[test]
fn recovery_elsewhere_without_grace_is_snapshot_too_old() {
    let dir = tempfile::tempdir().unwrap();
    let a = Database::open(dir.path(), no_grace()).unwrap();
    put(&a, 1, &v(1));
    drop(a);
    let b = Database::open(dir.path(), no_grace()).unwrap();
    let reader = b.begin(TxMode::NoCheck).unwrap();
    let c = Database::open(dir.path(), no_grace()).unwrap();
    let c_reader = c.begin(TxMode::NoCheck).unwrap();
    put(&c, 1, &v(2));
    let d = Database::open(dir.path(), no_grace()).unwrap();
    d.recover().unwrap();
    assert_eq!(
        blob_files(dir.path()).len(),
        1,
        "recovery took the old blob"
    );
    match read1(&reader) {
        Err(Error::SnapshotTooOld(_)) => {}
        r => panic!("expected SnapshotTooOld, got {r:?}"),
    }
    drop(c_reader);
}

/// A blob that no commit released is damage: `Corrupt`, even when the reader's
/// process knows newer commits.
#[test]
fn a_blob_missing_without_a_release_is_corrupt() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let a = Database::open(dir.path(), opts()).unwrap();
        put(&a, 1, &v(1));
        let b = Database::open(dir.path(), opts()).unwrap();
        let reader = b.begin(mode).unwrap();
        put(&a, 2, &v(2)); // a later commit that releases nothing
        drop(b.begin(TxMode::NoCheck).unwrap()); // B catches up past it
        let blobs = blob_files(dir.path());
        let first = blobs
            .iter()
            .find(|p| std::fs::read(p).unwrap().ends_with(&v(1)))
            .unwrap();
        std::fs::remove_file(first).unwrap();
        match read1(&reader) {
            Err(Error::Corrupt { .. }) => {}
            r => panic!("{mode:?}: expected Corrupt, got {r:?}"),
        }
    }
}

// ---- check and recovery agree on garbage (simulated file system) -------------

/// A commit releases a big-value blob and its process unlinks it without syncing
/// `blobs/<store>/`; a power cut undoes the unlink. The blob's writer (another
/// process) closed cleanly, so its lock file is gone. `check` (no recovery on
/// open, as `sop check` runs) must call the blob garbage, not a fault, and
/// recovery must remove it.
#[test]
fn check_calls_a_resurrected_released_blob_garbage() {
    use sop_testkit::SimVfs;
    use std::sync::Arc;
    let vfs = SimVfs::new();
    let o = |recover_on_open| DbOptions {
        vfs: Some(Arc::new(vfs.clone())),
        recover_on_open,
        ..opts()
    };
    let a = Database::open("/db", o(true)).unwrap();
    put(&a, 1, &v(1));
    drop(a);
    let b = Database::open("/db", o(true)).unwrap();
    put(&b, 1, &v(2));
    let blobs = |vfs: &SimVfs| vfs.file_names_under(Path::new("/db/blobs")).len();
    assert_eq!(blobs(&vfs), 1, "B unlinked the released blob");
    let img = vfs.crash_image_strict();
    drop(b); // on the old file system: the image is what the cut left
    assert_eq!(blobs(&img), 2, "the cut undid the unlink");
    let o = |recover_on_open| DbOptions {
        vfs: Some(Arc::new(img.clone())),
        recover_on_open,
        ..opts()
    };
    let report = Database::open("/db", o(false)).unwrap().check().unwrap();
    assert!(report.is_ok(), "faults: {:?}", report.problems);
    assert_eq!(report.garbage.len(), 1, "garbage: {:?}", report.garbage);
    let db = Database::open("/db", o(true)).unwrap();
    assert_eq!(blobs(&img), 1, "recovery removed it");
    let tx = db.begin(TxMode::NoCheck).unwrap();
    assert_eq!(read1(&tx).unwrap(), Some(v(2)));
    let report = db.check().unwrap();
    assert!(report.is_ok() && report.garbage.is_empty(), "{report:?}");
}

// ---- a real second process -----------------------------------------------------

const CHILD_DIR: &str = "SOP_BLOB_CHILD_DIR";
const CHILD_NO_GRACE: &str = "SOP_BLOB_CHILD_NO_GRACE";

/// The child: replace the value of key 1 (with the byte given), then close.
#[test]
fn blob_child_entry() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let o = if std::env::var(CHILD_NO_GRACE).is_ok() {
        no_grace()
    } else {
        opts()
    };
    let db = Database::open(&dir, o).unwrap();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let n = read1(&tx).unwrap().unwrap()[0] + 1;
    drop(tx);
    put(&db, 1, &v(n));
}

fn run_child(dir: &Path, no_grace: bool) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    if no_grace {
        cmd.env(CHILD_NO_GRACE, "1");
    }
    let out = cmd
        .args(["--exact", "blob_child_entry", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "child: {out:?}");
}

/// Another OS process replaces (and closes, taking its garbage with it as far as
/// the grace allows) the value this process's open transactions read.
#[test]
fn snapshot_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    put(&db, 1, &v(1));
    for mode in MODES {
        let reader = db.begin(mode).unwrap();
        let before = read1(&db.begin(TxMode::NoCheck).unwrap()).unwrap().unwrap();
        run_child(dir.path(), false);
        match read1(&reader) {
            Ok(got) => assert_eq!(got, Some(before), "{mode:?}"),
            Err(e) => panic!("{mode:?}: a young snapshot must read its value: {e}"),
        }
    }
    let reader = db.begin(TxMode::NoCheck).unwrap();
    run_child(dir.path(), true);
    match read1(&reader) {
        Err(Error::SnapshotTooOld(_)) => {}
        r => panic!("without grace: expected SnapshotTooOld, got {r:?}"),
    }
    drop(reader);
    let now = db.begin(TxMode::NoCheck).unwrap();
    assert_eq!(
        read1(&now).unwrap(),
        Some(v(5)),
        "four children replaced it"
    );
    assert!(db.check().unwrap().is_ok());
}

// ---- under load ----------------------------------------------------------------

/// Two writer handles replace big values while a third reads them in every mode,
/// for a second: no read is ever `Corrupt`, and with the default grace none is
/// even `SnapshotTooOld`. (The audit's version, in processes: 696 of 958 reader
/// transactions failed in 15 s.)
#[test]
fn readers_never_see_corrupt_under_replacing_writers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let setup = Database::open(dir.path(), opts()).unwrap();
    for k in 0..8 {
        put(&setup, k, &v(0));
    }
    drop(setup);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (p, stop) = (dir.path().to_path_buf(), stop.clone());
            std::thread::spawn(move || {
                let db = Database::open(&p, opts()).unwrap();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let tx = db.begin(TxMode::ForWriting).unwrap();
                    let s = tx.open_store::<u64, Vec<u8>>("s").unwrap();
                    s.upsert(&((i * 2 + w) % 8), &v((i % 200) as u8 + 1))
                        .unwrap();
                    match tx.commit() {
                        Ok(()) => {}
                        Err(e) if e.is_conflict() => {}
                        Err(e) => panic!("writer {w}: {e}"),
                    }
                    i += 1;
                }
            })
        })
        .collect();
    let reader = Database::open(dir.path(), opts()).unwrap();
    let (mut txns, mut too_old) = (0, 0);
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        let mode = MODES[txns % 3];
        txns += 1;
        let tx = reader.begin(mode).unwrap();
        let s = tx.open_store::<u64, Vec<u8>>("s").unwrap();
        for k in 0..8 {
            match s.get(&k) {
                Ok(got) => assert_eq!(got.map(|b| b.len()), Some(1000)),
                Err(Error::SnapshotTooOld(_)) => too_old += 1,
                Err(e) => panic!("{mode:?} read {k}: {e}"),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(too_old, 0, "SnapshotTooOld within the grace ({txns} txns)");
    assert!(reader.check().unwrap().is_ok());
}
