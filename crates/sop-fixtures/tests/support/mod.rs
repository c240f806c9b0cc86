//! Helpers for the OS-process tests: the test Redis, a Redis a test owns (and can
//! restart), and worker processes of the `sop-worker` binary with their stdout
//! read line by line.
#![allow(dead_code, unused_imports)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use sop_testkit::{redis_url, OwnRedis};

/// Keys of a Redis matching a pattern.
pub fn redis_keys(url: &str, pattern: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    redis::cmd("KEYS").arg(pattern).query(&mut c).unwrap()
}

/// Remaining time to live of a key in milliseconds (-1: none, -2: no such key).
pub fn redis_pttl(url: &str, key: &str) -> i64 {
    let client = redis::Client::open(url).unwrap();
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    redis::cmd("PTTL").arg(key).query(&mut c).unwrap()
}

/// The database id saved in `sop.json` (it namespaces the database's Redis keys).
pub fn db_id(dir: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sop.json")).unwrap()).unwrap();
    v["id"].as_str().unwrap().to_string()
}

/// A `sop-worker` process, its stdout read by a thread.
pub struct Proc {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    /// Every line it printed so far.
    pub lines: Arc<Mutex<Vec<String>>>,
}

pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_sop-worker")
}

impl Proc {
    pub fn spawn(name: impl Into<String>, args: &[String]) -> Proc {
        let name = name.into();
        let mut child = Command::new(exe())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sop-worker");
        let out = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                l2.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Proc {
            name,
            child,
            stdin,
            rx,
            lines,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The next line starting with `prefix` (earlier lines are skipped, but an
    /// ERROR or FENCED line fails the test).
    pub fn expect(&self, prefix: &str, timeout: Duration) -> String {
        let t = Instant::now();
        loop {
            let left = timeout.checked_sub(t.elapsed()).unwrap_or_default();
            match self.rx.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(l) if l.starts_with("ERROR") || l.starts_with("FENCED") => {
                    panic!("{}: {l} (while waiting for {prefix})", self.name)
                }
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: no {prefix:?} line within {timeout:?}", self.name)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{}: ended before printing {prefix:?}", self.name)
                }
            }
        }
    }

    /// Send a command line and return the answer line.
    pub fn ask(&mut self, cmd: &str) -> String {
        self.send(cmd);
        match self.rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(e) => panic!("{}: no answer to {cmd:?}: {e}", self.name),
        }
    }

    pub fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().expect("stdin open");
        writeln!(s, "{line}").unwrap();
        s.flush().unwrap();
    }

    /// Close stdin (workers that run until stdin ends stop cleanly).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    pub fn signal(&self, sig: i32) {
        let r = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(r, 0, "kill({}, {sig})", self.pid());
    }

    pub fn kill(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().unwrap()
    }

    /// Wait for the process to end, at most `timeout` (then kill it and fail).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(20));
                return st;
            }
            if t.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not finish within {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn all_lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = unsafe { libc::kill(self.pid(), libc::SIGCONT) };
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Worker arguments: `KIND --db DIR --redis URL` followed by `extra`.
pub fn worker_args(kind: &str, dir: &Path, url: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        kind.into(),
        "--db".into(),
        dir.display().to_string(),
        "--redis".into(),
        url.into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Tests in one binary take turns: each starts many processes on 2 cores.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Delete a test's folder in the background: unlinking thousands of record
/// files takes seconds on a busy disk, and nothing waits for it.
pub fn remove_later(t: tempfile::TempDir) {
    let p = t.keep();
    let _ = Command::new("rm")
        .arg("-rf")
        .arg(&p)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
