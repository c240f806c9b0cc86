//! Big values as streams (`RawStore::put_stream`, `get_stream`, `get_range`):
//! round trips at chunk boundaries, seeks and ranges, other values read as
//! streams, what a stream refuses, rollback, crashes and I/O errors in the
//! middle of a put (on the simulated file system), reclaiming overwritten and
//! removed streams, merging a stream put on conflict, and `check` finding a
//! missing or damaged chunk.

use sop::{
    Database, DbOptions, Error, ErrorKind, RawStore, StoreOptions, TxMode, ValuePlacement,
    STREAM_CHUNK_SIZE,
};
use sop_testkit::{Fault, SimVfs};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The chunk size most tests use: small, so values of a few chunks are small.
const CHUNK: u32 = 4096;
const C: usize = CHUNK as usize;

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        blob_grace: Duration::ZERO,
        ..Default::default()
    }
}

fn big() -> StoreOptions {
    StoreOptions {
        slot_length: 8,
        values: ValuePlacement::Big,
        ..Default::default()
    }
}

/// `len` deterministic bytes that differ from chunk to chunk and from seed to
/// seed, so a chunk read in the wrong place or from another value shows.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

fn create(db: &Database) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.create_raw_store("media", "raw-bytes", big()).unwrap();
    tx.commit().unwrap();
}

/// Write `value` under `key` as a stream of `CHUNK`-byte chunks, and commit.
fn put(db: &Database, key: &[u8], value: &[u8]) -> sop::Result<()> {
    let tx = db.begin(TxMode::ForWriting)?;
    let n = tx
        .open_raw_store("media")?
        .put_stream_with_chunk_size(key, value, CHUNK)?;
    assert_eq!(n.len, value.len() as u64);
    tx.commit()
}

/// The value of `key` read through `get_stream` to its end, in a transaction of `mode`.
fn read(db: &Database, mode: TxMode, key: &[u8]) -> sop::Result<Option<Vec<u8>>> {
    let tx = db.begin(mode)?;
    let s = tx.open_raw_store("media")?;
    let Some(mut r) = s.get_stream(key)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    r.read_to_end(&mut out).map_err(engine_error)?;
    assert_eq!(out.len() as u64, r.len());
    tx.commit()?;
    Ok(Some(out))
}

/// The engine's error inside a reader's `io::Error`.
fn engine_error(e: std::io::Error) -> Error {
    match e.into_inner().map(|i| i.downcast::<Error>()) {
        Some(Ok(e)) => *e,
        other => panic!("a reader error without an engine error: {other:?}"),
    }
}

/// The blob files under `blobs/` (a real folder).
fn blob_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let Ok(stores) = std::fs::read_dir(dir.join("blobs")) else {
        return out;
    };
    for s in stores {
        for b in std::fs::read_dir(s.unwrap().path()).unwrap() {
            out.push(b.unwrap().path());
        }
    }
    out.sort();
    out
}

#[test]
fn round_trips_at_chunk_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    create(&db);
    let sizes = [0, 1, C - 1, C, C + 1, 2 * C, 3 * C - 1, 5 * C + 17];
    for (i, &len) in sizes.iter().enumerate() {
        let key = format!("v{i}");
        let value = data(len, i as u64);
        put(&db, key.as_bytes(), &value).unwrap();
        for mode in [TxMode::NoCheck, TxMode::ForReading, TxMode::ForWriting] {
            assert_eq!(
                read(&db, mode, key.as_bytes()).unwrap().as_deref(),
                Some(&value[..]),
                "{len} bytes, {mode:?}"
            );
        }
        // `get` reads a streamed value whole.
        let tx = db.begin(TxMode::NoCheck).unwrap();
        let s = tx.open_raw_store("media").unwrap();
        assert_eq!(s.get(key.as_bytes()).unwrap().unwrap(), value, "{len}");
        let r = s.get_stream(key.as_bytes()).unwrap().unwrap();
        assert_eq!((r.len(), r.chunk_size()), (len as u64, Some(CHUNK)));
    }
    // One blob per chunk, none for the empty value.
    let chunks: usize = sizes.iter().map(|l| l.div_ceil(C)).sum();
    assert_eq!(blob_files(dir.path()).len(), chunks);
    let r = db.check().unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);

    // The default chunk size: two full chunks and a short one.
    let value = data(2 * STREAM_CHUNK_SIZE as usize + 3, 99);
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_raw_store("media").unwrap();
    let put = s.put_stream(b"default", &value[..]).unwrap();
    assert_eq!((put.len, put.inserted), (value.len() as u64, true));
    tx.commit().unwrap();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_raw_store("media").unwrap();
    let mut r = s.get_stream(b"default").unwrap().unwrap();
    assert_eq!(r.chunk_size(), Some(STREAM_CHUNK_SIZE));
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert!(got == value, "default chunk size round trip");
    assert_eq!(blob_files(dir.path()).len(), chunks + 3);
}

#[test]
fn seeks_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    create(&db);
    let len = 5 * C + 100;
    let value = data(len, 7);
    put(&db, b"k", &value).unwrap();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_raw_store("media").unwrap();
    let mut r = s.get_stream(b"k").unwrap().unwrap();

    let mut rng = fastrand::Rng::with_seed(1);
    for _ in 0..300 {
        let at = rng.usize(0..=len);
        let want = rng.usize(0..3 * C).min(len - at);
        let to = match rng.u8(0..3) {
            0 => SeekFrom::Start(at as u64),
            1 => SeekFrom::End(at as i64 - len as i64),
            _ => SeekFrom::Current(at as i64 - r.position() as i64),
        };
        assert_eq!(r.seek(to).unwrap(), at as u64);
        let mut buf = vec![0u8; want];
        r.read_exact(&mut buf).unwrap();
        assert!(buf == value[at..at + want], "{want} bytes at {at}");
        assert_eq!(r.position(), (at + want) as u64);
    }
    // Past the end: nothing to read; before the start: an error.
    r.seek(SeekFrom::Start(len as u64 + 10)).unwrap();
    assert_eq!(r.read(&mut [0u8; 10]).unwrap(), 0);
    let e = r.seek(SeekFrom::End(-(len as i64) - 1)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    r.seek(SeekFrom::End(-3)).unwrap();
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, value[len - 3..]);

    for (a, b) in [
        (0, 0),
        (0, len),
        (C - 1, C + 1),
        (C, 2 * C),
        (3 * C + 5, len),
        (len, len),
    ] {
        let got = s.get_range(b"k", a as u64..b as u64).unwrap().unwrap();
        assert!(got == value[a..b], "range {a}..{b}");
    }
    for (a, b) in [(0, len + 1), (10, 9), (len + 1, len + 1)] {
        match s.get_range(b"k", a as u64..b as u64) {
            Err(e @ Error::InvalidOption(_)) => {
                assert!(e.to_string().contains(&len.to_string()), "{e}")
            }
            other => panic!("range {a}..{b}: {other:?}"),
        }
    }
    assert!(s.get_range(b"missing", 0..1).unwrap().is_none());
    assert!(s.get_stream(b"missing").unwrap().is_none());
}

/// Values that were not written as streams read as streams too, from memory;
/// and a transaction reads the stream it wrote before it commits.
#[test]
fn every_value_reads_as_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    create(&db);
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let auto = tx
        .create_raw_store("auto", "raw-bytes", StoreOptions::default())
        .unwrap();
    auto.upsert(b"inline", b"small").unwrap();
    auto.upsert(b"separate", data(10_000, 3)).unwrap();
    let media = tx.open_raw_store("media").unwrap();
    media.upsert(b"file", data(20_000, 4)).unwrap();
    media
        .put_stream_with_chunk_size(b"own", &data(3 * C, 5)[..], CHUNK)
        .unwrap();
    let mut own = Vec::new();
    media
        .get_stream(b"own")
        .unwrap()
        .unwrap()
        .read_to_end(&mut own)
        .unwrap();
    assert_eq!(own, data(3 * C, 5), "read before the commit");
    tx.commit().unwrap();

    for mode in [TxMode::NoCheck, TxMode::ForReading, TxMode::ForWriting] {
        let tx = db.begin(mode).unwrap();
        for (store, key, want) in [
            ("auto", &b"inline"[..], b"small".to_vec()),
            ("auto", b"separate", data(10_000, 3)),
            ("media", b"file", data(20_000, 4)),
        ] {
            let s = tx.open_raw_store(store).unwrap();
            let mut r = s.get_stream(key).unwrap().unwrap();
            assert_eq!((r.len(), r.chunk_size()), (want.len() as u64, None));
            r.seek(SeekFrom::Start(2)).unwrap();
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, want[2..], "{store}/{mode:?}");
            let got = s.get_range(key, 1..4).unwrap().unwrap();
            assert_eq!(got, want[1..4]);
        }
    }
}

#[test]
fn put_stream_refuses_what_cannot_take_a_stream() {
    /// A reader that must not be read: the checks come first.
    struct Untouched;
    impl Read for Untouched {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            panic!("read before the store was checked")
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    create(&db);
    let tx = db.begin(TxMode::ForWriting).unwrap();
    for values in [
        ValuePlacement::Auto,
        ValuePlacement::Inline,
        ValuePlacement::Separate,
    ] {
        let name = format!("{values:?}");
        let o = StoreOptions {
            values,
            ..Default::default()
        };
        let s = tx.create_raw_store(&name, "raw-bytes", o).unwrap();
        match s.put_stream(b"k", Untouched) {
            Err(e @ Error::InvalidOption(_)) => {
                assert!(e.to_string().contains("ValuePlacement::Big"), "{e}")
            }
            other => panic!("{values:?}: {other:?}"),
        }
    }
    let json = tx.create_json_store("json", big(), None).unwrap();
    assert!(matches!(
        json.raw().put_stream(b"k", Untouched),
        Err(Error::InvalidOption(_))
    ));
    let media = tx.open_raw_store("media").unwrap();
    for size in [0, 4095, (1 << 30) + 1] {
        assert!(matches!(
            media.put_stream_with_chunk_size(b"k", Untouched, size),
            Err(Error::InvalidOption(_))
        ));
    }
    assert!(matches!(
        media.put_stream(&vec![1u8; sop::MAX_KEY_LEN + 1], Untouched),
        Err(Error::KeyTooLong { .. })
    ));
    drop((json, media));
    tx.rollback();
    for mode in [TxMode::NoCheck, TxMode::ForReading] {
        let tx = db.begin(mode).unwrap();
        let media = tx.open_raw_store("media").unwrap();
        assert!(matches!(
            media.put_stream(b"k", Untouched),
            Err(Error::ReadOnly(_))
        ));
    }
    assert!(blob_files(dir.path()).is_empty());
}

/// A reader failing half-way: the error is the reader's, the item is not
/// written, and the chunks written so far go with the transaction.
#[test]
fn a_failing_reader_leaves_nothing() {
    struct FailsAfter(usize);
    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("the network went away"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(1);
            self.0 -= n;
            Ok(n)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    create(&db);
    put(&db, b"other", &data(C, 1)).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_raw_store("media").unwrap();
    let e = s
        .put_stream_with_chunk_size(b"k", FailsAfter(3 * C + 10), CHUNK)
        .unwrap_err();
    assert!(e.to_string().contains("the network went away"), "{e}");
    assert_eq!(blob_files(dir.path()).len(), 4, "3 chunks written so far");
    assert!(s.get_stream(b"k").unwrap().is_none());
    tx.commit().unwrap();
    assert_eq!(blob_files(dir.path()).len(), 1, "only the other value's");
    assert_eq!(read(&db, TxMode::NoCheck, b"k").unwrap(), None);
}

#[test]
fn a_rolled_back_stream_leaves_no_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    create(&db);
    for end in ["rollback", "drop"] {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_raw_store("media").unwrap();
        s.put_stream_with_chunk_size(b"k", &data(4 * C, 1)[..], CHUNK)
            .unwrap();
        assert_eq!(blob_files(dir.path()).len(), 4);
        if end == "rollback" {
            tx.rollback();
        } else {
            drop(tx);
        }
        assert!(blob_files(dir.path()).is_empty(), "{end}");
    }
    assert_eq!(read(&db, TxMode::NoCheck, b"k").unwrap(), None);
}

// ----------------------------------------------------- simulated file system

const DB: &str = "/db";

fn open_sim(vfs: &SimVfs) -> sop::Result<Database> {
    Database::open(
        DB,
        DbOptions {
            vfs: Some(Arc::new(vfs.clone())),
            ..opts()
        },
    )
}

fn sim_blobs(vfs: &SimVfs) -> Vec<PathBuf> {
    vfs.file_names_under(&Path::new(DB).join("blobs"))
}

/// A process that wrote a stream and died before its commit (a power cut
/// keeping any part of what it wrote): recovery leaves none of its chunks.
#[test]
fn an_uncommitted_stream_of_a_dead_process_is_collected() {
    let vfs = SimVfs::new();
    let db = open_sim(&vfs).unwrap();
    create(&db);
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_raw_store("media").unwrap();
    s.put_stream_with_chunk_size(b"k", &data(6 * C + 1, 1)[..], CHUNK)
        .unwrap();
    assert_eq!(sim_blobs(&vfs).len(), 7);
    vfs.set_fault(Fault::PowerCutAt(vfs.op_count()));
    let mut kept_some = false;
    for seed in 0..12 {
        let img = vfs.crash_image(seed);
        kept_some |= !sim_blobs(&img).is_empty();
        let db = open_sim(&img).unwrap(); // recovers on open
        assert!(sim_blobs(&img).is_empty(), "seed {seed}");
        assert_eq!(read(&db, TxMode::NoCheck, b"k").unwrap(), None);
        let r = db.check().unwrap();
        assert!(r.is_ok() && r.garbage.is_empty(), "{r:?}");
    }
    assert!(kept_some, "no image kept a chunk: the test proves nothing");
    drop(tx);
}

/// A power cut at every step of a put_stream and its commit: after recovery
/// the value is there whole (always, if the commit returned Ok) with exactly
/// its chunks, or absent with none of them.
#[test]
fn a_power_cut_during_put_stream_leaves_all_or_nothing() {
    let value = data(3 * C + 5, 11);
    let fresh = || {
        let vfs = SimVfs::new();
        let db = open_sim(&vfs).unwrap();
        create(&db);
        put(&db, b"before", &data(C + 1, 12)).unwrap();
        (vfs, db)
    };
    let ops = {
        let (vfs, db) = fresh();
        vfs.reset_op_count();
        put(&db, b"k", &value).unwrap();
        vfs.op_count()
    };
    let (mut acked, mut lost) = (0, 0);
    for k in 0..=ops {
        let (vfs, db) = fresh();
        vfs.reset_op_count();
        vfs.set_fault(Fault::PowerCutAt(k));
        let ok = put(&db, b"k", &value).is_ok();
        drop(db);
        for seed in 0..4u64 {
            let img = if seed == 0 {
                vfs.crash_image_strict()
            } else {
                vfs.crash_image(seed * 1000 + k)
            };
            let db = open_sim(&img).unwrap_or_else(|e| panic!("cut {k}/{seed}: reopen: {e}"));
            let got = read(&db, TxMode::NoCheck, b"k").unwrap();
            match &got {
                Some(v) => assert!(*v == value, "cut {k}/{seed}: a different value"),
                None => assert!(!ok, "cut {k}/{seed}: an acknowledged put was lost"),
            }
            let want_blobs = 2 + if got.is_some() { 4 } else { 0 };
            assert_eq!(sim_blobs(&img).len(), want_blobs, "cut {k}/{seed}");
            assert_eq!(
                read(&db, TxMode::NoCheck, b"before").unwrap(),
                Some(data(C + 1, 12))
            );
            let r = db.check().unwrap();
            assert!(r.is_ok() && r.garbage.is_empty(), "cut {k}/{seed}: {r:?}");
            if got.is_some() {
                acked += 1;
            } else {
                lost += 1;
            }
        }
    }
    assert!(
        acked > 0 && lost > 0,
        "{acked} images kept it, {lost} did not"
    );
}

/// An I/O error at every step of a put_stream and its commit, the process
/// going on: an error that is not `CommitOutcomeUnknown` leaves neither the
/// value nor a chunk, at once; the handle then writes the value again.
#[test]
fn an_io_error_during_put_stream_leaves_nothing() {
    let value = data(3 * C + 5, 21);
    let fresh = || {
        let vfs = SimVfs::new();
        let db = open_sim(&vfs).unwrap();
        create(&db);
        (vfs, db)
    };
    let ops = {
        let (vfs, db) = fresh();
        vfs.reset_op_count();
        put(&db, b"k", &value).unwrap();
        vfs.op_count()
    };
    let mut failed = 0;
    for k in 0..ops {
        let (vfs, db) = fresh();
        vfs.reset_op_count();
        vfs.set_fault(Fault::IoErrorAt(k));
        let r = put(&db, b"k", &value);
        vfs.set_fault(Fault::None);
        match r {
            Ok(()) => {
                assert_eq!(
                    read(&db, TxMode::NoCheck, b"k").unwrap(),
                    Some(value.clone())
                );
                assert_eq!(sim_blobs(&vfs).len(), 4, "op {k}");
            }
            Err(e) => {
                let unknown = matches!(e, Error::CommitOutcomeUnknown { .. });
                if !unknown {
                    assert_eq!(sim_blobs(&vfs).len(), 0, "op {k}: {e}");
                }
                match read(&db, TxMode::NoCheck, b"k") {
                    // A failed sync poisons the handle: nothing more to see.
                    Err(p) if p.kind() == ErrorKind::Poisoned => continue,
                    _ if unknown => continue,
                    r => assert_eq!(r.unwrap(), None, "op {k}"),
                }
                failed += 1;
                put(&db, b"k", &value).unwrap();
                assert_eq!(
                    read(&db, TxMode::NoCheck, b"k").unwrap(),
                    Some(value.clone())
                );
                assert_eq!(sim_blobs(&vfs).len(), 4, "op {k}");
            }
        }
    }
    assert!(failed > 4, "only {failed} ops failed cleanly");
}

// ------------------------------------------------------------ reclaiming

#[test]
fn overwritten_and_removed_streams_free_their_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    create(&db);
    put(&db, b"k", &data(3 * C, 1)).unwrap();
    let first = blob_files(dir.path());
    assert_eq!(first.len(), 3);
    // Replaced by a shorter stream: its 3 chunks go, 2 new ones stay.
    put(&db, b"k", &data(2 * C - 1, 2)).unwrap();
    let second = blob_files(dir.path());
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|b| !first.contains(b)));
    // Replaced by a value in one blob.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.open_raw_store("media")
        .unwrap()
        .upsert(b"k", data(100, 3))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(blob_files(dir.path()).len(), 1);
    // And a stream again, then removed.
    put(&db, b"k", &data(4 * C, 4)).unwrap();
    assert_eq!(blob_files(dir.path()).len(), 4);
    let tx = db.begin(TxMode::ForWriting).unwrap();
    assert!(tx.open_raw_store("media").unwrap().remove(b"k").unwrap());
    tx.commit().unwrap();
    assert!(blob_files(dir.path()).is_empty());
    // Two streams to one key in one transaction: the first one's chunks never
    // become part of the database.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_raw_store("media").unwrap();
    s.put_stream_with_chunk_size(b"k", &data(3 * C, 5)[..], CHUNK)
        .unwrap();
    s.put_stream_with_chunk_size(b"k", &data(C + 1, 6)[..], CHUNK)
        .unwrap();
    assert_eq!(blob_files(dir.path()).len(), 5);
    tx.commit().unwrap();
    assert_eq!(blob_files(dir.path()).len(), 2);
    assert_eq!(
        read(&db, TxMode::NoCheck, b"k").unwrap(),
        Some(data(C + 1, 6))
    );
    // A store dropped takes its streams along.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.drop_store("media").unwrap();
    tx.commit().unwrap();
    assert!(blob_files(dir.path()).is_empty());
    let r = db.check().unwrap();
    assert!(r.is_ok() && r.garbage.is_empty(), "{r:?}");
}

/// A released stream read by an older snapshot of another handle: kept for
/// `blob_grace`; without a grace the reader gets `SnapshotTooOld`.
#[test]
fn a_released_stream_is_kept_for_older_snapshots() {
    for grace in [Duration::from_secs(300), Duration::ZERO] {
        let dir = tempfile::tempdir().unwrap();
        let o = DbOptions {
            blob_grace: grace,
            ..opts()
        };
        let a = Database::open(dir.path(), o.clone()).unwrap();
        create(&a);
        put(&a, b"k", &data(3 * C, 1)).unwrap();
        let b = Database::open(dir.path(), o).unwrap();
        let tx = b.begin(TxMode::NoCheck).unwrap();
        let s = tx.open_raw_store("media").unwrap();
        let mut r = s.get_stream(b"k").unwrap().unwrap();
        put(&a, b"k", &data(C, 2)).unwrap();
        let mut got = Vec::new();
        match r.read_to_end(&mut got).map_err(engine_error) {
            Ok(_) => {
                assert!(!grace.is_zero());
                assert_eq!(got, data(3 * C, 1));
            }
            Err(Error::SnapshotTooOld(_)) => assert!(grace.is_zero()),
            Err(e) => panic!("grace {grace:?}: {e}"),
        }
    }
}

// ---------------------------------------------------------------- merging

/// A put_stream whose transaction meets another commit to the same leaf is
/// merged (replayed with the same chunks, not read again); one that read a key
/// another commit changed fails, and its chunks go.
#[test]
fn stream_puts_merge_and_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    create(&db);
    put(&db, b"a", &data(10, 1)).unwrap();

    let t1 = db.begin(TxMode::ForWriting).unwrap();
    let s1 = t1.open_raw_store("media").unwrap();
    s1.put_stream_with_chunk_size(b"b", &data(2 * C + 1, 2)[..], CHUNK)
        .unwrap();
    put(&db, b"c", &data(C, 3)).unwrap(); // same leaf, another key
    t1.commit().unwrap();
    assert_eq!(
        read(&db, TxMode::NoCheck, b"b").unwrap(),
        Some(data(2 * C + 1, 2))
    );
    assert_eq!(blob_files(dir.path()).len(), 1 + 3 + 1);

    let t1 = db.begin(TxMode::ForWriting).unwrap();
    let s1 = t1.open_raw_store("media").unwrap();
    let mut old = Vec::new();
    s1.get_stream(b"c")
        .unwrap()
        .unwrap()
        .read_to_end(&mut old)
        .unwrap();
    s1.put_stream_with_chunk_size(b"d", &data(3 * C, 4)[..], CHUNK)
        .unwrap();
    put(&db, b"c", &data(C, 5)).unwrap(); // what t1 read changed
    assert!(matches!(t1.commit(), Err(Error::Conflict(_))));
    assert_eq!(read(&db, TxMode::NoCheck, b"d").unwrap(), None);
    assert_eq!(blob_files(dir.path()).len(), 1 + 3 + 1);

    // A ForReading transaction's get_stream is validated like a get.
    let t1 = db.begin(TxMode::ForReading).unwrap();
    let s1 = t1.open_raw_store("media").unwrap();
    assert!(s1.get_stream(b"b").unwrap().is_some());
    put(&db, b"b", &data(C, 6)).unwrap();
    assert!(matches!(t1.commit(), Err(Error::Conflict(_))));
    let r = db.check().unwrap();
    assert!(r.is_ok() && r.garbage.is_empty(), "{r:?}");
}

// ------------------------------------------------------------------ check

#[test]
fn check_finds_a_missing_or_damaged_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    create(&db);
    put(&db, b"k", &data(3 * C, 1)).unwrap();
    let r = db.check().unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
    let chunks = blob_files(dir.path());
    assert_eq!(chunks.len(), 3);

    // One byte of the middle chunk flipped.
    let mut bytes = std::fs::read(&chunks[1]).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&chunks[1], &bytes).unwrap();
    let r = db.check().unwrap();
    assert!(
        r.problems.iter().any(|p| p.contains("checksum")),
        "{:?}",
        r.problems
    );
    let e = read(&db, TxMode::NoCheck, b"k").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    // The chunks before it still read.
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_raw_store("media").unwrap();
    assert_eq!(
        s.get_range(b"k", 0..C as u64).unwrap().unwrap(),
        data(C, 1)[..C]
    );
    drop(tx);

    // A chunk replaced by other bytes with a valid checksum of their own (as
    // a chunk of the same length from elsewhere would be): each chunk passes,
    // the whole value does not.
    let id = u128::from_str_radix(chunks[1].file_name().unwrap().to_str().unwrap(), 16).unwrap();
    let mut forged = data(C, 77);
    let sum = xxhash_rust::xxh3::xxh3_64_with_seed(&forged, id as u64);
    forged.extend_from_slice(&sum.to_le_bytes());
    std::fs::write(&chunks[1], &forged).unwrap();
    let r = db.check().unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("its chunks pass theirs")),
        "{:?}",
        r.problems
    );
    let e = read(&db, TxMode::NoCheck, b"k").unwrap_err();
    assert!(e.to_string().contains("its chunks pass theirs"), "{e}");

    // The last chunk missing.
    bytes[100] ^= 1;
    std::fs::write(&chunks[1], &bytes).unwrap();
    assert!(db.check().unwrap().is_ok());
    std::fs::remove_file(&chunks[2]).unwrap();
    let r = db.check().unwrap();
    let name = chunks[2].file_name().unwrap().to_str().unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains(name) && p.contains("missing")),
        "{:?}",
        r.problems
    );
    let e = read(&db, TxMode::NoCheck, b"k").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s: RawStore<'_> = tx.open_raw_store("media").unwrap();
    assert!(s.get(b"k").is_err(), "get of the whole value fails too");
}
