//! A whole database in an S3 bucket. Most tests run against a real S3 server
//! (`SOP_TEST_S3_ENDPOINT` and `SOP_TEST_S3_BUCKET`, started by scripts/test.sh;
//! these tests fail without it). The fault tests put an in-memory store behind
//! a wrapper that loses replies, fails requests and hides listings, which a
//! real server will not do on demand. The conformance suite runs on the real
//! server too (tests/conformance.rs).

use sop::test_hooks::object_store::{self, memory::InMemory, path::Path as Key, ObjectStore};
use sop::{Database, DbOptions, Error, Registry, S3Bucket, StoreOptions, TxMode, ValuePlacement};
use sop_testkit::faulty_bucket::{BucketFaults, Change, FaultyBucket, Verdict};
use sop_testkit::s3_proxy::S3Proxy;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use support::{add_one, count, reopen, Outcomes};

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

/// The premise of the commit point: of several PUTs with `If-None-Match: *`
/// racing to create one key, exactly one succeeds, as on S3, MinIO and R2. Stock
/// moto checks and then writes in separate steps (8 racers: two winners in about
/// 1 round of 200), which once lost a commit in the S3 swarm test; scripts/
/// moto-server.py makes its writes atomic, and this test fails without that.
#[test]
fn the_test_server_lets_exactly_one_of_racing_creates_win() {
    use object_store::{aws::AmazonS3Builder, PutMode, PutOptions};
    let b = real_bucket();
    let bucket = b.url.trim_start_matches("s3://").split('/').next().unwrap();
    let prefix = b.url.trim_start_matches("s3://")[bucket.len()..]
        .trim_matches('/')
        .to_string();
    let store = Arc::new(
        AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_endpoint(b.endpoint.clone().unwrap())
            .with_allow_http(true)
            .build()
            .unwrap(),
    );
    let (racers, rounds) = (8, 250);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let doubles: Vec<(usize, usize)> = rt.block_on(async {
        let mut doubles = Vec::new();
        for round in 0..rounds {
            let gate = Arc::new(tokio::sync::Barrier::new(racers));
            let tasks: Vec<_> = (0..racers)
                .map(|i| {
                    let (store, gate) = (store.clone(), gate.clone());
                    let key = Key::from(format!("{prefix}/race/{round}"));
                    tokio::spawn(async move {
                        gate.wait().await;
                        let body = vec![i as u8; 2_000];
                        store
                            .put_opts(&key, body.into(), PutOptions::from(PutMode::Create))
                            .await
                    })
                })
                .collect();
            let mut wins = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(_) => wins += 1,
                    Err(object_store::Error::AlreadyExists { .. })
                    | Err(object_store::Error::Precondition { .. }) => {}
                    Err(e) => panic!("a racing create failed: {e}"),
                }
            }
            if wins != 1 {
                doubles.push((round, wins));
            }
        }
        doubles
    });
    assert!(
        doubles.is_empty(),
        "rounds (round, winners) where not exactly one of {racers} racing creates won: {doubles:?}"
    );
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

/// `Database::open("s3://BUCKET/PREFIX", ..)`: no database there is NotFound
/// without `create`; with it, this host's state goes under `state_dir`; a
/// second state folder (another host) opens the same database; options naming
/// another registry are refused; the state folder's names cannot leave it.
#[test]
fn a_database_opens_by_its_url_on_any_host() {
    let bucket = real_bucket();
    let url = bucket.url.clone();
    let (h1, h2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let on = |state: &Path, create: bool| DbOptions {
        create,
        state_dir: Some(state.to_path_buf()),
        ..opts(&bucket)
    };
    let err = Database::open(&url, on(h1.path(), false)).err().unwrap();
    assert!(
        matches!(&err, Error::NotFound(p) if p == Path::new(&url)),
        "{err}"
    );
    assert!(files_under(h1.path()).is_empty(), "NotFound made nothing");
    let db = Database::open(&url, on(h1.path(), true)).unwrap();
    add_one(&db).unwrap();
    add_one(&db).unwrap();
    drop(db);
    let db2 = Database::open(&url, on(h2.path(), false)).unwrap();
    assert_eq!(count(&db2), 2);
    add_one(&db2).unwrap();
    drop(db2);
    let db1 = Database::open(&url, on(h1.path(), false)).unwrap();
    assert_eq!(count(&db1), 3);
    drop(db1);
    for h in [&h1, &h2] {
        let saved = files_under(h.path());
        assert!(saved.iter().any(|f| f.ends_with("sop.json")), "{saved:?}");
    }
    let other = DbOptions {
        registry: Some(Registry::Folder),
        state_dir: Some(h1.path().to_path_buf()),
        ..DbOptions::default()
    };
    let err = Database::open(&url, other).err().unwrap();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
    let escape = DbOptions {
        state_dir: Some(h1.path().to_path_buf()),
        ..DbOptions::default()
    };
    let err = Database::open(format!("{url}/../../escape"), escape)
        .err()
        .unwrap();
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
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

impl BucketFaults for Faults {
    fn sending(&self, change: Change, at: &Key) -> Verdict {
        if change != Change::Put || !at.as_ref().contains("/log/") {
            return Verdict::Pass;
        }
        let n = self.puts.fetch_add(1, Ordering::Relaxed) + 1;
        let fail = self.fail_every.load(Ordering::Relaxed);
        if fail > 0 && n.is_multiple_of(fail) {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return Verdict::Fail(format!("503 Slow Down at {at}"));
        }
        let lose = self.lose_reply_every.load(Ordering::Relaxed);
        if lose > 0 && n.is_multiple_of(lose) {
            self.lost.fetch_add(1, Ordering::Relaxed);
            return Verdict::LoseReply(format!("reply lost at {at}"));
        }
        Verdict::Pass
    }

    fn listings_hidden(&self) -> bool {
        self.empty_listings.load(Ordering::Relaxed)
    }
}

/// A bucket in this process behind the fault wrapper.
fn faulty_bucket(name: &str) -> (S3Bucket, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    sop::test_hooks::register_object_store(
        name,
        Arc::new(FaultyBucket::new(Arc::new(InMemory::new()), faults.clone())),
    );
    let mut b = S3Bucket::new(format!("memory://{name}/db"));
    b.timeout_ms = 5_000;
    (b, faults)
}

/// The real server behind a proxy that answers 503s, drops replies after the
/// request applied, holds record PUTs back past the client's timeout (they
/// apply after the committer gave up on them) and hides listings: every Ok
/// increment is there once, every unknown one is settled by `commit_outcome`,
/// none applies twice; a second folder catches up with listings hidden.
#[test]
fn through_a_faulty_proxy_no_acknowledged_commit_is_lost_or_applied_twice() {
    let proxy = S3Proxy::start(&real_bucket().endpoint.unwrap()).unwrap();
    let faults = proxy.faults().clone();
    let mut bucket = real_bucket();
    bucket.endpoint = Some(proxy.endpoint());
    bucket.timeout_ms = 1_000;
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let open = |p: &Path| Database::open(p, opts(&bucket));
    add_one(&open(dir.path()).unwrap()).unwrap();
    let mut out = Outcomes::default();
    let mut db = open(dir.path()).unwrap();
    // Five phases of 15 increments: 503s on every 4th request of any kind;
    // every 3rd record PUT's reply lost; every 4th record PUT held 1.5 s (past
    // the 1 s timeout and its retries); all three at once; listings hidden.
    for i in 0..75 {
        if i % 15 == 0 {
            faults.calm();
            match i / 15 {
                0 => faults.slow_down_every.store(4, Ordering::SeqCst),
                1 => faults.lose_reply_every.store(3, Ordering::SeqCst),
                2 => {
                    faults.hold_ms.store(1_500, Ordering::SeqCst);
                    faults.hold_every.store(4, Ordering::SeqCst)
                }
                3 => {
                    faults.slow_down_every.store(5, Ordering::SeqCst);
                    faults.lose_reply_every.store(4, Ordering::SeqCst);
                    faults.hold_every.store(5, Ordering::SeqCst)
                }
                _ => faults.empty_listings.store(true, Ordering::SeqCst),
            }
        }
        if let Some(unknown) = out.increment(&db) {
            drop(db);
            // A held PUT may still land: let it, then settle with a calm proxy.
            let was = (
                faults.slow_down_every.swap(0, Ordering::SeqCst),
                faults.lose_reply_every.swap(0, Ordering::SeqCst),
                faults.hold_every.swap(0, Ordering::SeqCst),
            );
            let check = open(dir.path()).unwrap();
            out.settle(&check, unknown);
            faults.slow_down_every.store(was.0, Ordering::SeqCst);
            faults.lose_reply_every.store(was.1, Ordering::SeqCst);
            faults.hold_every.store(was.2, Ordering::SeqCst);
            db = check;
        }
    }
    // Listings still hidden: a folder that never saw the bucket catches up by probing.
    let second = open(other.path()).unwrap();
    let seen = faults.summary();
    assert_eq!(
        count(&second),
        1 + out.ok + out.unknown_committed,
        "{out}; {seen}"
    );
    faults.calm();
    drop((db, second));
    out.assert_counted(&open(dir.path()).unwrap(), 1, &seen);
    for (n, what) in [
        (&faults.slowed, "503s"),
        (&faults.lost, "lost replies"),
        (&faults.held, "held requests"),
        (&faults.hidden, "hidden listings"),
    ] {
        assert!(
            n.load(Ordering::SeqCst) > 0,
            "no {what}: the test did not test what it is for; {seen}"
        );
    }
    assert!(
        out.ok >= 30,
        "most commits go through the faults: {out}; {seen}"
    );
    eprintln!("{out}; {seen}");
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
    let set = |lose: u64, fail: u64| {
        faults.lose_reply_every.store(lose, Ordering::Relaxed);
        faults.fail_every.store(fail, Ordering::Relaxed);
    };
    let mut out = Outcomes::default();
    let mut db = reopen(dir.path());
    // Three phases: 30 commits with some replies lost and some PUTs failed (the
    // resends settle them); 10 with every reply lost (each commit's first PUT
    // applies, none is settled: unknown, committed); 10 with every PUT failed
    // (unknown, not committed).
    for i in 0..50 {
        let (lose, fail) = [(3, 7), (3, 7), (3, 7), (1, 0), (0, 1)][i / 10];
        set(lose, fail);
        if let Some(unknown) = out.increment(&db) {
            drop(db);
            // Settled while the store answers (it takes the next sequence).
            set(0, 0);
            db = reopen(dir.path());
            out.settle(&db, unknown);
        }
    }
    set(0, 0);
    drop(db);
    let db = reopen(dir.path());
    let faults_seen = format!(
        "replies lost {}, PUTs failed {}",
        faults.lost.load(Ordering::Relaxed),
        faults.failed.load(Ordering::Relaxed)
    );
    out.assert_counted(&db, 1, &faults_seen);
    assert!(
        faults.lost.load(Ordering::Relaxed) >= 10,
        "{out}; {faults_seen}"
    );
    assert!(
        out.ok >= 15,
        "resent PUTs settle most lost replies: {out}; {faults_seen}"
    );
    assert!(
        out.unknown_committed >= 5 && out.unknown_not >= 5,
        "{out}; {faults_seen}"
    );
    eprintln!("{out}; {faults_seen}");
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

/// Compaction works on a bucket: the live leaves of a mostly dead record are
/// moved into a new record (one create-only PUT, as any commit), reclaim then
/// retires the emptied record to a tombstone, every item reads the same
/// afterwards (from a second folder too), and a stale writer's create-only PUT
/// at the reclaimed sequence is still refused: the name stays taken.
#[test]
fn compaction_moves_live_nodes_out_of_mostly_dead_records_in_a_bucket() {
    use object_store::{PutMode, PutOptions};
    let store = Arc::new(InMemory::new());
    sop::test_hooks::register_object_store("compact", store.clone());
    let bucket = S3Bucket::new("memory://compact/db");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let db = Database::open(a.path(), opts(&bucket)).unwrap();
    let small = StoreOptions {
        slot_length: 16,
        ..Default::default()
    };
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.create_store::<u64, u64>("s", small).unwrap();
    for k in 0..1000u64 {
        s.add(&k, &(k * 7)).unwrap();
    }
    tx.commit().unwrap();
    let first = db.stats().unwrap().head;
    // Four fifths of the first record's leaves die; the rest stay live there.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    for k in 0..800u64 {
        s.remove(&k).unwrap();
    }
    tx.commit().unwrap();
    let r = db.compact().unwrap();
    assert!(r.records_emptied >= 1 && r.nodes_moved > 0, "{r:?}");
    assert!(r.commits >= 1 && r.reclaim.retired >= 1, "{r:?}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let at = Key::from(format!("db/log/{first:016x}.rec"));
    let held = rt
        .block_on(async {
            let got = store.get_opts(&at, Default::default()).await.unwrap();
            got.bytes().await.unwrap()
        })
        .len();
    assert!(
        held < 100,
        "record {first} is a tombstone now ({held} bytes)"
    );
    let stale =
        rt.block_on(store.put_opts(&at, vec![1u8; 64].into(), PutOptions::from(PutMode::Create)));
    assert!(
        matches!(stale, Err(object_store::Error::AlreadyExists { .. })),
        "a stale writer's create-only PUT at a reclaimed sequence is refused: {stale:?}"
    );
    let other = Database::open(b.path(), opts(&bucket)).unwrap();
    for h in [&db, &other] {
        let tx = h.begin(TxMode::ForReading).unwrap();
        let s = tx.open_store::<u64, u64>("s").unwrap();
        assert_eq!(s.count().unwrap(), 200);
        for k in 800..1000u64 {
            assert_eq!(s.get(&k).unwrap(), Some(k * 7));
        }
        drop(tx);
        let report = h.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
    }
    // A second run finds nothing left to move.
    let again = db.compact().unwrap();
    assert_eq!(again.nodes_moved, 0, "{again:?}");
}

// ---- reading: the disk cache and scans that fetch leaves together ----

/// Reads from the bucket wait this long each (a store far away).
#[derive(Default)]
struct SlowReads(AtomicU64);

impl BucketFaults for SlowReads {
    fn read_delay(&self, at: &Key) -> std::time::Duration {
        if at.as_ref().contains("/log/") {
            std::time::Duration::from_millis(self.0.load(Ordering::Relaxed))
        } else {
            std::time::Duration::ZERO
        }
    }
}

/// A bucket in this process whose reads can be slowed, holding store `s` of
/// 3,000 items (`k` -> `3k`) in small leaves (about 190 of them).
fn bucket_of_leaves(name: &str) -> (S3Bucket, Arc<FaultyBucket<SlowReads>>, Arc<SlowReads>) {
    let slow = Arc::new(SlowReads::default());
    let bucket = Arc::new(FaultyBucket::new(Arc::new(InMemory::new()), slow.clone()));
    sop::test_hooks::register_object_store(name, bucket.clone());
    let b = S3Bucket::new(format!("memory://{name}/db"));
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts(&b)).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx
        .create_store::<u64, u64>(
            "s",
            StoreOptions {
                slot_length: 16,
                ..Default::default()
            },
        )
        .unwrap();
    for k in 0..3000u64 {
        s.add(&k, &(k * 3)).unwrap();
    }
    tx.commit().unwrap();
    db.close().unwrap();
    (b, bucket, slow)
}

/// Scan all of store `s` in a NoCheck transaction, every value checked:
/// the GETs the scan sent (after catching up, which probes the next record).
fn scan_all(db: &Database) -> u64 {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    let before = db.read_stats().object_gets;
    let mut n = 0u64;
    for r in s.iter().unwrap() {
        let (k, v) = r.unwrap();
        assert_eq!((k, v), (n, n * 3));
        n += 1;
    }
    assert_eq!(n, 3000);
    db.read_stats().object_gets - before
}

/// The disk cache: a second reader (a new folder, a cold node cache) on the
/// same cache folder scans without a request; a torn entry is fetched again,
/// never served; the bound holds.
#[test]
fn a_disk_cache_serves_a_restarted_reader_and_refetches_a_torn_entry() {
    let (b, _, _) = bucket_of_leaves("disk-cache");
    let cache = tempfile::tempdir().unwrap();
    let with_cache = |dir: &Path| {
        let o = DbOptions {
            object_cache_dir: Some(cache.path().to_path_buf()),
            object_cache_bytes: 64 << 20,
            ..opts(&b)
        };
        Database::open(dir, o).unwrap()
    };
    let (r1, r2, r3) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let db = with_cache(r1.path());
    let cold = scan_all(&db);
    let st = db.read_stats().disk_cache.unwrap();
    assert!(cold > 100, "a cold scan fetches its leaves: {cold} GETs");
    assert!(st.misses > 100 && st.entries > 100, "{st:?}");
    db.close().unwrap();
    let db = with_cache(r2.path());
    assert_eq!(scan_all(&db), 0, "every node from the disk cache");
    let st = db.read_stats().disk_cache.unwrap();
    assert!(st.hits > 100 && st.damaged == 0, "{st:?}");
    db.close().unwrap();
    // Tear one entry (a crash while it was written), flip a byte of another.
    let entries = files_under(cache.path());
    assert!(entries.len() > 100);
    let torn = &entries[0];
    let bytes = std::fs::read(torn).unwrap();
    std::fs::write(torn, &bytes[..bytes.len() / 2]).unwrap();
    let flipped = &entries[1];
    let mut bytes = std::fs::read(flipped).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(flipped, &bytes).unwrap();
    let db = with_cache(r3.path());
    let refetched = scan_all(&db);
    let st = db.read_stats().disk_cache.unwrap();
    assert_eq!(st.damaged, 2, "{st:?}");
    assert!((2..=4).contains(&refetched), "{refetched} GETs");
    assert!(st.bytes <= st.max_bytes);
}

/// A cold scan across many leaves of a bucket asks for the next leaves
/// together (up to `SCAN_PREFETCH` at once), not one round trip per leaf.
#[test]
fn a_cold_scan_fetches_the_next_leaves_together() {
    let (b, bucket, slow) = bucket_of_leaves("prefetch");
    slow.0.store(5, Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts(&b)).unwrap();
    bucket.most_reads_at_once();
    let gets = scan_all(&db);
    let most = bucket.most_reads_at_once();
    assert!(gets > 100, "{gets}");
    assert!(most >= 8, "at most {most} reads were in flight at once");
    // Warm: nothing fetched again.
    assert_eq!(scan_all(&db), 0);
}
