//! Clustered mode against a real Redis.

mod support;

use sop::test_hooks::{Coordinator, RedisCoordinator};
use sop::{Coordination, Database, DbOptions, Error, StoreOptions, TxMode};
use std::time::Duration;

fn clustered(url: &str) -> DbOptions {
    DbOptions {
        coordination: Some(Coordination::Redis {
            url: url.to_string(),
        }),
        recovery_interval: None,
        ..Default::default()
    }
}

/// Store "s" (8 items per node) holding i -> i for i < 200.
fn fill(db: &Database) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx
        .create_store::<u64, u64>(
            "s",
            StoreOptions {
                slot_length: 8,
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..200 {
        s.add(&i, &i).unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn unreachable_redis_at_open_names_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let e = Database::open(dir.path(), clustered("redis://127.0.0.1:1/"))
        .err()
        .unwrap();
    assert!(matches!(e, Error::Coordinator(_)), "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
}

#[test]
fn switch_standalone_to_clustered_and_back_by_configuration() {
    let url = support::redis_url();
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(
            dir.path(),
            DbOptions {
                recovery_interval: None,
                ..Default::default()
            },
        )
        .unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        tx.create_store::<u64, String>("s", StoreOptions::default())
            .unwrap()
            .add(&1, &"standalone".into())
            .unwrap();
        tx.commit().unwrap();
    }
    Database::set_coordination(dir.path(), Coordination::Redis { url: url.clone() }).unwrap();
    {
        let db = Database::open(
            dir.path(),
            DbOptions {
                recovery_interval: None,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            db.config().coordination,
            Coordination::Redis { url: url.clone() }
        );
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, String>("s").unwrap();
        assert_eq!(s.get(&1).unwrap().as_deref(), Some("standalone"));
        s.add(&2, &"clustered".into()).unwrap();
        tx.commit().unwrap();
    }
    Database::set_coordination(dir.path(), Coordination::Standalone).unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            recovery_interval: None,
            ..Default::default()
        },
    )
    .unwrap();
    let tx = db.begin(TxMode::ForReading).unwrap();
    assert_eq!(
        tx.open_store::<u64, String>("s").unwrap().count().unwrap(),
        2
    );
}

#[test]
fn lock_leases_belong_to_their_owner() {
    let url = support::redis_url();
    let c = RedisCoordinator::connect(&url, &format!("leases-{}", std::process::id())).unwrap();
    let key = [(7u64, 9u64)];
    let soon = || Duration::from_millis(50);
    assert!(c
        .lock(1, &key, Duration::from_millis(1000), soon())
        .unwrap());
    assert!(
        !c.lock(2, &key, Duration::from_millis(1000), soon())
            .unwrap(),
        "held by 1"
    );
    c.unlock(2, &key).unwrap();
    assert_eq!(
        c.holder(&key[0]).unwrap(),
        Some(format!("{:032x}", 1u128)),
        "a stranger cannot release it"
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert!(
        c.lock(2, &key, Duration::from_secs(5), soon()).unwrap(),
        "expired: B takes it over"
    );
    c.unlock(1, &key).unwrap();
    assert_eq!(
        c.holder(&key[0]).unwrap(),
        Some(format!("{:032x}", 2u128)),
        "the old owner cannot release B's lock"
    );
    c.unlock(2, &key).unwrap();
    assert_eq!(c.holder(&key[0]).unwrap(), None);
    assert!(c.lock(3, &key, Duration::from_secs(5), soon()).unwrap());
    c.unlock(2, &key).unwrap();
    assert_eq!(
        c.holder(&key[0]).unwrap(),
        Some(format!("{:032x}", 3u128)),
        "released once; a second release by 2 is a no-op"
    );
    // All or nothing: a set overlapping a held key takes none of its keys.
    assert!(!c
        .lock(4, &[(7, 8), (7, 9)], Duration::from_secs(5), soon())
        .unwrap());
    assert_eq!(c.holder(&(7, 8)).unwrap(), None);
    c.unlock(3, &key).unwrap();
}

#[test]
fn two_handles_merge_and_see_each_others_commits() {
    let url = support::redis_url();
    let dir = tempfile::tempdir().unwrap();
    let a = Database::open(dir.path(), clustered(&url)).unwrap();
    let b = Database::open(dir.path(), clustered(&url)).unwrap();
    let tx = a.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, u64>("s", StoreOptions::default())
        .unwrap();
    tx.commit().unwrap();
    // B's caches are warm...
    let tx = b.begin(TxMode::ForReading).unwrap();
    assert_eq!(
        tx.open_store::<u64, u64>("s").unwrap().get(&1).unwrap(),
        None
    );
    drop(tx);
    // ...A commits; B's next transaction sees it.
    let tx = a.begin(TxMode::ForWriting).unwrap();
    tx.open_store::<u64, u64>("s")
        .unwrap()
        .add(&1, &10)
        .unwrap();
    tx.commit().unwrap();
    let tx = b.begin(TxMode::ForReading).unwrap();
    assert_eq!(
        tx.open_store::<u64, u64>("s").unwrap().get(&1).unwrap(),
        Some(10)
    );
    drop(tx);
    // Two writers of different keys in one node both commit (merge).
    let ta = a.begin(TxMode::ForWriting).unwrap();
    let tb = b.begin(TxMode::ForWriting).unwrap();
    ta.open_store::<u64, u64>("s")
        .unwrap()
        .add(&2, &20)
        .unwrap();
    tb.open_store::<u64, u64>("s")
        .unwrap()
        .add(&3, &30)
        .unwrap();
    ta.commit().unwrap();
    tb.commit().unwrap();
    // The same key: exactly one wins.
    let ta = a.begin(TxMode::ForWriting).unwrap();
    let tb = b.begin(TxMode::ForWriting).unwrap();
    let va = ta
        .open_store::<u64, u64>("s")
        .unwrap()
        .get(&1)
        .unwrap()
        .unwrap();
    ta.open_store::<u64, u64>("s")
        .unwrap()
        .update(&1, &(va + 1))
        .unwrap();
    let vb = tb
        .open_store::<u64, u64>("s")
        .unwrap()
        .get(&1)
        .unwrap()
        .unwrap();
    tb.open_store::<u64, u64>("s")
        .unwrap()
        .update(&1, &(vb + 1))
        .unwrap();
    ta.commit().unwrap();
    assert!(tb.commit().unwrap_err().is_conflict());
    let tx = b.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    assert_eq!(s.get(&1).unwrap(), Some(11));
    assert_eq!(s.count().unwrap(), 3);
}

#[test]
fn emptying_redis_costs_only_speed() {
    // FLUSHALL: on a Redis of its own, not the one other tests share.
    let own = support::OwnRedis::start();
    let url = own.url();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), clustered(&url)).unwrap();
    fill(&db);
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();
    for round in 0..3u64 {
        let _: () = redis::cmd("FLUSHALL").query(&mut conn).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, u64>("s").unwrap();
        for i in 0..200 {
            assert_eq!(
                s.get(&i).unwrap(),
                Some(i + round * 1000 - if round == 0 { 0 } else { 1000 })
            );
            s.update(&i, &(i + (round + 1) * 1000 - 1000)).unwrap();
        }
        tx.commit().unwrap();
    }
    assert!(db.check().unwrap().is_ok());
}

/// Redis away mid-transaction: a commit that meets no other writer needs no
/// lock (its first attempt takes none) and commits on the folder alone; one
/// that lost a race to another writer of its nodes asks for the locks, fails
/// cleanly with `Error::Coordinator` and commits nothing; with Redis back, it
/// commits.
#[test]
fn redis_lost_mid_transaction_costs_only_speed_or_fails_cleanly() {
    let mut redis = support::OwnRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), clustered(&redis.url())).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, u64>("s", StoreOptions::default())
        .unwrap()
        .add(&1, &1)
        .unwrap();
    tx.commit().unwrap();
    let first = db.begin(TxMode::ForWriting).unwrap();
    first
        .open_store::<u64, u64>("s")
        .unwrap()
        .add(&2, &2)
        .unwrap();
    let second = db.begin(TxMode::ForWriting).unwrap();
    second
        .open_store::<u64, u64>("s")
        .unwrap()
        .add(&3, &3)
        .unwrap();
    redis.down();
    first.commit().unwrap();
    let head = db.head().unwrap();
    // `second` read the leaf `first` changed: it merges, then wants the locks.
    let e = second.commit().unwrap_err();
    assert!(matches!(e, Error::Coordinator(_)), "{e}");
    assert_eq!(db.head().unwrap(), head, "nothing more was committed");
    redis.up();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.open_store::<u64, u64>("s").unwrap().add(&3, &3).unwrap();
    tx.commit().unwrap();
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    let got: Vec<(u64, u64)> = s.iter().unwrap().map(|i| i.unwrap()).collect();
    assert_eq!(got, vec![(1, 1), (2, 2), (3, 3)]);
    tx.commit().unwrap();
}

/// Several processes recovering at once take each other's turn at a dead process's
/// lock file: one that finds it locked (another recovery is checking it) must still
/// start timing the missing lease then, or the dead process's leftovers can survive
/// every concurrent pass (each recoverer sees the lease missing "for the first
/// time" whenever it finally gets the lock).
#[test]
fn a_dead_process_locked_by_another_recovery_is_timed_from_the_first_look() {
    let url = support::redis_url();
    let dir = tempfile::tempdir().unwrap();
    drop(Database::open(dir.path(), clustered(&url)).unwrap());
    // The leftovers of a dead process: its lock file and a temporary record.
    let ghost = uuid_like();
    let lock_path = dir.path().join("procs").join(format!("{ghost:032x}.lock"));
    let tmp_path = dir
        .path()
        .join("tmp")
        .join(format!("{ghost:032x}-00000001.tmp"));
    std::fs::write(&lock_path, b"").unwrap();
    std::fs::write(&tmp_path, b"never linked").unwrap();
    // Another process's recovery holds the dead process's lock while checking it.
    let other = std::fs::File::open(&lock_path).unwrap();
    other.try_lock().unwrap();
    let ttl = Duration::from_millis(300);
    let db = Database::open(
        dir.path(),
        DbOptions {
            lease_ttl: ttl,
            ..clustered(&url)
        },
    )
    .unwrap();
    assert!(tmp_path.exists(), "locked: presumed alive for now");
    drop(other);
    std::thread::sleep(ttl + Duration::from_millis(100));
    let r = db.recover().unwrap();
    assert!(
        !tmp_path.exists(),
        "its lease has been missing since this process first looked, longer than the TTL: {r:?}"
    );
    assert!(!lock_path.exists());
}

fn uuid_like() -> u128 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (t << 32) ^ (std::process::id() as u128) ^ 0x5eed_0000_0000_0000_0000_0000_0000_0000
}

#[test]
fn the_shared_node_cache_can_be_turned_off() {
    let url = support::redis_url();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();
    for shared in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let opts = || DbOptions {
            shared_node_cache: Some(shared),
            ..clustered(&url)
        };
        let db = Database::open(dir.path(), opts()).unwrap();
        fill(&db);
        // A second handle has a cold cache: it reads every node from disk.
        let other = Database::open(dir.path(), opts()).unwrap();
        let tx = other.begin(TxMode::ForReading).unwrap();
        let s = tx.open_store::<u64, u64>("s").unwrap();
        for i in 0..200 {
            assert_eq!(s.get(&i).unwrap(), Some(i));
        }
        tx.commit().unwrap();
        let pattern = format!("sop:{}:node:*", db.config().id);
        let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut conn).unwrap();
        if shared {
            assert!(keys.len() > 20, "{} node images shared", keys.len());
        } else {
            assert!(keys.is_empty(), "{} node images shared", keys.len());
        }
    }
}

#[test]
fn by_default_the_shared_node_cache_is_off_on_a_local_disk_only() {
    // The test folders are on the machine's own disk (ext4 here, tmpfs or XFS
    // elsewhere): known local.
    let dir = tempfile::tempdir().unwrap();
    assert!(sop::is_local_fs(dir.path()));
    assert!(sop::is_local_fs(&dir.path().join("not/made/yet")));
    let url = support::redis_url();
    let db = Database::open(dir.path(), clustered(&url)).unwrap();
    fill(&db);
    let other = Database::open(dir.path(), clustered(&url)).unwrap();
    let tx = other.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    assert_eq!(s.get(&7).unwrap(), Some(7));
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let pattern = format!("sop:{}:node:*", db.config().id);
    let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut conn).unwrap();
    assert!(keys.is_empty(), "{} node images shared", keys.len());
    // /proc is neither: not local, so a folder there would share.
    assert!(!sop::is_local_fs(std::path::Path::new("/proc/self")));
}

/// Fencing in simulated time (the clock of the I/O seam, held still): a process
/// on another host (its lock file free here, its lease missing from Redis) is
/// presumed dead only once its lease has been missing for longer than the TTL,
/// as this process's clock measures it. Before that, its leftovers stay; after,
/// recovery publishes a record fencing it off and removes them. A 30 s TTL
/// takes no real time.
#[test]
fn a_missing_lease_is_fenced_only_after_the_ttl_in_simulated_time() {
    use sop::Vfs;
    use sop_testkit::SimVfs;
    use std::path::Path;
    use std::sync::Arc;
    let url = support::redis_url();
    let sim = SimVfs::new();
    sim.pause_clock();
    let ttl = Duration::from_secs(30);
    let opts = DbOptions {
        vfs: Some(Arc::new(sim.clone())),
        lease_ttl: ttl,
        ..clustered(&url)
    };
    let root = Path::new("/db");
    let db = Database::open(root, opts).unwrap();
    let ghost = uuid_like();
    let layout = sop::Layout::new(root);
    let lock_path = layout.proc_lock(ghost);
    let tmp_path = layout.tmp().join(format!("{ghost:032x}-00000001.tmp"));
    sim.create_new(&lock_path).unwrap();
    sim.create_new(&tmp_path)
        .unwrap()
        .append(b"never linked")
        .unwrap();
    let started = std::time::Instant::now();
    let head = db.head().unwrap();
    // First look: the lease is missing, timing starts.
    assert_eq!(db.recover().unwrap().dead_processes, 0);
    sim.advance(Duration::from_secs(29));
    assert_eq!(db.recover().unwrap().dead_processes, 0);
    assert!(sim.exists(&tmp_path).unwrap(), "29 s of a 30 s TTL: alive");
    assert_eq!(db.head().unwrap(), head, "nobody fenced yet");
    sim.advance(Duration::from_secs(2));
    let r = db.recover().unwrap();
    assert_eq!(r.dead_processes, 1, "{r:?}");
    assert_eq!(
        db.head().unwrap(),
        head + 1,
        "a record fences the dead process off"
    );
    assert!(!sim.exists(&tmp_path).unwrap());
    assert!(!sim.exists(&lock_path).unwrap());
    assert!(db.check().unwrap().is_ok());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "simulated time took real time"
    );
}
