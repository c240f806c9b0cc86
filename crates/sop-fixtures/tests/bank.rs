//! The bank under chaos, with real OS processes: 100 accounts, 6 worker processes
//! doing random transfers (each also writes a ledger entry keyed by its
//! incarnation and a sequence number), 2 auditor processes checking the total
//! balance with ForReading and NoCheck transactions at random moments. Meanwhile
//! the test SIGKILLs and restarts random workers, SIGSTOPs one past its lease
//! (and past the TTL of any node lock it holds) and resumes it, and restarts
//! Redis once (a Redis of this test's own).
//!
//! At the end, from this (fresh) process, after recovery: the total is exact,
//! the balances are exactly the initial ones plus every ledger entry applied
//! once, every transfer a worker reported is in the ledger, the check finds no
//! orphans or leftovers, no process lock file of a worker remains, and no lock
//! key is left in Redis once the lock TTL has passed.

mod support;

use sop::{CassandraRegistry, Coordination, Database, DbOptions, Registry, StoreOptions, TxMode};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use support::{worker_args, OwnRedis, Proc};

const ACCOUNTS: u32 = 100;
const INITIAL: i64 = 1_000;
const WORKERS: usize = 6;
const AUDITORS: usize = 2;
const CHAOS: Duration = Duration::from_secs(20);
const LEASE_MS: u64 = 1_000;
/// Also the TTL of the node locks a commit takes.
const MAX_COMMIT_MS: u64 = 3_000;

fn opts(url: &str) -> DbOptions {
    DbOptions {
        coordination: Some(Coordination::Redis {
            url: url.to_string(),
        }),
        recovery_interval: None,
        lease_ttl: Duration::from_millis(LEASE_MS),
        ..Default::default()
    }
}

#[derive(Default)]
struct Stop {
    at: Duration,
    stop_for: Duration,
    /// Also replace its lock file with an unlocked one (its OS lock lapses).
    lapse_lock: bool,
    slot: Option<usize>,
    inc: Option<u64>,
    since: Option<Instant>,
    resumed: bool,
    resumed_line: usize,
    proc_id: Option<u128>,
}

/// The `procs/<id>.lock` file process `pid` holds open (its liveness lock).
fn lock_file_of(pid: i32, procs: &std::path::Path) -> std::path::PathBuf {
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        if let Ok(target) = std::fs::read_link(e.unwrap().path()) {
            if target.parent() == Some(procs) && target.extension().is_some_and(|x| x == "lock") {
                return target;
            }
        }
    }
    panic!("process {pid} holds no lock file in {}", procs.display());
}

struct Slot {
    proc: Proc,
    incarnation: u64,
}

#[test]
fn bank_under_chaos_keeps_every_transfer_exactly_once() {
    bank(Registry::Folder, false);
}

fn test_cassandra() -> Registry {
    let hosts = std::env::var("SOP_TEST_CASSANDRA").expect(
        "SOP_TEST_CASSANDRA is not set: run through scripts/test.sh (it starts a Cassandra node)",
    );
    Registry::Cassandra(CassandraRegistry::new(
        hosts.split(',').map(str::to_string).collect(),
        "sop_bank",
    ))
}

/// The bank with the test Cassandra node SIGKILLed and started again in the
/// middle of the run (`restart_test_cassandra`), besides worker kills and a
/// Redis restart (no SIGSTOPs: fencing needs the registry up). Workers and
/// auditors ride out the outage (`--ride-out`): what failed before the commit
/// point is tried again, an unknown outcome is settled by `commit_outcome`
/// once the node is back. No acknowledged transfer may be lost, the totals
/// stay exact, and transfers go on after the restart. About 40 s; fails
/// without the node. The node is shared with the other tests, but nothing else
/// uses it meanwhile: every test here holds `support::serial()`, and cargo
/// runs one test binary at a time.
#[test]
fn bank_keeps_every_transfer_when_the_cassandra_node_is_killed_and_restarted() {
    bank(test_cassandra(), true);
}

/// The same chaos with the registry and the commit point on the test Cassandra
/// node (`SOP_TEST_CASSANDRA`; fails without it): a SIGSTOPped worker's claim
/// may arrive after it was fenced, a killed one's may be half done.
#[test]
fn bank_under_chaos_keeps_every_transfer_exactly_once_with_the_registry_on_cassandra() {
    bank(test_cassandra(), false);
}

/// The same chaos with the whole database in a bucket of the test S3 server
/// (`SOP_TEST_S3_ENDPOINT`; fails without it): a SIGSTOPped worker's PUT may
/// land after it was fenced, a killed one's may have applied unacknowledged.
#[test]
fn bank_under_chaos_keeps_every_transfer_exactly_once_in_a_bucket() {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: run through scripts/test.sh (it starts an S3 server)")
        })
    };
    let mut b = sop::S3Bucket::new(format!(
        "s3://{}/bank/{:016x}",
        var("SOP_TEST_S3_BUCKET"),
        fastrand::u64(..)
    ));
    b.endpoint = Some(var("SOP_TEST_S3_ENDPOINT"));
    bank(Registry::S3(b), false);
}

fn bank(registry: Registry, node_restart: bool) {
    let _g = support::serial();
    let t0 = Instant::now();
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    {
        let db = Database::open(
            &dir,
            DbOptions {
                registry: Some(registry),
                ..opts(&url)
            },
        )
        .unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let acc = tx
            .create_store::<u32, i64>(
                "accounts",
                StoreOptions {
                    slot_length: 16,
                    ..Default::default()
                },
            )
            .unwrap();
        for a in 0..ACCOUNTS {
            acc.add(&a, &INITIAL).unwrap();
        }
        tx.create_store::<(u64, u64), (u32, u32, i64)>(
            "ledger",
            StoreOptions {
                slot_length: 64,
                ..Default::default()
            },
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let total = ACCOUNTS as i64 * INITIAL;
    let mut common = [
        "--lease-ms",
        &LEASE_MS.to_string(),
        "--max-commit-ms",
        &MAX_COMMIT_MS.to_string(),
        "--recovery-ms",
        "2000",
    ]
    .map(String::from)
    .to_vec();
    if node_restart {
        common.push("--ride-out".into());
    }
    let spawn_worker = |slot: usize, incarnation: u64| -> Proc {
        let mut extra: Vec<&str> = common.iter().map(|s| s.as_str()).collect();
        let inc = incarnation.to_string();
        extra.extend(["--accounts", "100", "--incarnation", &inc]);
        Proc::spawn(
            format!("worker {slot} (incarnation {incarnation})"),
            &worker_args("bank", &dir, &url, &extra),
        )
    };
    let mut next_inc = 1u64;
    let mut slots: Vec<Slot> = (0..WORKERS)
        .map(|i| {
            let inc = next_inc;
            next_inc += 1;
            Slot {
                proc: spawn_worker(i, inc),
                incarnation: inc,
            }
        })
        .collect();
    let mut auditors: Vec<Proc> = (0..AUDITORS)
        .map(|i| {
            let mut extra: Vec<&str> = common.iter().map(|s| s.as_str()).collect();
            let t = total.to_string();
            extra.extend(["--accounts", "100", "--total", &t, "--pause-ms", "150"]);
            Proc::spawn(
                format!("auditor {i}"),
                &worker_args("audit", &dir, &url, &extra),
            )
        })
        .collect();
    for s in &slots {
        s.proc.expect("STARTED", Duration::from_secs(30));
    }
    for a in &auditors {
        a.expect("STARTED", Duration::from_secs(30));
    }

    // Chaos. Two workers are stopped for a while: the first only past its lease
    // and its locks' TTL (on this host its OS lock on procs/<id>.lock still shows
    // it alive, so it must carry on and commit); the second also loses that lock
    // (its lock file is replaced by an unlocked one, as when a process on another
    // host stalls past its NFS lock lease), so the others' recovery presumes it
    // dead and fences it: when it resumes it must stop with Error::Fenced (or a
    // clean error), having changed nothing after the fence.
    let mut rng = fastrand::Rng::with_seed(0xba4c);
    let mut retired: Vec<(Proc, u64, bool)> = Vec::new(); // (process, incarnation, killed)
    let mut kills = 0;
    let start = Instant::now();
    let mut stops = vec![
        Stop {
            at: Duration::from_secs(3),
            stop_for: Duration::from_secs(4),
            lapse_lock: false,
            ..Default::default()
        },
        Stop {
            at: Duration::from_secs(12),
            stop_for: Duration::from_secs(7),
            lapse_lock: true,
            ..Default::default()
        },
    ];
    if node_restart {
        stops.clear();
    }
    // The node's restart runs beside the chaos; the chaos goes on until a few
    // seconds after the node is back, so transfers resume on it.
    let restart = node_restart.then(|| {
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_secs(4));
            eprintln!("chaos: SIGKILL the Cassandra node, start it again");
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../scripts/cassandra-env.sh");
            let st = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!(
                    ". '{}' && restart_test_cassandra",
                    script.display()
                ))
                .status()
                .unwrap();
            assert!(st.success(), "restarting the node: {st}");
            eprintln!("chaos: the Cassandra node is back");
            Instant::now()
        })
    });
    let mut back_at: Option<Instant> = None;
    let mut lines_at_back: Vec<usize> = Vec::new();
    let redis_at = Duration::from_secs(8);
    let mut redis_restarted = false;
    let mut next_kill = start + Duration::from_millis(rng.u64(1000..2000));
    let elapsed = |start: Instant| start.elapsed().as_secs_f64();
    let chaos_on = |back_at: Option<Instant>| {
        start.elapsed() < CHAOS
            || (node_restart && back_at.is_none_or(|t| t.elapsed() < Duration::from_secs(5)))
    };
    while chaos_on(back_at) {
        std::thread::sleep(Duration::from_millis(50));
        if let (Some(r), None) = (&restart, back_at) {
            if r.is_finished() {
                back_at = Some(Instant::now());
                lines_at_back = slots.iter().map(|s| s.proc.all_lines().len()).collect();
            }
        }
        let now = Instant::now();
        let taken: Vec<usize> = stops.iter().filter_map(|s| s.slot).collect();
        for st in stops.iter_mut() {
            if st.slot.is_none() && start.elapsed() >= st.at {
                let i = (0..WORKERS)
                    .cycle()
                    .skip(rng.usize(0..WORKERS))
                    .find(|i| !taken.contains(i))
                    .unwrap();
                let p = &slots[i].proc;
                let lock = if st.lapse_lock {
                    Some(lock_file_of(p.pid(), &dir.join("procs")))
                } else {
                    None
                };
                p.signal(libc::SIGSTOP);
                if let Some(lock) = &lock {
                    // The stopped process keeps its lock on the old inode; the
                    // others now find an unlocked file of that name.
                    std::fs::remove_file(lock).unwrap();
                    std::fs::write(lock, b"").unwrap();
                    st.proc_id = Some(
                        u128::from_str_radix(lock.file_stem().unwrap().to_str().unwrap(), 16)
                            .unwrap(),
                    );
                }
                st.slot = Some(i);
                st.inc = Some(slots[i].incarnation);
                st.since = Some(now);
                eprintln!(
                    "chaos {:>5.1}s: SIGSTOP worker {i} (incarnation {}){}",
                    elapsed(start),
                    slots[i].incarnation,
                    if st.lapse_lock {
                        ", its process lock lapses"
                    } else {
                        ""
                    }
                );
            }
            if let (Some(i), Some(since), false) = (st.slot, st.since, st.resumed) {
                if now - since >= st.stop_for {
                    slots[i].proc.signal(libc::SIGCONT);
                    st.resumed = true;
                    st.resumed_line = slots[i].proc.all_lines().len();
                    eprintln!("chaos {:>5.1}s: SIGCONT worker {i}", elapsed(start));
                }
            }
        }
        if !redis_restarted && start.elapsed() >= redis_at {
            redis.down();
            eprintln!("chaos {:>5.1}s: Redis down", elapsed(start));
            std::thread::sleep(Duration::from_millis(1000));
            redis.up();
            redis_restarted = true;
            eprintln!("chaos {:>5.1}s: Redis up (empty)", elapsed(start));
        }
        if now >= next_kill {
            next_kill = now + Duration::from_millis(rng.u64(1000..2500));
            let i = rng.usize(0..WORKERS);
            if stops.iter().any(|s| s.slot == Some(i)) {
                continue; // the stopped (and resumed) workers are left to run on
            }
            let status = slots[i].proc.kill();
            kills += 1;
            let inc = next_inc;
            next_inc += 1;
            eprintln!(
                "chaos {:>5.1}s: SIGKILL worker {i} (incarnation {}, {status}); restarted as incarnation {inc}",
                elapsed(start),
                slots[i].incarnation
            );
            let old = std::mem::replace(
                &mut slots[i],
                Slot {
                    proc: spawn_worker(i, inc),
                    incarnation: inc,
                },
            );
            retired.push((old.proc, old.incarnation, true));
        }
    }
    for st in &stops {
        assert!(
            st.resumed,
            "the chaos ended before every stopped worker was resumed"
        );
    }
    // The fenced worker needs a moment after it resumed to try a commit, and
    // the others' recovery may publish the fence only after their next round
    // (slower on a remote store): wait until it stops with its FENCED line, up
    // to 10 s, before everyone is told to stop.
    std::thread::sleep(Duration::from_millis(500));
    if let Some(i) = stops.iter().find(|s| s.lapse_lock).and_then(|s| s.slot) {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until
            && !slots[i]
                .proc
                .all_lines()
                .iter()
                .any(|l| l.starts_with("FENCED") || l.starts_with("ERROR"))
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    if let Some(r) = restart {
        r.join().unwrap();
        let after: usize = slots
            .iter()
            .zip(&lines_at_back)
            .map(|(s, from)| {
                s.proc.all_lines()[(*from).min(s.proc.all_lines().len())..]
                    .iter()
                    .filter(|l| l.starts_with("T "))
                    .count()
            })
            .sum();
        eprintln!("transfers after the node came back: {after}");
        assert!(after > 0, "no transfer after the Cassandra node came back");
    }
    // Stop everyone cleanly (stdin closed), then look at what they said.
    for s in slots.iter_mut() {
        s.proc.close_stdin();
    }
    for a in auditors.iter_mut() {
        a.close_stdin();
    }
    let mut fenced = Vec::new();
    for s in slots.drain(..) {
        let mut p = s.proc;
        let st = p.wait(Duration::from_secs(60));
        let lines = p.all_lines();
        let last = &lines[lines.len().saturating_sub(3)..];
        match stops.iter().find(|x| x.inc == Some(s.incarnation)) {
            Some(stop) => {
                let after = lines[stop.resumed_line.min(lines.len())..]
                    .iter()
                    .filter(|l| l.starts_with("T "))
                    .count();
                eprintln!("stopped worker (lock lapsed: {}) committed {after} transfers after it resumed; it ended with {st}: {last:?}", stop.lapse_lock);
                if stop.lapse_lock {
                    assert!(
                        st.code() == Some(3) || (st.code() == Some(2) && lines.iter().any(|l| l.starts_with("ERROR"))),
                        "{}: presumed dead and fenced, it must stop with Fenced or a clean error; it ended with {st}: {last:?}",
                        p.name
                    );
                    fenced.push(s.incarnation);
                } else {
                    assert!(st.success(), "{}: alive (its OS lock held) it must carry on; it ended with {st}: {last:?}", p.name);
                    assert!(after > 0, "{}: committed nothing after it resumed", p.name);
                }
            }
            None => assert!(
                st.success(),
                "{} exited with {st}; last lines {last:?}",
                p.name
            ),
        }
        retired.push((p, s.incarnation, false));
    }
    let (mut audits_ok, mut audits_nocheck) = (0, 0);
    for mut a in auditors {
        let st = a.wait(Duration::from_secs(60));
        for l in a.all_lines() {
            assert!(!l.starts_with("AUDIT BAD"), "{}: {l}", a.name);
            assert!(!l.starts_with("ERROR"), "{}: {l}", a.name);
            if l.starts_with("AUDIT OK") {
                audits_ok += 1;
                audits_nocheck += l.contains("NoCheck") as usize;
            }
        }
        assert!(st.success(), "{} exited with {st}", a.name);
    }
    assert!(audits_ok >= 20, "only {audits_ok} audits completed");

    // Every transfer a worker reported, by (incarnation, n).
    let mut reported: HashMap<(u64, u64), (u32, u32, i64)> = HashMap::new();
    let mut killed_incs = Vec::new();
    for (p, inc, killed) in &retired {
        if *killed {
            killed_incs.push(*inc);
        }
        for l in p.all_lines() {
            let f: Vec<&str> = l.split(' ').collect();
            match f[0] {
                "T" => {
                    let key = (f[1].parse().unwrap(), f[2].parse().unwrap());
                    assert_eq!(key.0, *inc);
                    let v = (
                        f[3].parse().unwrap(),
                        f[4].parse().unwrap(),
                        f[5].parse().unwrap(),
                    );
                    assert!(
                        reported.insert(key, v).is_none(),
                        "transfer {key:?} reported twice"
                    );
                }
                "ERROR" | "FENCED" if fenced.contains(inc) => {}
                "ERROR" | "FENCED" => panic!("{}: {l}", p.name),
                _ => {}
            }
        }
    }

    // Recovery from this fresh process: the first pass starts the clock on the
    // killed workers' missing leases, the second (a lease TTL later) removes
    // what they left.
    std::thread::sleep(Duration::from_millis(LEASE_MS + 200));
    let db = Database::open(&dir, opts(&url)).unwrap();
    std::thread::sleep(Duration::from_millis(LEASE_MS + 200));
    let rep = db.recover().unwrap();
    eprintln!("final recovery: {rep:?}");
    let tx = db.begin(TxMode::ForReading).unwrap();
    let acc = tx.open_store::<u32, i64>("accounts").unwrap();
    let balances: BTreeMap<u32, i64> = acc.iter().unwrap().map(|r| r.unwrap()).collect();
    let ledger = tx
        .open_store::<(u64, u64), (u32, u32, i64)>("ledger")
        .unwrap();
    #[allow(clippy::type_complexity)]
    let entries: Vec<((u64, u64), (u32, u32, i64))> =
        ledger.iter().unwrap().map(|r| r.unwrap()).collect();
    tx.commit().unwrap();
    assert_eq!(balances.len() as u32, ACCOUNTS);
    assert_eq!(balances.values().sum::<i64>(), total, "the total balance");
    // Balances = initial + every ledger entry applied exactly once.
    let mut expect: BTreeMap<u32, i64> = (0..ACCOUNTS).map(|a| (a, INITIAL)).collect();
    for (_, (from, to, amount)) in &entries {
        *expect.get_mut(from).unwrap() -= amount;
        *expect.get_mut(to).unwrap() += amount;
    }
    assert_eq!(
        balances, expect,
        "balances are the initial ones plus every ledger entry, once"
    );
    // Every reported transfer is in the ledger, as reported.
    let ledger_map: HashMap<(u64, u64), (u32, u32, i64)> = entries.iter().cloned().collect();
    for (k, v) in &reported {
        assert_eq!(
            ledger_map.get(k),
            Some(v),
            "reported transfer {k:?} in the ledger"
        );
    }
    // Per incarnation, the ledger holds transfers 0..m; the worker reported all of
    // them, except that one SIGKILLed (or the stopped one) may have died between
    // its commit and its report of the last.
    let mut per_inc: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for ((inc, n), _) in &entries {
        per_inc.entry(*inc).or_default().push(*n);
    }
    for (inc, ns) in &per_inc {
        assert_eq!(
            *ns,
            (0..ns.len() as u64).collect::<Vec<_>>(),
            "incarnation {inc}: transfer numbers are contiguous"
        );
        let rep_n = reported.keys().filter(|(i, _)| i == inc).count();
        let may_lose_last = killed_incs.contains(inc) || fenced.contains(inc);
        assert!(
            rep_n == ns.len() || (may_lose_last && rep_n + 1 == ns.len()),
            "incarnation {inc}: {} in the ledger, {rep_n} reported",
            ns.len()
        );
    }
    // The worker whose lock lapsed was fenced by an abort record naming it.
    // Through the database: the records may be files, rows or objects.
    let mut aborted = std::collections::HashSet::new();
    {
        let db = Database::open(&dir, opts(&url)).unwrap();
        for seq in 1..=db.head().unwrap() {
            let rec = sop::test_hooks::read_record(&db, seq).unwrap().unwrap();
            aborted.extend(rec.aborts);
        }
    }
    // (None was stopped in the run with the Cassandra node restarted.)
    if let Some(st) = stops.iter().find(|s| s.lapse_lock) {
        let lapsed = st.proc_id.unwrap();
        assert!(
            aborted.contains(&lapsed),
            "no abort record fences the worker whose lock lapsed ({lapsed:032x})"
        );
    }
    let check = db.check().unwrap();
    assert!(check.is_ok(), "check: {:?}", check.problems);
    let procs: Vec<String> = std::fs::read_dir(dir.join("procs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        procs.len(),
        1,
        "only this process's lock file remains: {procs:?}"
    );
    // Lock keys in Redis: every one has a TTL no longer than a commit's; after it, none.
    let pattern = format!("sop:{}:lock:*", support::db_id(&dir));
    for k in support::redis_keys(&url, &pattern) {
        let ttl = support::redis_pttl(&url, &k);
        assert!(
            ttl == -2 || (0..=MAX_COMMIT_MS as i64).contains(&ttl),
            "lock key {k} has TTL {ttl} ms"
        );
    }
    std::thread::sleep(Duration::from_millis(MAX_COMMIT_MS + 200));
    let left = support::redis_keys(&url, &pattern);
    assert!(left.is_empty(), "stale lock keys in Redis: {left:?}");
    eprintln!(
        "bank: {} transfers in the ledger ({} reported), {} incarnations, {kills} SIGKILLs, fenced incarnations {fenced:?}, {audits_ok} audits ({audits_nocheck} NoCheck), {:.1} s",
        entries.len(),
        reported.len(),
        per_inc.len(),
        t0.elapsed().as_secs_f64()
    );
    drop(db);
    support::remove_later(tmp);
}
