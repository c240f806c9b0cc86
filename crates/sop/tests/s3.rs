//! A whole database in an S3 bucket. Most tests run against a real S3 server
//! (`SOP_TEST_S3_ENDPOINT` and `SOP_TEST_S3_BUCKET`, started by scripts/test.sh;
//! these tests fail without it). The fault tests put an in-memory store behind
//! a wrapper that loses replies, fails requests and hides listings, which a
//! real server will not do on demand. The conformance suite runs on the real
//! server too (tests/conformance.rs).

use sop::test_hooks::object_store::{self, memory::InMemory, path::Path as Key, ObjectStore};
use sop::{Database, DbOptions, Error, Registry, S3Bucket, StoreOptions, TxMode, ValuePlacement};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use support::{add_one, count, reopen};

mod support;

/// A fresh prefix in the test bucket on the real server.
fn real_bucket() -> S3Bucket {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: run through scripts/test.sh (it starts an S3 server)")
        })
    };
    let mut b = S3Bucket::new(format!(
        "s3://{}/tests/{:016x}",
        var("SOP_TEST_S3_BUCKET"),
        fastrand::u64(..)
    ));
    b.endpoint = Some(var("SOP_TEST_S3_ENDPOINT"));
    b.timeout_ms = 10_000;
    b
}

fn opts(b: &S3Bucket) -> DbOptions {
    DbOptions {
        recovery_interval: None,
        registry: Some(Registry::S3(b.clone())),
        ..Default::default()
    }
}

/// Files anywhere under `dir`.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_bucket_holds_the_database_and_a_second_folder_opens_the_same_one() {
    let bucket = real_bucket();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let big = vec![7u8; 200_000];
    {
        let db = Database::open(a.path(), opts(&bucket)).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx
            .create_store::<u64, String>("items", StoreOptions::default())
            .unwrap();
        for i in 0..300u64 {
            s.add(&i, &format!("value {i}")).unwrap();
        }
        let v = tx
            .create_store::<u64, Vec<u8>>(
                "big",
                StoreOptions {
                    values: ValuePlacement::Big,
                    ..Default::default()
                },
            )
            .unwrap();
        v.add(&1, &big).unwrap();

        tx.commit().unwrap();
        db.close().unwrap();
    }
    // Nothing of the database is in the folder: records, checkpoints and big
    // values are objects.
    let local: Vec<_> = files_under(a.path())
        .into_iter()
        .filter(|p| {
            let rel = p.strip_prefix(a.path()).unwrap();
            ["log", "checkpoints", "blobs"]
                .iter()
                .any(|d| rel.starts_with(d))
        })
        .collect();
    assert!(local.is_empty(), "files in the folder: {local:?}");

    let db = reopen(a.path());
    let other = Database::open(b.path(), opts(&bucket)).unwrap();
    assert_eq!(db.config().id, other.config().id, "one database, one id");
    for h in [&db, &other] {
        let tx = h.begin(TxMode::ForReading).unwrap();
        let s = tx.open_store::<u64, String>("items").unwrap();
        assert_eq!(s.count().unwrap(), 300);
        assert_eq!(s.get(&299).unwrap().as_deref(), Some("value 299"));
        let v = tx.open_store::<u64, Vec<u8>>("big").unwrap();
        assert_eq!(v.get(&1).unwrap().as_deref(), Some(&big[..]));
    }
    // A commit through the second folder is seen through the first.
    add_one(&other).unwrap();
    assert_eq!(count(&db), 1);
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.records >= 2, "check read the records: {report:?}");
}

#[test]
fn threads_on_two_folders_commit_into_one_bucket_exactly_once_each() {
    let bucket = real_bucket();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dbs = [
        Arc::new(Database::open(a.path(), opts(&bucket)).unwrap()),
        Arc::new(Database::open(b.path(), opts(&bucket)).unwrap()),
    ];
    add_one(&dbs[0]).unwrap();
    let conflicts = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for t in 0..4 {
        let db = dbs[t % 2].clone();
        let conflicts = conflicts.clone();
        threads.push(std::thread::spawn(move || {
            for _ in 0..15 {
                loop {
                    match add_one(&db) {
                        Ok(()) => break,
                        Err(e) if e.kind() == sop::ErrorKind::Retry => {
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("commit: {e}"),
                    }
                }
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    for db in &dbs {
        assert_eq!(
            count(db),
            61,
            "{} conflicts",
            conflicts.load(Ordering::Relaxed)
        );
    }
    let report = dbs[1].check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn reclaimed_records_become_tombstones_and_a_new_folder_starts_from_a_checkpoint() {
    let bucket = real_bucket();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let db = Database::open(
        a.path(),
        DbOptions {
            checkpoint_every: 5,
            blob_grace: std::time::Duration::ZERO,
            ..opts(&bucket)
        },
    )
    .unwrap();
    for _ in 0..30 {
        add_one(&db).unwrap();
    }
    let r = db.reclaim().unwrap();
    assert!(r.retired >= 20, "{r:?}");
    let other = Database::open(b.path(), opts(&bucket)).unwrap();
    assert_eq!(count(&other), 30);
    add_one(&other).unwrap();
    assert_eq!(count(&db), 31);
    for h in [&db, &other] {
        let report = h.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
    }
}

// ---- fault injection in front of an in-memory store ----

/// What the wrapper does to requests.
#[derive(Default)]
struct Faults {
    /// Of every this many PUTs of records, one applies and its reply is lost;
    /// 0 for none.
    lose_reply_every: AtomicU64,
    /// Of every this many PUTs of records, one fails before it applies.
    fail_every: AtomicU64,
    /// Every listing comes back empty (a store whose listings lag).
    empty_listings: std::sync::atomic::AtomicBool,
    puts: AtomicU64,
    lost: AtomicU64,
    failed: AtomicU64,
}

#[derive(Debug)]
struct Faulty {
    inner: InMemory,
    faults: Arc<Faults>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Faults")
    }
}

impl std::fmt::Display for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Faulty(InMemory)")
    }
}

fn injected(path: &Key, what: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "Faulty",
        source: format!("{what} at {path}").into(),
    }
}

#[async_trait::async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Key,
        payload: object_store::PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        if location.as_ref().contains("/log/") {
            let n = self.faults.puts.fetch_add(1, Ordering::Relaxed) + 1;
            let fail = self.faults.fail_every.load(Ordering::Relaxed);
            if fail > 0 && n.is_multiple_of(fail) {
                self.faults.failed.fetch_add(1, Ordering::Relaxed);
                return Err(injected(location, "503 Slow Down"));
            }
            let lose = self.faults.lose_reply_every.load(Ordering::Relaxed);
            if lose > 0 && n.is_multiple_of(lose) {
                let r = self.inner.put_opts(location, payload, opts).await;
                self.faults.lost.fetch_add(1, Ordering::Relaxed);
                return Err(injected(
                    location,
                    &format!("reply lost (it was {:?})", r.is_ok()),
                ));
            }
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Key,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Key,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures_util::stream::BoxStream<'static, object_store::Result<Key>>,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<Key>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&Key>,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>
    {
        if self.faults.empty_listings.load(Ordering::Relaxed) {
            return Box::pin(futures_util::stream::empty());
        }
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Key>,
        offset: &Key,
    ) -> futures_util::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>
    {
        if self.faults.empty_listings.load(Ordering::Relaxed) {
            return Box::pin(futures_util::stream::empty());
        }
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&Key>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Key,
        to: &Key,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A bucket in this process behind the fault wrapper.
fn faulty_bucket(name: &str) -> (S3Bucket, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    sop::test_hooks::register_object_store(
        name,
        Arc::new(Faulty {
            inner: InMemory::new(),
            faults: faults.clone(),
        }),
    );
    let mut b = S3Bucket::new(format!("memory://{name}/db"));
    b.timeout_ms = 5_000;
    (b, faults)
}

/// Every PUT of a record that applies but loses its reply, or fails: a commit
/// returns Ok, fails cleanly, or reports its outcome unknown, and
/// `commit_outcome` settles each unknown one. The counter then equals the Ok
/// commits plus the unknown-but-committed ones: nothing lost, nothing twice.
#[test]
fn lost_replies_and_failed_puts_are_settled_never_applied_twice() {
    let (bucket, faults) = faulty_bucket("lost-replies");
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts(&bucket)).unwrap();
    add_one(&db).unwrap();
    drop(db);
    let (mut ok, mut unknown_committed, mut unknown_not, mut failed) = (0u64, 0u64, 0u64, 0u64);
    let mut db = reopen(dir.path());
    // Three phases: 30 commits with some replies lost and some PUTs failed (the
    // resends settle them); 10 with every reply lost (each commit's first PUT
    // applies, none is settled: unknown, committed); 10 with every PUT failed
    // (unknown, not committed).
    for i in 0..50 {
        let (lose, fail) = [(3, 7), (3, 7), (3, 7), (1, 0), (0, 1)][i / 10];
        faults.lose_reply_every.store(lose, Ordering::Relaxed);
        faults.fail_every.store(fail, Ordering::Relaxed);
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let (id, snap) = (tx.id(), tx.snapshot_seq());
        let r = (|| {
            let s = tx.open_store::<String, u64>("counters")?;
            let n = s.get(&"n".to_string())?.unwrap_or(0);
            s.upsert(&"n".to_string(), &(n + 1))?;
            tx.commit()
        })();
        match r {
            Ok(()) => ok += 1,
            Err(Error::CommitOutcomeUnknown { .. }) => {
                drop(db);
                // Settled while the store answers (it takes the next sequence).
                faults.lose_reply_every.store(0, Ordering::Relaxed);
                faults.fail_every.store(0, Ordering::Relaxed);
                let check = reopen(dir.path());
                if check.commit_outcome(id, snap).unwrap() {
                    unknown_committed += 1;
                } else {
                    unknown_not += 1;
                }
                db = check;
            }
            Err(e) => {
                eprintln!("commit: {e}");
                failed += 1
            }
        }
    }
    faults.lose_reply_every.store(0, Ordering::Relaxed);
    faults.fail_every.store(0, Ordering::Relaxed);
    drop(db);
    let db = reopen(dir.path());
    let summary = format!(
        "ok {ok}, unknown and committed {unknown_committed}, unknown and not {unknown_not}, \
         failed {failed}; replies lost {}, PUTs failed {}",
        faults.lost.load(Ordering::Relaxed),
        faults.failed.load(Ordering::Relaxed)
    );
    assert_eq!(count(&db), 1 + ok + unknown_committed, "{summary}");
    assert!(faults.lost.load(Ordering::Relaxed) >= 10, "{summary}");
    assert!(ok >= 15, "resent PUTs settle most lost replies: {summary}");
    assert!(unknown_committed >= 5 && unknown_not >= 5, "{summary}");
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    eprintln!("{summary}");
}

/// A store whose listings show nothing: catching up asks for records by name,
/// so every commit is still seen, by this folder and by a new one.
#[test]
fn catching_up_does_not_depend_on_listings() {
    let (bucket, faults) = faulty_bucket("lagging-lists");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let db = Database::open(a.path(), opts(&bucket)).unwrap();
    faults.empty_listings.store(true, Ordering::Relaxed);
    for _ in 0..12 {
        add_one(&db).unwrap();
    }
    let other = Database::open(b.path(), opts(&bucket)).unwrap();
    assert_eq!(count(&other), 12);
    add_one(&other).unwrap();
    assert_eq!(count(&db), 13);
    drop((db, other));
    assert_eq!(count(&reopen(a.path())), 13);
}

/// A big value streamed into the bucket in chunks (each chunk one object),
/// read back whole, by ranges and by seeking, from another folder.
#[test]
fn big_values_stream_into_the_bucket_and_back_by_ranges() {
    use std::io::{Read, Seek, SeekFrom};
    let bucket = real_bucket();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut rng = fastrand::Rng::with_seed(22);
    let value: Vec<u8> = (0..(5 << 20) + 123).map(|_| rng.u8(..)).collect();
    let chunk = 1u32 << 20;
    {
        let db = Database::open(a.path(), opts(&bucket)).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let media = tx
            .create_raw_store(
                "media",
                "raw-bytes",
                StoreOptions {
                    values: ValuePlacement::Big,
                    ..Default::default()
                },
            )
            .unwrap();
        let put = media
            .put_stream_with_chunk_size(b"clip", &value[..], chunk)
            .unwrap();
        assert_eq!(put.len, value.len() as u64);
        tx.commit().unwrap();
    }
    let other = Database::open(b.path(), opts(&bucket)).unwrap();
    let tx = other.begin(TxMode::NoCheck).unwrap();
    let media = tx.open_raw_store("media").unwrap();
    let mut whole = Vec::new();
    media
        .get_stream(b"clip")
        .unwrap()
        .unwrap()
        .read_to_end(&mut whole)
        .unwrap();
    assert!(whole == value, "the value read back differs");
    let (from, to) = ((3 << 20) - 10, (3 << 20) + 10);
    let part = media.get_range(b"clip", from..to).unwrap().unwrap();
    assert_eq!(part, value[from as usize..to as usize]);
    let mut r = media.get_stream(b"clip").unwrap().unwrap();
    r.seek(SeekFrom::End(-5)).unwrap();
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, value[value.len() - 5..]);
    drop((r, media));
    tx.commit().unwrap();
    let report = other.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// Folders on two hosts name one bucket: each sees only its own host's
/// processes. A big value written by a transaction of one, not yet committed,
/// must survive the other's recovery (its writer is not dead, only unseen),
/// however short the grace period; then it commits and reads back everywhere.
#[test]
fn recovery_on_another_host_never_takes_an_in_flight_big_value() {
    let bucket = real_bucket();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let quick = |path: &Path| {
        Database::open(
            path,
            DbOptions {
                blob_grace: std::time::Duration::ZERO,
                ..opts(&bucket)
            },
        )
        .unwrap()
    };
    let writer = quick(a.path());
    {
        let tx = writer.begin(TxMode::ForWriting).unwrap();
        tx.create_store::<u64, Vec<u8>>(
            "big",
            StoreOptions {
                values: ValuePlacement::Big,
                ..Default::default()
            },
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let value = vec![5u8; 100_000];
    let tx = writer.begin(TxMode::ForWriting).unwrap();
    tx.open_store::<u64, Vec<u8>>("big")
        .unwrap()
        .add(&1, &value)
        .unwrap();
    // The other host recovers twice (the grace rule needs a second look) and
    // checks, while the blob waits for its commit.
    let other = quick(b.path());
    for _ in 0..2 {
        let r = other.recover().unwrap();
        assert_eq!(r.removed_blobs, 0, "{r:?}");
    }
    let report = other.check().unwrap();
    assert!(report.is_ok() && report.garbage.is_empty(), "{report:?}");
    tx.commit().unwrap();
    for h in [&writer, &other] {
        let tx = h.begin(TxMode::ForReading).unwrap();
        let got = tx
            .open_store::<u64, Vec<u8>>("big")
            .unwrap()
            .get(&1)
            .unwrap();
        assert_eq!(got.as_deref(), Some(&value[..]));
    }
    let report = other.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// A reader on one folder holds an old snapshot while another folder rewrites
/// everything and reclaims: the records the old snapshot reads are replaced by
/// tombstones under it. Its next read is `SnapshotTooOld` (retry), never a
/// checksum fault or an I/O error.
#[test]
fn an_old_snapshot_reading_a_reclaimed_record_is_told_to_retry() {
    let bucket = real_bucket();
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let writer = Database::open(a.path(), opts(&bucket)).unwrap();
    {
        let tx = writer.begin(TxMode::ForWriting).unwrap();
        let s = tx
            .create_store::<u64, u64>(
                "s",
                StoreOptions {
                    slot_length: 16,
                    ..Default::default()
                },
            )
            .unwrap();
        for k in 0..1000u64 {
            s.add(&k, &k).unwrap();
        }
        tx.commit().unwrap();
    }
    let reader = Database::open(c.path(), opts(&bucket)).unwrap();
    let old = reader.begin(TxMode::NoCheck).unwrap();
    // The first read pins the snapshot (and caches the path to key 0 only).
    assert_eq!(
        old.open_store::<u64, u64>("s").unwrap().get(&0).unwrap(),
        Some(0)
    );
    let rewriter = Database::open(b.path(), opts(&bucket)).unwrap();
    // Every item removed, then added again: nothing of the first record is
    // live any more (an update could keep it as a leaf delta's base).
    for round in 1..=2u64 {
        let tx = rewriter.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, u64>("s").unwrap();
        for k in 0..1000u64 {
            if round == 1 {
                s.remove(&k).unwrap();
            } else {
                s.add(&k, &(k + 20_000)).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let r = rewriter.reclaim().unwrap();
    assert!(r.retired >= 1, "{r:?}");
    let err = old
        .open_store::<u64, u64>("s")
        .and_then(|s| (0..1000u64).try_for_each(|k| s.get(&k).map(|_| ())))
        .expect_err("the old snapshot's records are gone");
    assert!(
        matches!(err, Error::SnapshotTooOld(_)),
        "expected SnapshotTooOld, got {err:?}"
    );
    drop(old);
    let tx = reader.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    assert_eq!(s.get(&7).unwrap(), Some(20_007));
}
