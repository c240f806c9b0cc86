//! Jobs in one process: submit (idempotency keys), claim with a lease, run and
//! complete, retries with backoff and the dead letter, cancel, a lease lost
//! (fencing), not-before times and jobs that wait for others.

use serde_json::{json, Value};
use sop::{Database, DbOptions, TxMode};
use sop_swarm::{
    swarm::Execution, JobFilter, JobState, Limits, SubmitOptions, Swarm, SwarmError, SwarmOptions,
    Worker, WorkerOptions,
};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

fn swarm(dir: &tempfile::TempDir) -> Swarm {
    let db = Database::open(dir.path().join("db"), DbOptions::default()).unwrap();
    Swarm::open(db, SwarmOptions::default()).unwrap()
}

/// The value at `key` of store `store` ("no store" if the store is missing).
fn counter(s: &Swarm, store: &str, key: Value) -> Option<Value> {
    let tx = s.db().begin(TxMode::NoCheck).unwrap();
    match tx.open_json_store(store) {
        Ok(st) => st.get(&key).unwrap(),
        Err(sop::Error::StoreNotFound(_)) => Some(json!("no store")),
        Err(e) => panic!("{e}"),
    }
}

const COUNTER: &str = include_str!("../../../examples/scripts/counter.lua");

fn no_backoff(_: u32) -> Duration {
    Duration::from_millis(1)
}

/// Run a worker in this process until the queue is empty.
fn drain(s: &Swarm, threads: usize) -> sop_swarm::WorkerReport {
    let w = Worker::new(
        s.clone(),
        WorkerOptions {
            concurrency: threads,
            backoff_base: Duration::from_millis(5),
            idle_max: Duration::from_millis(20),
            exit_when_empty: true,
            ..WorkerOptions::default()
        },
    );
    w.run(Arc::new(AtomicBool::new(false))).unwrap()
}

#[test]
fn a_job_runs_once_and_keeps_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("counter", COUNTER).unwrap();
    let args = json!({"store": "c", "key": "n"});
    let (id, created) = s
        .submit("counter", args, &SubmitOptions::default())
        .unwrap();
    assert!(created);
    assert_eq!(s.job(&id).unwrap().state, JobState::Queued);
    let job = s
        .claim("w1", &["default".into()], Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_eq!(job.id, id);
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.attempts, 1);
    assert!(
        s.claim("w2", &["default".into()], Duration::from_secs(30))
            .unwrap()
            .is_none(),
        "a running job is not claimed twice"
    );
    assert_eq!(
        s.execute(&job, no_backoff).unwrap(),
        Execution::Done(json!(1))
    );
    let done = s.job(&id).unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.result, Some(json!(1)));
    assert_eq!(done.lease, None);
    assert_eq!(counter(&s, "c", json!("n")), Some(json!(1)));
    assert_eq!(s.live_jobs().unwrap(), 0, "no queue entry is left");
    // Running the claimed job again changes nothing: the lease is gone.
    assert!(matches!(
        s.execute(&job, no_backoff).unwrap(),
        Execution::Lost(_)
    ));
    assert_eq!(counter(&s, "c", json!("n")), Some(json!(1)));
}

#[test]
fn submitting_twice_with_one_key_gives_one_job() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("counter", COUNTER).unwrap();
    let opts = SubmitOptions {
        key: Some("order-42".into()),
        ..SubmitOptions::default()
    };
    let (a, new_a) = s
        .submit("counter", json!({"store": "c", "key": "k"}), &opts)
        .unwrap();
    let (b, new_b) = s
        .submit("counter", json!({"store": "c", "key": "k"}), &opts)
        .unwrap();
    assert!(new_a && !new_b);
    assert_eq!(a, b);
    // From several threads at once, still one job.
    let ids: Vec<String> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                sc.spawn(|| {
                    let o = SubmitOptions {
                        key: Some("race".into()),
                        ..SubmitOptions::default()
                    };
                    s.submit("counter", json!({"store": "c", "key": "r"}), &o)
                        .unwrap()
                        .0
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(s.jobs(&JobFilter::default()).unwrap().len(), 2);
    let r = drain(&s, 2);
    assert_eq!(r.done, 2);
    assert_eq!(counter(&s, "c", json!("k")), Some(json!(1)));
    assert_eq!(counter(&s, "c", json!("r")), Some(json!(1)));
}

#[test]
fn a_poison_job_is_dead_lettered_with_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script(
        "poison",
        "sop.ensure_store('p'); sop.put('p', 1, 1); error('bad input ' .. (...).n)",
    )
    .unwrap();
    let opts = SubmitOptions {
        max_attempts: 3,
        ..SubmitOptions::default()
    };
    let (id, _) = s.submit("poison", json!({"n": 7}), &opts).unwrap();
    let r = drain(&s, 1);
    assert_eq!((r.failed, r.dead, r.done), (2, 1, 0));
    let job = s.job(&id).unwrap();
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(job.attempts, 3);
    assert_eq!(job.errors.len(), 3);
    for (i, e) in job.errors.iter().enumerate() {
        assert_eq!(e.attempt, i as u32 + 1);
        assert!(e.error.contains("bad input 7"), "{}", e.error);
        assert!(e.error.contains("stack traceback"), "{}", e.error);
    }
    assert_eq!(
        counter(&s, "p", json!(1)),
        Some(json!("no store")),
        "no attempt left an effect"
    );
    let dead = s
        .jobs(&JobFilter {
            state: Some(JobState::Dead),
            ..JobFilter::default()
        })
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(s.live_jobs().unwrap(), 0);
}

#[test]
fn a_failed_attempt_waits_its_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("fails", "error('no')").unwrap();
    let (id, _) = s
        .submit("fails", json!(null), &SubmitOptions::default())
        .unwrap();
    let q = ["default".to_string()];
    let job = s.claim("w", &q, Duration::from_secs(30)).unwrap().unwrap();
    let out = s.execute(&job, |_| Duration::from_secs(3600)).unwrap();
    assert!(
        matches!(out, Execution::Failed { dead: false, .. }),
        "{out:?}"
    );
    let j = s.job(&id).unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert!(j.due_ms > j.updated_ms + 3_000_000);
    assert!(
        s.claim("w", &q, Duration::from_secs(30)).unwrap().is_none(),
        "not before its backoff"
    );
}

#[test]
fn cancel_stops_a_job_queued_or_running() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("counter", COUNTER).unwrap();
    let q = ["default".to_string()];
    let (queued, _) = s
        .submit(
            "counter",
            json!({"store": "c", "key": "a"}),
            &SubmitOptions::default(),
        )
        .unwrap();
    s.cancel(&queued).unwrap();
    assert_eq!(s.job(&queued).unwrap().state, JobState::Cancelled);
    assert!(s.claim("w", &q, Duration::from_secs(30)).unwrap().is_none());
    assert!(matches!(
        s.cancel(&queued),
        Err(SwarmError::BadState { .. })
    ));
    assert!(matches!(s.cancel("nope"), Err(SwarmError::JobNotFound(_))));

    let (running, _) = s
        .submit(
            "counter",
            json!({"store": "c", "key": "b"}),
            &SubmitOptions::default(),
        )
        .unwrap();
    let job = s.claim("w", &q, Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!(job.id, running);
    s.cancel(&running).unwrap();
    assert!(matches!(
        s.execute(&job, no_backoff).unwrap(),
        Execution::Lost(_)
    ));
    assert_eq!(
        counter(&s, "c", json!("b")),
        Some(json!("no store")),
        "the cancelled run left nothing"
    );
    assert_eq!(s.job(&running).unwrap().state, JobState::Cancelled);
    assert_eq!(s.live_jobs().unwrap(), 0);
}

#[test]
fn a_worker_past_its_lease_cannot_commit() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("counter", COUNTER).unwrap();
    let q = ["default".to_string()];
    let opts = SubmitOptions::default();
    let (id, _) = s
        .submit("counter", json!({"store": "c", "key": "n"}), &opts)
        .unwrap();
    let slow = s
        .claim("slow", &q, Duration::from_millis(300))
        .unwrap()
        .unwrap();
    assert!(s
        .claim("fast", &q, Duration::from_secs(30))
        .unwrap()
        .is_none());
    // Wait until the lease has passed (a wait, not a timed assertion).
    while sop_swarm::time::now_ms() <= slow.lease.as_ref().unwrap().deadline_ms {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Past its deadline, even before anyone takes the job over, it cannot commit.
    assert!(matches!(
        s.execute(&slow, no_backoff).unwrap(),
        Execution::Lost(_)
    ));
    let fast = s
        .claim("fast", &q, Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_eq!(fast.attempts, 2);
    assert!(matches!(
        s.execute(&slow, no_backoff).unwrap(),
        Execution::Lost(_)
    ));
    assert_eq!(
        s.execute(&fast, no_backoff).unwrap(),
        Execution::Done(json!(1))
    );
    let j = s.job(&id).unwrap();
    assert_eq!(j.errors.len(), 1);
    assert!(
        j.errors[0].error.contains("lease expired"),
        "{:?}",
        j.errors
    );
    assert_eq!(counter(&s, "c", json!("n")), Some(json!(1)));
}

#[test]
fn a_lost_last_attempt_dead_letters_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("counter", COUNTER).unwrap();
    let q = ["default".to_string()];
    let opts = SubmitOptions {
        max_attempts: 1,
        ..SubmitOptions::default()
    };
    let (id, _) = s
        .submit("counter", json!({"store": "c", "key": "n"}), &opts)
        .unwrap();
    let j = s
        .claim("w", &q, Duration::from_millis(100))
        .unwrap()
        .unwrap();
    while sop_swarm::time::now_ms() <= j.lease.as_ref().unwrap().deadline_ms {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(s
        .claim("w2", &q, Duration::from_secs(30))
        .unwrap()
        .is_none());
    let dead = s.job(&id).unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert!(dead.errors[0].error.contains("lease expired"));
}

#[test]
fn not_before_holds_a_job_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("counter", COUNTER).unwrap();
    let q = ["default".to_string()];
    let later = SubmitOptions {
        not_before_ms: Some(sop_swarm::time::now_ms() + 3_600_000),
        ..SubmitOptions::default()
    };
    s.submit("counter", json!({"store": "c", "key": "later"}), &later)
        .unwrap();
    assert!(s.claim("w", &q, Duration::from_secs(30)).unwrap().is_none());
    let (now, _) = s
        .submit(
            "counter",
            json!({"store": "c", "key": "now"}),
            &SubmitOptions::default(),
        )
        .unwrap();
    assert_eq!(
        s.claim("w", &q, Duration::from_secs(30))
            .unwrap()
            .unwrap()
            .id,
        now
    );
    // Another queue's job is not taken by a worker of "default".
    let other = SubmitOptions {
        queue: "other".into(),
        ..SubmitOptions::default()
    };
    let (o, _) = s
        .submit("counter", json!({"store": "c", "key": "o"}), &other)
        .unwrap();
    assert!(s.claim("w", &q, Duration::from_secs(30)).unwrap().is_none());
    assert_eq!(
        s.claim("w", &["other".to_string()], Duration::from_secs(30))
            .unwrap()
            .unwrap()
            .id,
        o
    );
}

#[test]
fn a_job_after_others_waits_for_them_and_fails_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("counter", COUNTER).unwrap();
    s.put_script(
        "sum",
        "local a = ... ; return sop.get('c', 'x') + sop.get('c', 'y')",
    )
    .unwrap();
    let d = SubmitOptions::default();
    let (x, _) = s
        .submit("counter", json!({"store": "c", "key": "x"}), &d)
        .unwrap();
    let (y, _) = s
        .submit("counter", json!({"store": "c", "key": "y"}), &d)
        .unwrap();
    let after = SubmitOptions {
        after: vec![x, y],
        priority: 100,
        ..SubmitOptions::default()
    };
    let (fin, _) = s.submit("sum", json!(null), &after).unwrap();
    drain(&s, 2);
    assert_eq!(s.job(&fin).unwrap().result, Some(json!(2)));

    // After a dead job: dead too.
    s.put_script("poison", "error('x')").unwrap();
    let one = SubmitOptions {
        max_attempts: 1,
        ..SubmitOptions::default()
    };
    let (p, _) = s.submit("poison", json!(null), &one).unwrap();
    let (fin2, _) = s
        .submit(
            "sum",
            json!(null),
            &SubmitOptions {
                after: vec![p],
                ..SubmitOptions::default()
            },
        )
        .unwrap();
    drain(&s, 1);
    let j = s.job(&fin2).unwrap();
    assert_eq!(j.state, JobState::Dead);
    assert!(
        j.errors[0]
            .error
            .contains("which this job waits for, is dead"),
        "{:?}",
        j.errors
    );
}

#[test]
fn limits_apply_to_jobs_and_a_stopped_run_is_a_failed_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db"), DbOptions::default()).unwrap();
    let s = Swarm::open(
        db,
        SwarmOptions {
            limits: Limits {
                instructions: 1_000_000,
                ..Limits::default()
            },
            ..SwarmOptions::default()
        },
    )
    .unwrap();
    s.put_script(
        "spin",
        "sop.ensure_store('t'); sop.put('t', 1, 1); while true do end",
    )
    .unwrap();
    let (id, _) = s
        .submit(
            "spin",
            json!(null),
            &SubmitOptions {
                max_attempts: 2,
                ..SubmitOptions::default()
            },
        )
        .unwrap();
    drain(&s, 1);
    let j = s.job(&id).unwrap();
    assert_eq!(j.state, JobState::Dead);
    assert!(
        j.errors
            .iter()
            .all(|e| e.error.contains("instruction limit")),
        "{:?}",
        j.errors
    );
    assert_eq!(counter(&s, "t", json!(1)), Some(json!("no store")));
}

#[test]
fn many_later_jobs_of_a_higher_priority_do_not_hide_a_due_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("counter", COUNTER).unwrap();
    let q = ["default".to_string()];
    // About 60 entries ahead of it in every partition, none due.
    let later = SubmitOptions {
        priority: 10,
        not_before_ms: Some(sop_swarm::time::now_ms() + 3_600_000),
        ..SubmitOptions::default()
    };
    s.write(|tx| {
        for _ in 0..1000 {
            sop_swarm::jobs::submit::submit(
                tx,
                "counter",
                json!({"store": "c", "key": "l"}),
                &later,
            )?;
        }
        Ok(())
    })
    .unwrap();
    let (due, _) = s
        .submit(
            "counter",
            json!({"store": "c", "key": "d"}),
            &SubmitOptions::default(),
        )
        .unwrap();
    let got = s.claim("w", &q, Duration::from_secs(30)).unwrap();
    assert_eq!(got.map(|j| j.id), Some(due));
}

/// Ten steps, each adding item `i` and one to a counter, then a checkpoint
/// with `i`. The first attempt (nothing to resume) fails in step 5.
const STEPS: &str = r#"
local i = sop.resumed or 0
sop.ensure_store("out")
while i < 10 do
  i = i + 1
  sop.put("out", i, i)
  sop.put("out", "count", (sop.get("out", "count") or 0) + 1)
  if i == 5 and sop.resumed == nil then error("step 5 fails on the first attempt") end
  sop.checkpoint(i)
end
return sop.get("out", "count")
"#;

#[test]
fn a_job_in_steps_resumes_from_its_last_checkpoint_and_applies_each_step_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("steps", STEPS).unwrap();
    let (id, _) = s
        .submit("steps", json!(null), &SubmitOptions::default())
        .unwrap();
    let lease = Duration::from_secs(30);
    let job = s.claim("w1", &["default".into()], lease).unwrap().unwrap();
    match s.execute(&job, no_backoff).unwrap() {
        Execution::Failed { error, dead } => {
            assert!(!dead);
            assert!(error.contains("step 5 fails"), "{error}");
        }
        other => panic!("the first attempt should fail, got {other:?}"),
    }
    // Steps 1 to 4 are committed with their checkpoint; step 5's writes are not.
    let failed = s.job(&id).unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(
        (failed.checkpoint.clone(), failed.steps),
        (Some(json!(4)), 4)
    );
    assert_eq!(counter(&s, "out", json!("count")), Some(json!(4)));
    assert_eq!(counter(&s, "out", json!(5)), None);

    std::thread::sleep(Duration::from_millis(5));
    let again = s.claim("w2", &["default".into()], lease).unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert_eq!(
        s.execute(&again, no_backoff).unwrap(),
        Execution::Done(json!(10)),
        "the second attempt starts at step 5 and every step counts once"
    );
    let done = s.job(&id).unwrap();
    assert_eq!((done.state, done.steps), (JobState::Done, 10));
    for i in 1..=10 {
        assert_eq!(counter(&s, "out", json!(i)), Some(json!(i)));
    }
}

/// Five steps of about `ms` milliseconds each (busy, in the script).
fn slow_steps(checkpoint: bool) -> String {
    format!(
        r#"
local args = ...
for i = 1, 5 do
  local t = os.clock()
  while os.clock() - t < args.ms / 1000 do end
  sop.ensure_store("slow")
  sop.put("slow", i, true)
  {}
end
return "finished"
"#,
        if checkpoint { "sop.checkpoint(i)" } else { "" }
    )
}

#[test]
fn each_checkpoint_renews_the_lease_so_a_long_job_outlives_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = swarm(&dir);
    s.put_script("stepped", &slow_steps(true)).unwrap();
    s.put_script("unstepped", &slow_steps(false)).unwrap();
    let lease = Duration::from_millis(600);
    let args = json!({"ms": 250});

    // 5 x 250 ms against a 600 ms lease: renewed at each checkpoint.
    let (id, _) = s
        .submit("stepped", args.clone(), &SubmitOptions::default())
        .unwrap();
    let job = s.claim("w1", &["default".into()], lease).unwrap().unwrap();
    assert_eq!(
        s.execute(&job, no_backoff).unwrap(),
        Execution::Done(json!("finished"))
    );
    let done = s.job(&id).unwrap();
    assert_eq!((done.attempts, done.steps), (1, 5));

    // The same work in one step outlives the lease and keeps nothing.
    let (id, _) = s
        .submit("unstepped", args, &SubmitOptions::default())
        .unwrap();
    let job = s.claim("w1", &["default".into()], lease).unwrap().unwrap();
    match s.execute(&job, no_backoff).unwrap() {
        Execution::Lost(why) => assert!(why.contains("lease ended"), "{why}"),
        other => panic!("expected the lease to be lost, got {other:?}"),
    }
    assert_eq!(s.job(&id).unwrap().steps, 0);
}
