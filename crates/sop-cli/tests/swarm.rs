//! The compute swarm with real OS processes: `sop worker`s over one folder,
//! SIGKILLed at random and restarted (every job's effect still exactly once),
//! one SIGSTOPped past its lease (it cannot commit), SIGTERM (the running job
//! finishes), the ETL fan-out with 1, 2 and 4 workers, and the `sop script` and
//! `sop job` commands as a user types them.

use serde_json::{json, Value};
use sop::{Database, DbOptions, StoreOptions, TxMode};
use sop_swarm::{jobs, JobFilter, JobState, SubmitOptions, Swarm, SwarmOptions};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

const SOP: &str = env!("CARGO_BIN_EXE_sop");

/// The longest any wait in these tests may take before it is a failure (a
/// guard against hanging, not a measurement).
const PATIENCE: Duration = Duration::from_secs(240);

fn sop(db: &Path, args: &[&str]) -> Output {
    Command::new(SOP)
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run sop")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(db: &Path, args: &[&str]) -> String {
    let o = sop(db, args);
    assert!(
        o.status.success(),
        "sop {args:?} failed: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn ok_json(db: &Path, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(db, &a)).unwrap()
}

fn fails(db: &Path, args: &[&str], msg: &str) -> String {
    let o = sop(db, args);
    let err = text(&o.stderr);
    assert!(
        !o.status.success(),
        "sop {args:?} should fail: {}",
        text(&o.stdout)
    );
    assert!(
        err.contains(msg),
        "sop {args:?}: expected {msg:?} in: {err}"
    );
    err
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scripts")
}

/// A `sop worker` process, its stderr in a file.
struct WorkerProc {
    child: Child,
    log: PathBuf,
}

impl WorkerProc {
    fn spawn(db: &Path, log: PathBuf, args: &[&str]) -> WorkerProc {
        let err = File::create(&log).unwrap();
        let out = File::create(log.with_extension("out")).unwrap();
        let child = Command::new(SOP)
            .arg("--db")
            .arg(db)
            .arg("--json")
            .arg("worker")
            .args(args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn sop worker");
        WorkerProc { child, log }
    }
    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let r = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(r, 0, "kill({sig})");
    }
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    /// Its report on stdout, once it has exited (`--json`).
    fn report(&self) -> Value {
        let out = std::fs::read_to_string(self.log.with_extension("out")).unwrap();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    }
    /// Wait for it to exit; it must exit 0.
    fn wait_ok(mut self) -> String {
        let st = self.child.wait().unwrap();
        let log = self.log();
        assert!(st.success(), "worker exited with {st:?}: {log}");
        log
    }
    /// Wait for it to exit 0; its report.
    fn wait_report(mut self) -> Value {
        let st = self.child.wait().unwrap();
        assert!(st.success(), "worker exited with {st:?}: {}", self.log());
        self.report()
    }
    /// Has it exited with a failure? (It may exit 0 once the queue is empty.)
    fn check_alive_or_ok(&mut self) {
        if let Some(st) = self.child.try_wait().unwrap() {
            assert!(st.success(), "worker exited with {st:?}: {}", self.log());
        }
    }
}

fn open(db: &Path) -> Swarm {
    let d = Database::open(
        db,
        DbOptions {
            recovery_interval: None,
            ..DbOptions::default()
        },
    )
    .unwrap();
    Swarm::open(d, SwarmOptions::default()).unwrap()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const BUMP: &str = r#"
local a = ...
local k = "c" .. (a.i % 10)
sop.put("counters", k, (sop.get("counters", k) or 0) + 1)
sop.put("log", a.i, {job = sop.job_id})
return a.i
"#;

fn make_stores(s: &Swarm) {
    let tx = s.db().begin(TxMode::ForWriting).unwrap();
    let unique = StoreOptions {
        unique: true,
        ..StoreOptions::default()
    };
    tx.create_json_store("counters", unique.clone(), None)
        .unwrap();
    // Duplicates allowed: an effect applied twice would show as two items.
    let dups = StoreOptions {
        unique: false,
        ..StoreOptions::default()
    };
    tx.create_json_store("log", dups, None).unwrap();
    tx.commit().unwrap();
}

/// Every job done, and its effect exactly once: one log item per job, and the
/// counters add up.
fn check_exactly_once(s: &Swarm, n: u64) {
    let not_done: Vec<_> = s
        .jobs(&JobFilter::default())
        .unwrap()
        .into_iter()
        .filter(|j| j.state != JobState::Done)
        .map(|j| (j.id, j.state, j.errors))
        .collect();
    assert!(not_done.is_empty(), "jobs not done: {not_done:?}");
    let tx = s.db().begin(TxMode::NoCheck).unwrap();
    let log = tx.open_json_store("log").unwrap();
    let keys: Vec<u64> = log
        .iter()
        .unwrap()
        .map(|i| i.unwrap().0.as_u64().unwrap())
        .collect();
    assert_eq!(keys, (0..n).collect::<Vec<_>>(), "one log item per job");
    let counters = tx.open_json_store("counters").unwrap();
    for (k, v) in counters.iter().unwrap().map(|i| i.unwrap()) {
        assert_eq!(v, json!(n / 10), "counter {k}");
    }
    assert_eq!(counters.count().unwrap(), 10);
    assert_eq!(s.live_jobs().unwrap(), 0);
}

#[test]
fn jobs_run_exactly_once_while_workers_are_killed_and_restarted() {
    const JOBS: u64 = 2_000;
    const WORKERS: usize = 4;
    const KILLS: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = open(&db);
    make_stores(&s);
    s.put_script("bump", BUMP).unwrap();
    let opts = SubmitOptions {
        max_attempts: 1000,
        ..SubmitOptions::default()
    };
    for batch in 0..JOBS / 500 {
        s.write(|tx| {
            for i in batch * 500..(batch + 1) * 500 {
                jobs::submit::submit(tx, "bump", json!({"i": i}), &opts)?;
            }
            Ok(())
        })
        .unwrap();
    }
    let args = ["--lease", "1.5", "--backoff", "0.05", "--exit-when-empty"];
    let mut spawned = 0;
    let spawn = |spawned: &mut usize| {
        *spawned += 1;
        WorkerProc::spawn(&db, dir.path().join(format!("w{spawned}.log")), &args)
    };
    let mut workers: Vec<WorkerProc> = (0..WORKERS).map(|_| spawn(&mut spawned)).collect();
    let mut kills = 0;
    let start = Instant::now();
    while kills < KILLS && s.live_jobs().unwrap() > 0 {
        assert!(start.elapsed() < PATIENCE, "the jobs took too long");
        std::thread::sleep(Duration::from_millis(fastrand::u64(100..500)));
        let i = fastrand::usize(..WORKERS);
        workers[i].check_alive_or_ok();
        workers[i].signal(libc::SIGKILL);
        let _ = workers[i].child.wait();
        kills += 1;
        workers[i] = spawn(&mut spawned);
    }
    assert_eq!(kills, KILLS, "the workers were killed while jobs remained");
    for w in workers {
        w.wait_ok();
    }
    check_exactly_once(&s, JOBS);
    let retried = s
        .jobs(&JobFilter::default())
        .unwrap()
        .iter()
        .filter(|j| j.attempts > 1)
        .count();
    eprintln!(
        "{JOBS} jobs, {KILLS} SIGKILLs, {retried} jobs ran again after a lost lease, {:?}",
        start.elapsed()
    );
}

#[test]
fn a_worker_paused_past_its_lease_cannot_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = open(&db);
    make_stores(&s);
    s.put_script(
        "slow",
        "local t = os.clock(); while os.clock() - t < 1.5 do end\n\
         sop.put('counters', 'n', (sop.get('counters', 'n') or 0) + 1); return sop.job_id",
    )
    .unwrap();
    let (id, _) = s
        .submit("slow", json!(null), &SubmitOptions::default())
        .unwrap();
    let a = WorkerProc::spawn(&db, dir.path().join("a.log"), &["--lease", "3"]);
    let mut deadline = 0;
    wait_until("worker A to claim the job", || {
        let j = s.job(&id).unwrap();
        if let Some(l) = &j.lease {
            deadline = l.deadline_ms;
        }
        j.state == JobState::Running
    });
    a.signal(libc::SIGSTOP);
    wait_until("A's lease to pass", || {
        sop_swarm::time::now_ms() > deadline + 100
    });
    let b = WorkerProc::spawn(
        &db,
        dir.path().join("b.log"),
        &["--lease", "30", "--exit-when-empty"],
    );
    b.wait_ok();
    let j = s.job(&id).unwrap();
    assert_eq!(j.state, JobState::Done);
    assert_eq!(j.attempts, 2, "B ran it again");
    assert!(
        j.errors[0].error.contains("lease expired"),
        "{:?}",
        j.errors
    );
    // A wakes up, ends its run, and must not commit it.
    a.signal(libc::SIGCONT);
    wait_until("A to give the job up", || {
        let log = a.log();
        log.contains("lease lost") || log.contains("attempt abandoned")
    });
    a.signal(libc::SIGTERM);
    let mut a = a;
    let _ = a.child.wait();
    let tx = s.db().begin(TxMode::NoCheck).unwrap();
    let n = tx
        .open_json_store("counters")
        .unwrap()
        .get(&json!("n"))
        .unwrap();
    assert_eq!(n, Some(json!(1)), "the effect once: A's run was dropped");
    assert_eq!(s.job(&id).unwrap().result, Some(json!(id)));
}

#[test]
fn sigterm_lets_the_running_job_finish() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = open(&db);
    make_stores(&s);
    s.put_script(
        "slow",
        "local t = os.clock(); while os.clock() - t < 1 do end\n\
         sop.put('counters', 'n', 1); return 'finished'",
    )
    .unwrap();
    let (id, _) = s
        .submit("slow", json!(null), &SubmitOptions::default())
        .unwrap();
    let w = WorkerProc::spawn(&db, dir.path().join("w.log"), &["--grace", "60"]);
    wait_until("the job to run", || {
        s.job(&id).unwrap().state == JobState::Running
    });
    w.signal(libc::SIGTERM);
    let log = w.wait_ok();
    assert!(log.contains("worker stopped"), "{log}");
    let j = s.job(&id).unwrap();
    assert_eq!(j.state, JobState::Done, "{log}");
    assert_eq!(j.result, Some(json!("finished")));
    assert!(
        log.contains("done") && log.contains(&id),
        "the job is logged: {log}"
    );
}

/// The ETL source: N items `{amount}`; returns (count, sum, max) computed here.
fn etl_source(s: &Swarm, n: u64) -> (u64, u64, u64) {
    let tx = s.db().begin(TxMode::ForWriting).unwrap();
    let st = tx
        .create_json_store(
            "sales",
            StoreOptions {
                unique: true,
                ..StoreOptions::default()
            },
            None,
        )
        .unwrap();
    let (mut sum, mut max) = (0, 0);
    for i in 0..n {
        let amount = (i * 7919) % 1000;
        sum += amount;
        max = max.max(amount);
        st.upsert(&json!(i), &json!({"amount": amount})).unwrap();
    }
    drop(st);
    tx.commit().unwrap();
    (n, sum, max)
}

#[test]
fn the_etl_fan_out_with_1_2_and_4_workers() {
    // The issue's size: 200,000 items, in 16 chunk jobs.
    const ITEMS: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = open(&db);
    let (count, sum, max) = etl_source(&s, ITEMS);
    for name in ["etl_fanout", "etl_chunk", "etl_combine"] {
        let src = std::fs::read_to_string(examples().join(format!("{name}.lua"))).unwrap();
        s.put_script(name, &src).unwrap();
    }
    for workers in [1, 2, 4] {
        let args = json!({"source": "sales", "results": format!("parts{workers}"),
                          "output": format!("total{workers}"), "parts": 16});
        let (root, _) = s
            .submit("etl_fanout", args, &SubmitOptions::default())
            .unwrap();
        let start = Instant::now();
        let procs: Vec<_> = (0..workers)
            .map(|i| {
                WorkerProc::spawn(
                    &db,
                    dir.path().join(format!("etl{workers}-{i}.log")),
                    &["--exit-when-empty"],
                )
            })
            .collect();
        for p in procs {
            p.wait_ok();
        }
        let took = start.elapsed();
        let fan = s.job(&root).unwrap().result.unwrap();
        assert_eq!(fan["children"], json!(16));
        let fin = s.job(fan["final"].as_str().unwrap()).unwrap();
        assert_eq!(fin.state, JobState::Done, "{:?}", fin.errors);
        let want = json!({"count": count, "sum": sum, "max": max});
        assert_eq!(fin.result, Some(want.clone()));
        let tx = s.db().begin(TxMode::NoCheck).unwrap();
        let total = tx
            .open_json_store(&format!("total{workers}"))
            .unwrap()
            .get(&json!("total"))
            .unwrap();
        assert_eq!(total, Some(want));
        eprintln!("ETL over {ITEMS} items with {workers} worker(s): {took:?}");
    }
}

#[test]
fn script_and_job_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    let counter = examples().join("counter.lua");
    let counter = counter.to_str().unwrap();
    assert_eq!(
        ok(&db, &["script", "put", "counter", counter]).trim(),
        "saved script counter version 1"
    );
    assert_eq!(
        ok_json(&db, &["script", "put", "counter", counter]),
        json!({"name": "counter", "version": 2})
    );
    assert!(ok(&db, &["script", "list"]).contains("counter\tversion 2\t(2 kept)"));
    assert!(ok(&db, &["script", "show", "counter", "--version", "1"])
        .contains("sop.ensure_store(args.store)"));
    let args = r#"{"store": "counts", "key": "visits"}"#;
    assert_eq!(
        ok(&db, &["script", "run", "counter", "--args", args]).trim(),
        "1"
    );
    assert_eq!(
        ok_json(&db, &["script", "run", "counter", "--args", args]),
        json!({"result": 2})
    );
    assert_eq!(ok(&db, &["get", "counts", "\"visits\""]).trim(), "2");
    fails(&db, &["script", "run", "nope"], "no script named \"nope\"");
    fails(
        &db,
        &["script", "run", "counter", "--args", "{bad"],
        "--args",
    );
    let bad = dir.path().join("bad.lua");
    std::fs::write(&bad, "return (").unwrap();
    fails(
        &db,
        &["script", "put", "bad", bad.to_str().unwrap()],
        "does not compile",
    );
    std::fs::write(&bad, "while true do end").unwrap();
    ok(&db, &["script", "put", "spin", bad.to_str().unwrap()]);
    fails(
        &db,
        &["script", "run", "spin", "--max-instructions", "100000"],
        "instruction limit",
    );

    // Jobs.
    let sub = ok_json(
        &db,
        &["job", "submit", "counter", "--args", args, "--key", "k1"],
    );
    let id = sub["id"].as_str().unwrap().to_string();
    assert_eq!(sub["created"], json!(true));
    let again = ok_json(
        &db,
        &["job", "submit", "counter", "--args", args, "--key", "k1"],
    );
    assert_eq!(again, json!({"id": id, "created": false}));
    let other = ok(
        &db,
        &[
            "job",
            "submit",
            "counter",
            "--args",
            args,
            "--priority",
            "5",
            "--max-attempts",
            "2",
        ],
    );
    let other = other.trim();
    let later = ok(
        &db,
        &[
            "job",
            "submit",
            "counter",
            "--args",
            args,
            "--not-before",
            "+1h",
        ],
    );
    let later = later.trim();
    assert!(ok(&db, &["job", "status", &id]).contains("state     queued"));
    fails(&db, &["job", "result", &id], "is queued: it has no result");
    ok(&db, &["job", "cancel", later]);
    fails(&db, &["job", "cancel", later], "is cancelled");
    fails(&db, &["job", "status", "nope"], "no job nope");
    fails(&db, &["job", "submit", "nope"], "no script named");
    let queued = ok(&db, &["job", "list", "--state", "queued"]);
    assert_eq!(queued.lines().count(), 2, "{queued}");
    // A worker runs them.
    let w = ok_json(&db, &["worker", "--exit-when-empty", "--concurrency", "2"]);
    assert_eq!(w["done"], json!(2));
    let r1 = ok_json(&db, &["job", "result", &id])["result"]
        .as_u64()
        .unwrap();
    let r2 = ok(&db, &["job", "result", other])
        .trim()
        .parse::<u64>()
        .unwrap();
    let mut rs = [r1, r2];
    rs.sort();
    assert_eq!(rs, [3, 4]);
    let st = ok_json(&db, &["job", "status", &id]);
    assert_eq!(st["state"], json!("done"));
    assert_eq!(
        ok(&db, &["job", "list", "--state", "done"]).lines().count(),
        2
    );
    assert_eq!(
        ok(&db, &["job", "list", "--state", "cancelled"])
            .lines()
            .count(),
        1
    );
    assert_eq!(ok(&db, &["job", "list"]).lines().count(), 3);
    assert!(ok(&db, &["script", "delete", "counter", "--version", "1"])
        .contains("deleted 1 version of script counter"));
    assert_eq!(
        ok_json(&db, &["script", "delete", "counter"]),
        json!({"deleted": 1})
    );
    fails(&db, &["script", "show", "counter"], "no script named");
    // The swarm's stores are the database's: `sop check` passes.
    ok(&db, &["check"]);
}

/// The test Redis (`SOP_TEST_REDIS_URL`, started by scripts/test.sh); the test
/// needing it fails without it.
fn redis_url() -> String {
    std::env::var("SOP_TEST_REDIS_URL")
        .expect("SOP_TEST_REDIS_URL is not set: run through scripts/test.sh (it starts a Redis)")
}

#[test]
fn clustered_workers_share_one_queue() {
    const JOBS: u64 = 300;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    Database::create_config(&db, sop::Coordination::Redis { url: redis_url() }).unwrap();
    let s = open(&db);
    make_stores(&s);
    s.put_script("bump", BUMP).unwrap();
    s.write(|tx| {
        for i in 0..JOBS {
            jobs::submit::submit(tx, "bump", json!({"i": i}), &SubmitOptions::default())?;
        }
        Ok(())
    })
    .unwrap();
    // Three workers, as on three hosts: each opens the folder, which says Clustered.
    let workers: Vec<_> = (0..3)
        .map(|i| {
            WorkerProc::spawn(
                &db,
                dir.path().join(format!("c{i}.log")),
                &["--exit-when-empty"],
            )
        })
        .collect();
    let done: u64 = workers
        .into_iter()
        .map(|w| w.wait_report()["done"].as_u64().unwrap())
        .sum();
    check_exactly_once(&s, JOBS);
    assert_eq!(
        done, JOBS,
        "the three workers ran every job once between them"
    );
    let tx = s.db().begin(TxMode::NoCheck).unwrap();
    let owners: std::collections::BTreeSet<String> = tx
        .open_json_store("log")
        .unwrap()
        .iter()
        .unwrap()
        .map(|i| i.unwrap().1["job"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(owners.len() as u64, JOBS, "each log item names its own job");
}

/// Twenty steps of about 50 ms: each appends its number to "log" (duplicates
/// allowed, so a step applied twice would show) and checkpoints it.
const STEPPED: &str = r#"
local i = sop.resumed or 0
while i < 20 do
  i = i + 1
  local t = os.clock()
  while os.clock() - t < 0.05 do end
  sop.put("log", i, {step = i})
  sop.checkpoint(i)
end
return i
"#;

#[test]
fn a_job_in_steps_survives_its_worker_killed_between_and_within_steps() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = open(&db);
    make_stores(&s);
    s.put_script("stepped", STEPPED).unwrap();
    let opts = SubmitOptions {
        max_attempts: 20,
        ..SubmitOptions::default()
    };
    let (id, _) = s.submit("stepped", json!(null), &opts).unwrap();
    // Kill a worker after each few steps; the next one resumes the job once its
    // lease (1 s) runs out.
    let mut kills = 0;
    for round in 0..20 {
        let w = WorkerProc::spawn(
            &db,
            dir.path().join(format!("w{round}.log")),
            &["--lease", "1", "--exit-when-empty"],
        );
        let before = s.job(&id).unwrap().steps;
        wait_until("a step or the end", || {
            let j = s.job(&id).unwrap();
            j.state == JobState::Done || j.steps >= before + 3
        });
        if s.job(&id).unwrap().state == JobState::Done {
            w.wait_ok();
            break;
        }
        // Somewhere inside the next step (or right at a checkpoint).
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..60)));
        w.signal(libc::SIGKILL);
        let mut w = w;
        let _ = w.child.wait();
        kills += 1;
    }
    let j = s.job(&id).unwrap();
    assert_eq!(j.state, JobState::Done, "{:?}", j.errors);
    assert_eq!(j.result, Some(json!(20)));
    eprintln!("{kills} kills, {} attempts, {} steps", j.attempts, j.steps);
    assert!(kills >= 2, "the job outlived {kills} kills only");
    assert!(j.attempts as u64 > kills / 2, "attempts {}", j.attempts);
    let tx = s.db().begin(TxMode::NoCheck).unwrap();
    let keys: Vec<u64> = tx
        .open_json_store("log")
        .unwrap()
        .iter()
        .unwrap()
        .map(|i| i.unwrap().0.as_u64().unwrap())
        .collect();
    assert_eq!(keys, (1..=20).collect::<Vec<_>>(), "each step exactly once");
}

#[test]
fn script_run_reaches_files_only_with_allow() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    let inp = dir.path().join("in");
    std::fs::create_dir(&inp).unwrap();
    std::fs::write(inp.join("n.txt"), "41").unwrap();
    let src = dir.path().join("inc.lua");
    std::fs::write(
        &src,
        format!(
            "--! read {}\nreturn tonumber(sop.read_file('{}/n.txt')) + 1\n",
            inp.display(),
            inp.display()
        ),
    )
    .unwrap();
    ok(&db, &["script", "put", "inc", src.to_str().unwrap()]);
    fails(&db, &["script", "run", "inc"], "--allow read=");
    let allow = format!("read={}", inp.display());
    let got = ok_json(&db, &["script", "run", "inc", "--allow", &allow]);
    assert_eq!(got["result"], json!(42));
    fails(
        &db,
        &["script", "run", "inc", "--allow", "net=/x"],
        "no grant",
    );
}
