//! What every worker shares: opening the database, reporting lines, classifying errors.

use clap::Args;
use sop::{Coordination, Database, DbOptions, Error};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a worker opens the database.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// The database folder (created if absent).
    #[arg(long)]
    pub db: PathBuf,
    /// Redis URL (Clustered mode), e.g. redis://127.0.0.1:6379/. Without it the folder's
    /// saved mode is used (Standalone for a new folder).
    #[arg(long)]
    pub redis: Option<String>,
    /// DbOptions.lease_ttl in milliseconds (how long this process's lease lives unrenewed).
    #[arg(long, default_value_t = 10_000)]
    pub lease_ms: u64,
    /// DbOptions.max_commit_time in milliseconds (also the TTL of the node locks a commit takes).
    #[arg(long, default_value_t = 60_000)]
    pub max_commit_ms: u64,
    /// Run recovery in the background every this many milliseconds (0: only at open).
    #[arg(long, default_value_t = 0)]
    pub recovery_ms: u64,
    /// Print READY after opening, then wait for a line `go` on stdin before working.
    #[arg(long)]
    pub wait_go: bool,
}

impl DbArgs {
    pub fn options(&self) -> DbOptions {
        DbOptions {
            coordination: self
                .redis
                .as_ref()
                .map(|url| Coordination::Redis { url: url.clone() }),
            lease_ttl: Duration::from_millis(self.lease_ms),
            max_commit_time: Duration::from_millis(self.max_commit_ms),
            recovery_interval: (self.recovery_ms > 0)
                .then(|| Duration::from_millis(self.recovery_ms)),
            ..Default::default()
        }
    }

    /// Open the database; while Redis is unreachable (restarting), keep trying for 60 s.
    pub fn open(&self) -> Database {
        let t = Instant::now();
        loop {
            match Database::open(&self.db, self.options()) {
                Ok(db) => return db,
                // Redis or the registry away for a moment (restarting).
                Err(Error::Coordinator(e) | Error::Registry(e))
                    if t.elapsed() < Duration::from_secs(60) =>
                {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    say(&format!("ERROR open: {e}"));
                    std::process::exit(2);
                }
            }
        }
    }

    /// One try at opening (a caller riding out an outage tries again).
    pub fn try_open(&self) -> sop::Result<Database> {
        Database::open(&self.db, self.options())
    }

    /// Open, and with `--wait-go` announce READY and wait for `go`.
    pub fn open_and_start(&self) -> Database {
        let db = self.open();
        if self.wait_go {
            say("READY");
            wait_for_line("go");
        }
        db
    }
}

/// Write one line to stdout with a single write(2) (a kill never tears it).
pub fn say(line: &str) {
    let mut s = String::with_capacity(line.len() + 1);
    s.push_str(line);
    s.push('\n');
    let mut b = s.as_bytes();
    while !b.is_empty() {
        let n = unsafe { libc::write(1, b.as_ptr().cast(), b.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // The parent is gone: nobody to report to.
            std::process::exit(4);
        }
        b = &b[n as usize..];
    }
}

/// Block until stdin gives the line `want` (or ends).
pub fn wait_for_line(want: &str) {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        match line {
            Ok(l) if l.trim() == want => return,
            Ok(_) => continue,
            Err(_) => return,
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

/// Stop when stdin ends: the parent closes it (or dies).
pub fn stop_on_stdin_eof() {
    std::thread::spawn(|| {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            if line.is_err() {
                break;
            }
        }
        STOP.store(true, Ordering::SeqCst);
    });
}

pub fn stopping() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Lines from stdin, read by a thread (so a worker can poll for commands).
pub fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(l) = line else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// What a worker does after a failed transaction.
pub enum Next {
    /// A conflict, a timeout, or Redis away for a moment: run the transaction again.
    Retry,
    /// Anything else: report it and stop.
    Stop,
}

/// Classify an error; report the ones that end the worker (FENCED exits 3, others 2).
pub fn on_error(what: &str, e: &Error) -> Next {
    if e.is_conflict() || matches!(e, Error::Coordinator(_)) {
        return Next::Retry;
    }
    match e {
        Error::Fenced => {
            say(&format!("FENCED {what}: {e}"));
            std::process::exit(3);
        }
        _ => {
            say(&format!("ERROR {what}: {e}"));
            Next::Stop
        }
    }
}

/// Sleep a little before a retry (spreads contending writers).
pub fn backoff(attempt: u32) {
    let cap = 1u64 << attempt.min(6); // up to 64 ms
    std::thread::sleep(Duration::from_micros(fastrand::u64(100..=cap * 1000)));
}
