//! The file system itself, through real system calls on a real mount: what a cut
//! keeps and what it drops. These tests fail (never skip) when FUSE cannot mount.

use sop_cutfs::{CutFs, Mounted};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

fn mount() -> (tempfile::TempDir, Mounted) {
    let dir = tempfile::tempdir().unwrap();
    let m = CutFs::new()
        .mount(dir.path())
        .unwrap_or_else(|e| panic!("FUSE must mount for these tests: {e}"));
    (dir, m)
}

fn sync_dir(p: &Path) {
    File::open(p).unwrap().sync_all().unwrap();
}

fn names(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn synced_data_survives_a_cut_and_unsynced_data_does_not() {
    let (_d, m) = mount();
    let p = m.path().join("f");
    let f = File::create(&p).unwrap();
    f.write_all_at(b"durable", 0).unwrap();
    f.sync_data().unwrap();
    sync_dir(m.path());
    f.write_all_at(b" and lost", 7).unwrap();
    f.write_all_at(b"D", 0).unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"Durable and lost");
    drop(f);
    m.cut();
    assert_eq!(fs::read(&p).unwrap(), b"durable");
}

#[test]
fn a_created_file_whose_directory_was_not_synced_vanishes() {
    let (_d, m) = mount();
    fs::create_dir(m.path().join("sub")).unwrap();
    sync_dir(m.path());
    let p = m.path().join("sub").join("f");
    let mut f = File::create(&p).unwrap();
    f.write_all(b"data").unwrap();
    f.sync_all().unwrap(); // the data, not the name
    drop(f);
    // A directory created and never synced in its parent vanishes with its content.
    fs::create_dir(m.path().join("unsynced")).unwrap();
    fs::write(m.path().join("unsynced").join("g"), b"g").unwrap();
    sync_dir(&m.path().join("unsynced"));
    m.cut();
    assert!(!p.exists(), "the file's name was never made durable");
    assert_eq!(names(&m.path().join("sub")), Vec::<String>::new());
    assert_eq!(names(m.path()), vec!["sub"]);
}

#[test]
fn a_rename_is_durable_only_after_fsyncdir() {
    let (_d, m) = mount();
    let (a, b) = (m.path().join("a"), m.path().join("b"));
    fs::write(&a, b"A").unwrap();
    File::open(&a).unwrap().sync_all().unwrap();
    fs::write(&b, b"B").unwrap();
    File::open(&b).unwrap().sync_all().unwrap();
    sync_dir(m.path());
    fs::rename(&a, &b).unwrap();
    m.cut();
    assert_eq!(fs::read(&a).unwrap(), b"A", "the rename was undone");
    assert_eq!(fs::read(&b).unwrap(), b"B");
    fs::rename(&a, &b).unwrap();
    sync_dir(m.path());
    m.cut();
    assert!(!a.exists());
    assert_eq!(fs::read(&b).unwrap(), b"A", "the synced rename replaced b");
}

#[test]
fn an_unlink_is_undone_without_fsyncdir_and_hard_links_share_one_inode() {
    let (_d, m) = mount();
    let a = m.path().join("a");
    fs::write(&a, b"x").unwrap();
    File::open(&a).unwrap().sync_data().unwrap();
    fs::hard_link(&a, m.path().join("l")).unwrap();
    assert_eq!(fs::metadata(&a).unwrap().nlink(), 2);
    assert_eq!(
        fs::metadata(&a).unwrap().ino(),
        fs::metadata(m.path().join("l")).unwrap().ino()
    );
    sync_dir(m.path());
    fs::remove_file(&a).unwrap();
    assert_eq!(
        fs::hard_link(m.path().join("l"), m.path().join("l"))
            .unwrap_err()
            .kind(),
        ErrorKind::AlreadyExists
    );
    m.cut();
    assert_eq!(
        names(m.path()),
        vec!["a", "l"],
        "the unlink was not durable"
    );
    let (ma, ml) = (
        fs::metadata(&a).unwrap(),
        fs::metadata(m.path().join("l")).unwrap(),
    );
    assert_eq!(
        (ma.ino(), ma.nlink()),
        (ml.ino(), 2),
        "still one inode after the cut"
    );
    // Appending through one name shows through the other.
    OpenOptions::new()
        .append(true)
        .open(&a)
        .unwrap()
        .write_all(b"y")
        .unwrap();
    assert_eq!(fs::read(m.path().join("l")).unwrap(), b"xy");
}

#[test]
fn syncfs_sync_and_close_persist_nothing() {
    let (_d, m) = mount();
    let p = m.path().join("f");
    let mut f = File::create(&p).unwrap();
    f.write_all(b"never fsynced").unwrap();
    // SAFETY: plain system calls on a descriptor `f` owns.
    unsafe {
        assert_eq!(libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&f)), 0);
        libc::sync();
    }
    drop(f);
    sync_dir(m.path()); // the name is durable; the data is not
    m.cut();
    assert_eq!(
        fs::read(&p).unwrap(),
        b"",
        "syncfs/sync/close made data durable"
    );
    assert!(m.stats().cuts == 1);
}

#[test]
fn handles_from_before_a_cut_fail_with_eio_and_flocks_die_with_them() {
    let (_d, m) = mount();
    let p = m.path().join("lock");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&p)
        .unwrap();
    sync_dir(m.path());
    f.try_lock().unwrap();
    let g = File::open(&p).unwrap();
    assert!(
        g.try_lock().is_err(),
        "flock is exclusive across open files"
    );
    drop(g);
    let dir = File::open(m.path()).unwrap();
    m.cut();
    assert_eq!(
        f.write_at(b"x", 0).unwrap_err().raw_os_error(),
        Some(libc::EIO)
    );
    assert_eq!(f.sync_data().unwrap_err().raw_os_error(), Some(libc::EIO));
    assert_eq!(dir.sync_all().unwrap_err().raw_os_error(), Some(libc::EIO));
    let h = File::open(&p).unwrap();
    h.try_lock()
        .expect("a lock held before the cut is gone after it");
}

#[test]
fn power_off_refuses_everything_until_power_on() {
    let (_d, m) = mount();
    let p = m.path().join("f");
    fs::write(&p, b"x").unwrap();
    File::open(&p).unwrap().sync_all().unwrap();
    sync_dir(m.path());
    m.power_off();
    assert_eq!(
        fs::write(m.path().join("g"), b"y")
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EIO)
    );
    assert!(fs::read(&p).is_err());
    m.power_on();
    assert_eq!(fs::read(&p).unwrap(), b"x");
    assert_eq!(names(m.path()), vec!["f"]);
}

#[test]
fn the_control_file_cuts_from_any_process() {
    let (_d, m) = mount();
    fs::write(m.path().join("f"), b"x").unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("echo cut > '{}/.cutfs'", m.path().display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(m.stats().cuts, 1);
    assert_eq!(
        names(m.path()),
        Vec::<String>::new(),
        "the control file is hidden"
    );
    let status = fs::read_to_string(m.path().join(".cutfs")).unwrap();
    assert!(status.starts_with("incarnation 1\n"), "{status}");
}

#[test]
fn keep_unsynced_appends_keeps_a_prefix_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let m = CutFs::new()
        .keep_unsynced_appends(true)
        .seed(7)
        .mount(dir.path())
        .unwrap();
    let mut lens = std::collections::BTreeSet::new();
    for i in 0..20u8 {
        let p = m.path().join(format!("f{i}"));
        let f = File::create(&p).unwrap();
        f.write_all_at(b"0123", 0).unwrap();
        f.sync_data().unwrap();
        sync_dir(m.path());
        let tail: Vec<u8> = (0..64).map(|j| i.wrapping_add(j)).collect();
        f.write_all_at(&tail, 4).unwrap();
        drop(f);
        m.cut();
        let got = fs::read(&p).unwrap();
        assert!(got.len() >= 4 && got[..4] == *b"0123");
        assert_eq!(
            got[4..],
            tail[..got.len() - 4],
            "a prefix of the appends, nothing else"
        );
        lens.insert(got.len());
    }
    assert!(
        lens.contains(&4) && lens.len() > 2,
        "some kept, some dropped: {lens:?}"
    );
}
