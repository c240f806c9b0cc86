//! Real OS processes SIGKILLed mid-commit.
//!
//! The test re-executes its own binary as a child (with `SOP_KILL_CHILD_DIR`
//! set) running `kill_child_entry`, which commits forever: transaction `i` adds
//! item `i -> i` and sets `last = i`, and only after the commit returns does the
//! child print `COMMITTED i`. The parent kills it at a random moment, reopens the
//! folder and checks that every reported commit survived, that nothing beyond
//! the newest commit exists, and that recovery leaves no debris of the dead
//! process. 25 rounds on the same folder, each child continuing where the
//! previous one was killed. The `_exclusive` variant runs the child with
//! `DbOptions::exclusive` and a small journal, so kills land in journal appends,
//! rotations and write-outs; the parent reopens shared, replaying the journal.

use sop::{Database, DbOptions, StoreOptions, TxMode};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const ENV: &str = "SOP_KILL_CHILD_DIR";
const ENV_EXCLUSIVE: &str = "SOP_KILL_CHILD_EXCLUSIVE";
const ROUNDS: usize = 25;

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

fn read_last(db: &Database) -> Option<u64> {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let meta = tx.open_store::<String, u64>("meta").unwrap();
    meta.get(&"last".to_string()).unwrap()
}

/// The child: commit forever, reporting each commit after it returned Ok.
#[test]
fn kill_child_entry() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let o = if std::env::var(ENV_EXCLUSIVE).is_ok() {
        DbOptions {
            exclusive: true,
            journal_bytes: 16 << 10,
            // Background threads on (the journal writer), periodic recovery never.
            recovery_interval: Some(Duration::from_secs(3600)),
            ..opts()
        }
    } else {
        opts()
    };
    let db = Database::open(&dir, o).unwrap();
    let mut i = read_last(&db).map_or(0, |l| l + 1);
    let mut out = std::io::stdout();
    let say = |out: &mut std::io::Stdout, line: String| {
        // One write of less than PIPE_BUF bytes: a kill never tears a line.
        out.write_all(line.as_bytes()).unwrap();
        out.flush().unwrap();
    };
    say(&mut out, format!("\nREADY {i}\n"));
    loop {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let items = tx.open_store::<u64, u64>("items").unwrap();
        assert!(items.add(&i, &i).unwrap(), "item {i} already exists");
        let meta = tx.open_store::<String, u64>("meta").unwrap();
        meta.upsert(&"last".to_string(), &i).unwrap();
        // A value in a file of its own, written before the commit.
        let bigs = tx.open_store::<u64, Vec<u8>>("bigs").unwrap();
        assert!(bigs.add(&i, &big_value(i)).unwrap());
        tx.commit().unwrap();
        say(&mut out, format!("\nCOMMITTED {i}\n"));
        i += 1;
    }
}

fn big_value(i: u64) -> Vec<u8> {
    let mut v = i.to_le_bytes().repeat(64);
    v.push(i as u8);
    v
}

enum Msg {
    Ready(u64),
    Committed(u64),
}

fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn sigkill_mid_commit_loses_no_committed_transaction() {
    run(false);
}

#[test]
fn sigkill_mid_commit_loses_no_committed_transaction_exclusive() {
    run(true);
}

fn run(exclusive: bool) {
    if std::env::var(ENV).is_ok() {
        return;
    }
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        // Small nodes, so the child's commits split and rewrite several nodes.
        tx.create_store::<u64, u64>(
            "items",
            StoreOptions {
                slot_length: 8,
                ..Default::default()
            },
        )
        .unwrap();
        tx.create_store::<String, u64>("meta", StoreOptions::default())
            .unwrap();
        let big = StoreOptions {
            values: sop::ValuePlacement::Big,
            ..Default::default()
        };
        tx.create_store::<u64, Vec<u8>>("bigs", big).unwrap();
        tx.commit().unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut last: Option<u64> = None;
    let (mut debris_rounds, mut total_commits) = (0, 0);
    for round in 0..ROUNDS {
        let mut cmd = Command::new(&exe);
        if exclusive {
            cmd.env(ENV_EXCLUSIVE, "1");
        }
        let mut child = cmd
            .args([
                "--exact",
                "kill_child_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV, dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let spawned = Instant::now();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                let num = |tag: &str| {
                    line.split_once(tag)
                        .map(|(_, n)| n.trim().parse::<u64>().unwrap())
                };
                if let Some(n) = num("READY ") {
                    let _ = tx.send(Msg::Ready(n));
                } else if let Some(n) = num("COMMITTED ") {
                    let _ = tx.send(Msg::Committed(n));
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let err_reader = thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let expected_start = last.map_or(0, |l| l + 1);
        let mut msgs = vec![];
        // Every 4th round the clock starts at spawn (the kill may land in open or
        // recovery); otherwise once the child is committing.
        let from = if round % 4 == 0 {
            spawned
        } else {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(m) => msgs.push(m),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "round {round}: child never got ready ({e}): {}",
                        err_reader.join().unwrap()
                    );
                }
            }
            Instant::now()
        };
        let delay = Duration::from_millis(rng.u64(20..=200));
        thread::sleep(delay.saturating_sub(from.elapsed()));
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "round {round}: child exited by itself ({status}): {}",
                err_reader.join().unwrap()
            );
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "round {round}");
        reader.join().unwrap();
        let _ = err_reader.join().unwrap();
        msgs.extend(rx.try_iter());

        // What the child said: READY (maybe), then consecutive commits.
        let mut next = expected_start;
        let mut reported: Option<u64> = None;
        for m in msgs {
            match m {
                Msg::Ready(n) => assert_eq!(
                    n, expected_start,
                    "round {round}: child resumed at the wrong item"
                ),
                Msg::Committed(n) => {
                    assert_eq!(n, next, "round {round}: commits reported out of order");
                    next += 1;
                    reported = Some(n);
                }
            }
        }

        let tmp_before = list(&dir.path().join("tmp"));
        if !tmp_before.is_empty() {
            debris_rounds += 1;
        }
        // Temporary files are named after their process, which is how recovery
        // tells a dead process's debris from a live one's work in progress.
        let procs: Vec<String> = list(&dir.path().join("procs"))
            .into_iter()
            .filter_map(|n| n.strip_suffix(".lock").map(str::to_string))
            .collect();
        for f in &tmp_before {
            assert!(
                procs.iter().any(|p| f.starts_with(p.as_str())),
                "round {round}: tmp/{f} belongs to no process in procs/ {procs:?}"
            );
        }

        let db = Database::open(dir.path(), opts()).unwrap();
        assert!(
            !list(dir.path()).iter().any(|n| n.starts_with("journal-")),
            "round {round}: a journal survived the reopen"
        );
        let now = read_last(&db);
        // Committed means durable; the child can be at most one commit ahead of
        // what it reported (killed between commit and print).
        let floor = reported.or(last);
        match (now, floor) {
            (None, None) => {}
            (Some(n), None) => assert_eq!(n, 0, "round {round}"),
            (None, Some(f)) => panic!("round {round}: last is gone, but {f} was committed"),
            (Some(n), Some(f)) => {
                assert!(
                    n >= f,
                    "round {round}: last = {n}, but the child committed {f}"
                );
                assert!(
                    n <= f + 1,
                    "round {round}: last = {n}, the child reported only up to {f}"
                );
            }
        }
        let tx = db.begin(TxMode::ForReading).unwrap();
        let items = tx.open_store::<u64, u64>("items").unwrap();
        let got: Vec<(u64, u64)> = items.iter().unwrap().map(|r| r.unwrap()).collect();
        let want: Vec<(u64, u64)> = match now {
            Some(n) => (0..=n).map(|k| (k, k)).collect(),
            None => vec![],
        };
        assert_eq!(
            got.len(),
            want.len(),
            "round {round}: items vs last = {now:?}"
        );
        assert_eq!(got, want, "round {round}: items are not exactly 0..=last");
        assert_eq!(
            items.count().unwrap(),
            want.len() as u64,
            "round {round}: count"
        );
        if let Some(n) = now {
            assert_eq!(
                items.range(n + 1..).unwrap().count(),
                0,
                "round {round}: items beyond last"
            );
        }
        let bigs = tx.open_store::<u64, Vec<u8>>("bigs").unwrap();
        let got: Vec<(u64, Vec<u8>)> = bigs.iter().unwrap().map(|r| r.unwrap()).collect();
        let want: Vec<(u64, Vec<u8>)> = want.iter().map(|(k, _)| (*k, big_value(*k))).collect();
        assert!(
            got == want,
            "round {round}: big values are not exactly 0..=last"
        );
        let bigs_dir = dir
            .path()
            .join("blobs")
            .join(format!("{:016x}", bigs.info().unwrap().id));
        tx.commit().unwrap();

        // Recovery leaves nothing of the dead process in tmp/ (we wrote nothing),
        // and only our own process lock in procs/.
        let report = db.recover().unwrap();
        assert_eq!(
            report.dead_processes, 0,
            "round {round}: open already recovered: {report:?}"
        );
        assert_eq!(
            list(&dir.path().join("tmp")),
            Vec::<String>::new(),
            "round {round}: tmp/ after recover"
        );
        assert_eq!(
            list(&dir.path().join("procs")).len(),
            1,
            "round {round}: procs/ after recover"
        );
        let files = if bigs_dir.exists() {
            list(&bigs_dir).len()
        } else {
            0
        };
        assert_eq!(
            files,
            want.len(),
            "round {round}: big-value files of uncommitted transactions left behind"
        );
        drop(db);

        total_commits += now.map_or(0, |n| n + 1) - last.map_or(0, |l| l + 1);
        last = now;
    }
    eprintln!(
        "{ROUNDS} kills, {total_commits} commits, {debris_rounds} rounds left temporary files behind, {:?}",
        t0.elapsed()
    );
    assert!(
        last.is_some_and(|l| l >= ROUNDS as u64),
        "the children made too little progress to test anything"
    );
}
