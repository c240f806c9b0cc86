//! The model without the kernel: what a cut keeps, and that nothing leaks.

use super::*;

fn n(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Create `name` in `dir` with `data`, optionally fsynced; returns its inode.
fn file(m: &mut Model, dir: Ino, name: &str, data: &[u8], sync: bool) -> Ino {
    let (a, fh) = m.create(dir, n(name), 0o644, libc::O_EXCL, 0, 0).unwrap();
    m.write(fh, 0, data).unwrap();
    if sync {
        m.fsync(fh).unwrap();
    }
    m.release(fh);
    a.ino
}

fn sync_dir(m: &mut Model, dir: Ino) {
    let fh = m.opendir(dir).unwrap();
    m.fsyncdir(fh).unwrap();
    m.release(fh);
}

fn read(m: &mut Model, dir: Ino, name: &str) -> Res<Vec<u8>> {
    let ino = m.lookup(dir, n(name))?.ino;
    let fh = m.open(ino)?;
    let r = m.read(fh, 0, 1 << 20);
    m.release(fh);
    r
}

#[test]
fn a_cut_keeps_synced_data_under_synced_names_only() {
    let mut m = Model::new(1);
    file(&mut m, ROOT, "kept", b"k", true);
    file(&mut m, ROOT, "empty", b"unsynced data", false);
    sync_dir(&mut m, ROOT);
    file(&mut m, ROOT, "nameless", b"n", true);
    m.cut(false);
    assert_eq!(read(&mut m, ROOT, "kept").unwrap(), b"k");
    assert_eq!(read(&mut m, ROOT, "empty").unwrap(), b"");
    assert_eq!(read(&mut m, ROOT, "nameless"), Err(libc::ENOENT));
}

#[test]
fn handles_of_an_earlier_incarnation_fail_with_eio() {
    let mut m = Model::new(1);
    let (_, fh) = m.create(ROOT, n("f"), 0o644, 0, 0, 0).unwrap();
    m.cut(false);
    assert_eq!(m.write(fh, 0, b"x"), Err(libc::EIO));
    assert_eq!(m.fsync(fh), Err(libc::EIO));
    m.release(fh);
    assert_eq!(m.fsync(fh), Err(libc::EBADF));
}

#[test]
fn power_off_refuses_all_but_the_control_file() {
    let mut m = Model::new(1);
    m.power_off();
    assert_eq!(m.lookup(ROOT, n("x")).unwrap_err(), libc::EIO);
    let c = m.lookup(ROOT, n(CONTROL_NAME)).unwrap().ino;
    let fh = m.open(c).unwrap();
    m.write(fh, 0, b"on").unwrap();
    assert!(!m.is_off());
    assert_eq!(m.stats().cuts, 1);
}

#[test]
fn rename_over_a_file_keeps_the_replaced_inode_while_a_durable_name_needs_it() {
    let mut m = Model::new(1);
    file(&mut m, ROOT, "a", b"A", true);
    file(&mut m, ROOT, "b", b"B", true);
    sync_dir(&mut m, ROOT);
    m.rename(ROOT, n("a"), ROOT, n("b"), false).unwrap();
    assert_eq!(read(&mut m, ROOT, "b").unwrap(), b"A");
    m.cut(false);
    assert_eq!(read(&mut m, ROOT, "a").unwrap(), b"A");
    assert_eq!(read(&mut m, ROOT, "b").unwrap(), b"B");
}

#[test]
fn nodes_nothing_refers_to_are_freed() {
    let mut m = Model::new(1);
    let base = m.node_count();
    for i in 0..100 {
        let name = format!("f{i}");
        file(&mut m, ROOT, &name, &[7; 4096], true);
        sync_dir(&mut m, ROOT);
        m.unlink(ROOT, n(&name)).unwrap();
        sync_dir(&mut m, ROOT);
    }
    m.mkdir(ROOT, n("d"), 0o755, 0, 0).unwrap();
    m.rmdir(ROOT, n("d")).unwrap();
    assert_eq!(m.node_count(), base, "unlinked, unsynced-away nodes leak");
    // An open handle keeps an unlinked file until it is released.
    let (a, fh) = m.create(ROOT, n("open"), 0o644, 0, 0, 0).unwrap();
    m.unlink(ROOT, n("open")).unwrap();
    m.write(fh, 0, b"still here").unwrap();
    assert_eq!(m.getattr(a.ino, Some(fh)).unwrap().size, 10);
    m.release(fh);
    assert_eq!(m.node_count(), base);
}

#[test]
fn namespace_errors_are_the_posix_ones() {
    let mut m = Model::new(1);
    let d = m.mkdir(ROOT, n("d"), 0o755, 0, 0).unwrap().ino;
    file(&mut m, d, "f", b"", false);
    assert_eq!(m.rmdir(ROOT, n("d")), Err(libc::ENOTEMPTY));
    assert_eq!(m.unlink(ROOT, n("d")), Err(libc::EISDIR));
    assert_eq!(
        m.create(d, n("f"), 0o644, libc::O_EXCL, 0, 0).unwrap_err(),
        libc::EEXIST
    );
    let f = m.lookup(d, n("f")).unwrap().ino;
    assert_eq!(m.link(f, d, n("f")).unwrap_err(), libc::EEXIST);
    assert_eq!(m.link(d, ROOT, n("dl")).unwrap_err(), libc::EPERM);
    assert_eq!(
        m.rename(ROOT, n("d"), d, n("inside"), false),
        Err(libc::EINVAL)
    );
    assert_eq!(m.rename(d, n("f"), ROOT, n("d"), false), Err(libc::EISDIR));
    assert_eq!(
        m.mkdir(ROOT, n(CONTROL_NAME), 0o755, 0, 0).unwrap_err(),
        libc::EPERM
    );
}
