//! `sop blob put` and `sop blob get` end to end: round trips through files and
//! pipes, byte ranges, replacing a value frees its chunks, clear errors (a
//! store that is not a byte store with big values, a missing key, a bad
//! range), and the memory promise: a 2 GiB value written from a pipe and read
//! back to a pipe with each process's peak resident memory (`VmHWM`) under
//! 64 MiB (`SOP_BLOB_TEST_BYTES` sets the size; 2 GiB by default).

use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod support;
use support::{exits, ok_bytes, text, SOP};

/// `len` bytes from a xorshift generator seeded with `seed`: no two chunks alike.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    Gen(seed | 1).fill(&mut out);
    out
}

struct Gen(u64);

impl Gen {
    fn fill(&mut self, buf: &mut [u8]) {
        for w in buf.chunks_mut(8) {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            w.copy_from_slice(&x.to_le_bytes()[..w.len()]);
        }
    }
}

fn blob_files(db: &Path) -> usize {
    let mut n = 0;
    for s in std::fs::read_dir(db.join("blobs")).unwrap() {
        n += std::fs::read_dir(s.unwrap().path()).unwrap().count();
    }
    n
}

fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok_bytes(&db, &["init"], None);
    ok_bytes(
        &db,
        &["store", "create", "media", "--bytes", "--values", "big"],
        None,
    );
    (dir, db)
}

#[test]
fn put_and_get_through_files_pipes_and_ranges() {
    let (dir, db) = fixture();
    let value = bytes(20_000_003, 1); // two 8 MiB chunks and a short one
    let input = dir.path().join("in.bin");
    std::fs::write(&input, &value).unwrap();
    let out = text(&ok_bytes(
        &db,
        &["blob", "put", "media", "clip", input.to_str().unwrap()],
        None,
    ));
    assert!(out.contains("inserted 20000003 bytes"), "{out}");
    assert_eq!(blob_files(&db), 3);

    let back = dir.path().join("out.bin");
    ok_bytes(
        &db,
        &["blob", "get", "media", "clip", back.to_str().unwrap()],
        None,
    );
    assert!(std::fs::read(&back).unwrap() == value, "file round trip");
    assert!(ok_bytes(&db, &["blob", "get", "media", "clip"], None) == value);
    assert!(ok_bytes(&db, &["blob", "get", "media", "clip", "-"], None) == value);

    // Ranges: both ends included; A- to the end; across chunk boundaries.
    let c = 8 << 20;
    for (arg, from, to) in [
        ("0-0".to_string(), 0, 1),
        ("10-19".to_string(), 10, 20),
        (format!("{}-{}", c - 5, c + 4), c - 5, c + 5),
        (format!("{}-", 2 * c - 1), 2 * c - 1, value.len()),
        (format!("0-{}", value.len() - 1), 0, value.len()),
        (format!("{}-", value.len()), value.len(), value.len()),
    ] {
        let got = ok_bytes(
            &db,
            &["blob", "get", "media", "clip", "--range", &arg],
            None,
        );
        assert!(got == value[from..to], "--range {arg}");
    }

    // Replaced from a pipe: the old chunks go, the new value reads back.
    let other = bytes(9 << 20, 2);
    let out: Value = serde_json::from_slice(&ok_bytes(
        &db,
        &["--json", "blob", "put", "media", "clip", "-"],
        Some(&other),
    ))
    .unwrap();
    assert_eq!(out["bytes"], 9 << 20);
    assert_eq!(out["inserted"], false);
    assert_eq!(blob_files(&db), 2);
    assert!(ok_bytes(&db, &["blob", "get", "media", "clip"], None) == other);
    // An empty value.
    ok_bytes(&db, &["blob", "put", "media", "empty", "-"], Some(b""));
    assert!(ok_bytes(&db, &["blob", "get", "media", "empty"], None).is_empty());
    let out: Value = serde_json::from_slice(&ok_bytes(
        &db,
        &[
            "--json",
            "blob",
            "get",
            "media",
            "empty",
            back.to_str().unwrap(),
        ],
        None,
    ))
    .unwrap();
    assert_eq!(out["bytes"], 0);
    assert_eq!(std::fs::metadata(&back).unwrap().len(), 0);
    let check = text(&ok_bytes(&db, &["check"], None));
    assert!(check.contains("ok: no faults"), "{check}");
    let list = text(&ok_bytes(&db, &["store", "list"], None));
    assert!(list.contains("media\t2 items\tbytes, values big"), "{list}");
}

#[test]
fn errors_are_clear_and_change_nothing() {
    let (dir, db) = fixture();
    ok_bytes(&db, &["store", "create", "docs"], None);
    ok_bytes(&db, &["store", "create", "small", "--bytes"], None);
    ok_bytes(&db, &["blob", "put", "media", "k", "-"], Some(b"hello"));
    let input = dir.path().join("in.bin");
    std::fs::write(&input, b"data").unwrap();
    let f = input.to_str().unwrap();

    exits(
        &db,
        &["blob", "put", "nostore", "k", f],
        1,
        "does not exist",
    );
    exits(
        &db,
        &["blob", "put", "docs", "k", f],
        1,
        "store docs is a JSON store",
    );
    exits(
        &db,
        &["blob", "get", "docs", "k"],
        1,
        "sop store create NAME --bytes --values big",
    );
    exits(
        &db,
        &["blob", "put", "small", "k", f],
        1,
        "store small keeps its values auto; sop blob put needs big values",
    );
    exits(
        &db,
        &["blob", "get", "media", "nokey"],
        1,
        "no item with key \"nokey\"",
    );
    let e = exits(&db, &["--json", "blob", "get", "media", "nokey"], 1, "");
    let e: Value = serde_json::from_str(e.trim()).unwrap();
    assert_eq!(e["error"], "not_found");
    exits(
        &db,
        &["blob", "put", "media", "k", "/no/such/file"],
        1,
        "cannot read /no/such/file",
    );
    for bad in ["5-3", "a-b", "5", "-5", "1-2-3", ""] {
        let arg = format!("--range={bad}");
        exits(&db, &["blob", "get", "media", "k", &arg], 2, "invalid");
    }
    for outside in ["0-5", "6-", "5-5"] {
        exits(
            &db,
            &["blob", "get", "media", "k", "--range", outside],
            2,
            "outside the value of key \"k\", which has 5 bytes (0-4)",
        );
    }
    // A missing key or a bad range does not create the output file.
    let out = dir.path().join("out.bin");
    exits(
        &db,
        &["blob", "get", "media", "nokey", out.to_str().unwrap()],
        1,
        "no item",
    );
    assert!(!out.exists());
    assert_eq!(
        ok_bytes(&db, &["blob", "get", "media", "k"], None),
        b"hello"
    );
    assert_eq!(blob_files(&db), 1);
}

/// The peak resident memory of a running process: its `VmHWM` (the high-water
/// mark of its own address space, which starts afresh at exec), read from
/// /proc every few milliseconds until `stop` is set, the largest reading kept.
/// (`ru_maxrss` from wait4 would not do: Linux carries into it the resident
/// size of the address space the child had before exec, the test's own.)
fn sample_peak(
    pid: u32,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Option<u64>> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let mut peak = None;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let hwm = std::fs::read_to_string(&path).ok().and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib << 10)
            });
            if hwm.is_some() {
                peak = peak.max(hwm);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        peak
    })
}

/// Wait for `child` (and so for its sampler) and return whether it exited
/// with 0, and its peak resident memory in bytes.
fn wait_with_peak(
    child: &mut std::process::Child,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<Option<u64>>,
) -> (bool, u64) {
    let status = child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap().expect("no reading of VmHWM");
    (status.success(), peak)
}

#[test]
fn a_two_gib_value_through_pipes_in_bounded_memory() {
    const PEAK: u64 = 64 << 20;
    let size: u64 = std::env::var("SOP_BLOB_TEST_BYTES")
        .map(|v| v.parse().expect("SOP_BLOB_TEST_BYTES: a number of bytes"))
        .unwrap_or(2 << 30);
    let (dir, db) = fixture();
    let errors = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
    let stderr_of = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let t0 = std::time::Instant::now();

    // Write: the test feeds the pipe and hashes what it fed.
    let mut put = Command::new(SOP)
        .arg("--db")
        .arg(&db)
        .args(["blob", "put", "media", "movie", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(errors("put.err"))
        .spawn()
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_peak(put.id(), stop.clone());
    let mut pipe = put.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let mut g = Gen(0x5eed);
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = buf.len().min(left as usize);
            g.fill(&mut buf[..n]);
            h.update(&buf[..n]);
            pipe.write_all(&buf[..n]).unwrap();
            left -= n as u64;
        }
        h.digest()
    });
    let sent = feeder.join().unwrap();
    let (put_ok, put_peak) = wait_with_peak(&mut put, stop, sampler);
    assert!(put_ok, "sop blob put failed: {}", stderr_of("put.err"));
    let put_time = t0.elapsed();
    assert_eq!(blob_files(&db) as u64, size.div_ceil(8 << 20));

    // Read: the test drains the pipe and hashes what it got.
    let t1 = std::time::Instant::now();
    let mut get = Command::new(SOP)
        .arg("--db")
        .arg(&db)
        .args(["blob", "get", "media", "movie"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(errors("get.err"))
        .spawn()
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_peak(get.id(), stop.clone());
    let mut pipe = get.stdout.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let r = pipe.read(&mut buf).unwrap();
            if r == 0 {
                break;
            }
            h.update(&buf[..r]);
            n += r as u64;
        }
        (n, h.digest())
    });
    let (got_len, got) = drain.join().unwrap();
    let (get_ok, get_peak) = wait_with_peak(&mut get, stop, sampler);
    assert!(get_ok, "sop blob get failed: {}", stderr_of("get.err"));
    let get_time = t1.elapsed();

    eprintln!(
        "{size} bytes: put {put_time:.1?} (peak RSS {} KiB), get {get_time:.1?} (peak RSS {} KiB)",
        put_peak >> 10,
        get_peak >> 10
    );
    assert_eq!(got_len, size);
    assert_eq!(
        got, sent,
        "the value read back differs from the one written"
    );
    assert!(
        put_peak < PEAK,
        "sop blob put peaked at {} KiB",
        put_peak >> 10
    );
    assert!(
        get_peak < PEAK,
        "sop blob get peaked at {} KiB",
        get_peak >> 10
    );
}
