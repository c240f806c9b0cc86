//! Shared (default) mode on cutfs with two writer processes: each round starts
//! two OS processes (this test binary re-executed with `SOP_CUTFS_CHILD_DIR`,
//! running `cutfs_writer_child`) that commit and report each commit after it
//! returned Ok; at a random moment both are stopped (SIGSTOP, as a power cut
//! stops the machine), the power is cut, they are killed, and the power comes
//! back. A second cut lands at a random moment of the recovery that the next open
//! does; then every reported commit must be present and `check` clean. Cuts keep
//! a random prefix of unsynced appends here (torn writes).

mod support;

use sop::Database;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use support::*;

const ENV_DIR: &str = "SOP_CUTFS_CHILD_DIR";
const ENV_WRITER: &str = "SOP_CUTFS_CHILD_WRITER";
const BUDGET: Duration = Duration::from_secs(10);
const MIN_ROUNDS: usize = 4;

/// The child: commit forever as writer `SOP_CUTFS_CHILD_WRITER`, printing
/// `ACK i` after each commit returned Ok.
#[test]
fn cutfs_writer_child() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return;
    };
    let w: u64 = std::env::var(ENV_WRITER).unwrap().parse().unwrap();
    let db = Database::open(&dir, shared()).unwrap();
    let first = next_i(&db, w);
    let mut out = std::io::stdout();
    // One write of less than PIPE_BUF bytes per line: a stop never tears one.
    let mut say = |line: String| {
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    };
    say("\nREADY\n".into());
    let err = write_until_error(&db, w, first, |i| say(format!("\nACK {i}\n")), u64::MAX);
    say(format!("\nERROR {err}\n"));
}

enum Msg {
    Ready,
    Ack(u64),
    Error(String),
}

struct Running {
    child: Child,
    lines: thread::JoinHandle<()>,
    stderr: thread::JoinHandle<String>,
}

fn spawn(dir: &std::path::Path, w: u64, tx: mpsc::Sender<(u64, Msg)>) -> Running {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cutfs_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir)
        .env(ENV_WRITER, w.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let msg = if line == "READY" {
                Msg::Ready
            } else if let Some(i) = line.strip_prefix("ACK ") {
                Msg::Ack(i.parse().unwrap())
            } else if let Some(e) = line.strip_prefix("ERROR ") {
                Msg::Error(e.to_string())
            } else {
                continue;
            };
            let _ = tx.send((w, msg));
        }
    });
    let mut err = child.stderr.take().unwrap();
    let stderr = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    Running {
        child,
        lines,
        stderr,
    }
}

fn signal(c: &Child, sig: i32) {
    // SAFETY: a signal to our own child, which has not been reaped yet.
    unsafe {
        libc::kill(c.id() as i32, sig);
    }
}

/// Wait until the process is stopped (state T in /proc), so nothing it does
/// after the cut reaches the file system.
fn wait_stopped(c: &Child) {
    let path = format!("/proc/{}/stat", c.id());
    let t = Instant::now();
    loop {
        let stat = std::fs::read_to_string(&path).unwrap_or_default();
        // The state follows the command name in parentheses.
        let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
        if matches!(state, Some('T' | 't' | 'Z' | 'X') | None) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "child {} does not stop: {stat}",
            c.id()
        );
        thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn two_processes_in_shared_mode_keep_every_acknowledged_commit_across_cuts() {
    if std::env::var(ENV_DIR).is_ok() {
        return;
    }
    let (_tmp, m) = mount_with(sop_cutfs::CutFs::new().keep_unsynced_appends(true));
    let dir = m.path().join("db");
    {
        let db = Database::open(&dir, shared()).unwrap();
        create_stores(&db);
    }
    let mut rng = fastrand::Rng::with_seed(0xc0ffee);
    let mut acked: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let t0 = Instant::now();
    let mut open_took = Duration::from_millis(20);
    let (mut round, mut landed_in_open, mut commits) = (0, 0, 0);
    while round < MIN_ROUNDS || t0.elapsed() < BUDGET {
        round += 1;
        let (tx, rx) = mpsc::channel();
        let kids: Vec<Running> = (0..2).map(|w| spawn(&dir, w, tx.clone())).collect();
        drop(tx);
        // Cut once both are committing, after a random while.
        let mut ready = 0;
        let mut early = Vec::new();
        let mut take = |w: u64, msg: Msg, ready: &mut i32, early: &mut Vec<String>| match msg {
            Msg::Ready => *ready += 1,
            Msg::Ack(i) => {
                acked.entry(w).or_default().push(i);
                commits += 1;
            }
            Msg::Error(e) => early.push(format!("writer process {w} failed before the cut: {e}")),
        };
        while ready < 2 {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok((w, msg)) => take(w, msg, &mut ready, &mut early),
                Err(e) => panic!("round {round}: the writers did not start ({e}): {early:?}"),
            }
        }
        let write_for = Duration::from_millis(rng.u64(50..400));
        thread::sleep(write_for);
        for k in &kids {
            signal(&k.child, libc::SIGSTOP);
        }
        for k in &kids {
            wait_stopped(&k.child);
        }
        m.power_off();
        let mut stderrs = Vec::new();
        for mut k in kids {
            signal(&k.child, libc::SIGKILL);
            let _ = k.child.wait();
            k.lines.join().unwrap();
            stderrs.push(k.stderr.join().unwrap());
        }
        while let Ok((w, msg)) = rx.try_recv() {
            take(w, msg, &mut ready, &mut early);
        }
        m.power_on();

        // The next open recovers the dead writers' leftovers; cut again in it.
        let second = Duration::from_micros(rng.u64(0..=open_took.as_micros() as u64 * 3 / 2));
        let d = dir.clone();
        let opener = thread::spawn(move || Database::open(&d, shared()).map(drop));
        thread::sleep(second);
        m.power_off();
        let in_open = opener.join().expect("open panicked").is_err();
        landed_in_open += in_open as usize;
        m.power_on();

        let t = Instant::now();
        let db = Database::open(&dir, shared())
            .unwrap_or_else(|e| panic!("round {round}: the open after two cuts failed: {e}"));
        open_took = t.elapsed();
        let faults = verify(&db, &acked);
        if !faults.is_empty() || !early.is_empty() {
            panic!(
                "round {round} (shared mode, 2 processes; cut after {write_for:?} of writing, second cut {second:?} into the next open, {}):\n  {}\nwriter stderr:\n{}",
                if in_open { "which it interrupted" } else { "which had finished" },
                early.iter().chain(&faults).cloned().collect::<Vec<_>>().join("\n  "),
                stderrs.join("\n---\n")
            );
        }
    }
    eprintln!(
        "shared, 2 processes: {round} rounds, {commits} acknowledged commits, {landed_in_open} second cuts inside the reopen, {:?}",
        m.stats()
    );
    assert!(commits > 0, "no commit was acknowledged in {round} rounds");
}
