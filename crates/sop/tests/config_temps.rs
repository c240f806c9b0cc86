//! The temporary files `sop.json` is written through (`sop.json.<uuid>.tmp`): a
//! power cut during creation must not leave one forever, and cleaning them up
//! must never remove one a concurrent writer is about to link or rename.

use sop::Vfs;
use sop::{Coordination, Database, DbOptions};
use sop_testkit::{Fault, SimVfs};
use std::path::Path;
use std::sync::Arc;

fn opts(vfs: &SimVfs) -> DbOptions {
    DbOptions {
        vfs: Some(Arc::new(vfs.clone())),
        recovery_interval: None,
        ..Default::default()
    }
}

fn temps(vfs: &dyn Vfs, dir: &Path) -> Vec<String> {
    vfs.list_dir(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with("sop.json.") && n.ends_with(".tmp"))
        .collect()
}

/// A cut at every step of creating a database; whatever the cut left, the next
/// open removes a leftover temp, and `check` before it calls it garbage.
#[test]
fn a_cut_during_creation_leaves_no_temp_behind() {
    let mut left = 0;
    for n in 1.. {
        let vfs = SimVfs::new();
        vfs.set_fault(Fault::PowerCutAt(n));
        if Database::open("/db", opts(&vfs)).is_ok() {
            break;
        }
        for seed in 0..8 {
            let img = vfs.crash_image(seed * 7919 + n);
            if temps(&img, Path::new("/db")).is_empty() {
                continue;
            }
            left += 1;
            if img.exists(Path::new("/db/sop.json")).unwrap() {
                let o = DbOptions {
                    recover_on_open: false,
                    ..opts(&img)
                };
                let r = Database::open("/db", o).unwrap().check().unwrap();
                assert!(r.is_ok(), "cut at op {n}: {:?}", r.problems);
                assert!(
                    r.garbage.iter().any(|g| g.contains("sop.json.")),
                    "cut at op {n}: check notes the temp: {:?}",
                    r.garbage
                );
            }
            drop(Database::open("/db", opts(&img)).unwrap());
            assert_eq!(
                temps(&img, Path::new("/db")),
                Vec::<String>::new(),
                "cut at op {n}, seed {seed}: the next open removes the temp"
            );
        }
    }
    assert!(left > 0, "some cut left a temp (the test tests something)");
}

/// A temp whose writer is at work (it holds `open.lock`) is left alone.
#[test]
fn a_temp_being_written_is_not_removed() {
    let vfs = SimVfs::new();
    let db = Database::open("/db", opts(&vfs)).unwrap();
    let writing = vfs.try_lock(Path::new("/db/open.lock")).unwrap().unwrap();
    let tmp = Path::new("/db/sop.json.0123456789abcdef0123456789abcdef.tmp");
    let f = vfs.create_new(tmp).unwrap();
    f.append(b"{}").unwrap();
    db.recover().unwrap();
    assert!(vfs.exists(tmp).unwrap(), "a live writer's temp stays");
    drop(writing);
    db.recover().unwrap();
    assert!(!vfs.exists(tmp).unwrap(), "an abandoned temp goes");
}

/// Real threads: `set_coordination` (a rename of a temp over `sop.json`) never
/// fails while other handles open the folder and recover.
#[test]
fn set_coordination_races_cleanup_without_failing() {
    let dir = tempfile::tempdir().unwrap();
    let o = DbOptions {
        recovery_interval: None,
        ..Default::default()
    };
    drop(Database::open(dir.path(), o.clone()).unwrap());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cleaners: Vec<_> = (0..2)
        .map(|_| {
            let (p, o, stop) = (dir.path().to_path_buf(), o.clone(), stop.clone());
            std::thread::spawn(move || {
                let db = Database::open(&p, o).unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    db.recover().unwrap();
                }
            })
        })
        .collect();
    for i in 0..400 {
        Database::set_coordination(dir.path(), Coordination::Standalone)
            .unwrap_or_else(|e| panic!("set_coordination {i}: {e}"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in cleaners {
        c.join().unwrap();
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}
