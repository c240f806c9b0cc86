//! The worker processes. Each prints one line per committed transaction.

use crate::common::{
    backoff, on_error, say, stdin_lines, stop_on_stdin_eof, stopping, wait_for_line, DbArgs, Next,
};
use clap::{Args, Subcommand};
use sop::test_hooks::{Coordinator, RedisCoordinator};
use sop::{Database, ErrorKind, StoreOptions, TxMode, ValuePlacement};
use std::time::Duration;

#[derive(Subcommand)]
pub enum Worker {
    /// Add keys from..from+count, `per-txn` keys per transaction, to a store opened
    /// or created by every transaction; prints `ADDED <first> <n>` per commit.
    Add(AddArgs),
    /// Read-modify-write increments of shared counters; prints `INC <counter> <new value>` per commit.
    Counters(CountersArgs),
    /// Random transfers between accounts until stdin ends; prints `T <incarnation> <n> <from> <to> <amount>` per commit.
    Bank(BankArgs),
    /// ForReading (and NoCheck) audits of the total balance until stdin ends; prints `AUDIT OK|BAD ...`.
    Audit(AuditArgs),
    /// Serve commands from stdin (`put STORE KEY VALUE`, `get STORE KEY`, `getw STORE KEY`, `nocheck STORE KEY`), one answer line each.
    Serve(ServeArgs),
    /// Commit big values in a loop (a victim to be killed); prints `C <n>` per commit.
    Churn(ChurnArgs),
    /// Hold an uncommitted transaction with big values until stdin says `commit`.
    Hold(HoldArgs),
    /// Open (recovery runs once), print READY, wait for `go`, run recovery, print the report.
    Recover(RecoverArgs),
    /// NoCheck reads of a store of u64 -> u64 whose values are 3 x key: random
    /// gets and range scans, every value verified; prints `READ <gets> <scanned>
    /// <ms>`.
    Read(ReadArgs),
    /// Drive a RedisCoordinator from stdin: `lock OWNER TTL_MS A B`, `unlock OWNER A B`, `holder A B`.
    Lock(LockArgs),
}

pub fn run(w: Worker) -> i32 {
    match w {
        Worker::Add(a) => add(a),
        Worker::Counters(a) => counters(a),
        Worker::Bank(a) => bank(a),
        Worker::Audit(a) => audit(a),
        Worker::Serve(a) => serve(a),
        Worker::Churn(a) => churn(a),
        Worker::Hold(a) => hold(a),
        Worker::Recover(a) => recover(a),
        Worker::Lock(a) => lock(a),
        Worker::Read(a) => read(a),
    }
}

#[derive(Args)]
pub struct AddArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long)]
    store: String,
    #[arg(long)]
    from: u64,
    #[arg(long)]
    count: u64,
    #[arg(long, default_value_t = 1)]
    per_txn: u64,
    /// Slot length of the store, if this worker creates it.
    #[arg(long, default_value_t = sop::DEFAULT_SLOT_LENGTH)]
    slot_length: usize,
}

fn add(a: AddArgs) -> i32 {
    let db = a.db.open_and_start();
    let opts = StoreOptions {
        slot_length: a.slot_length,
        ..Default::default()
    };
    let (mut retries, mut first) = (0u64, a.from);
    let end = a.from + a.count;
    while first < end {
        let n = a.per_txn.min(end - first);
        let mut attempt = 0;
        loop {
            let res = (|| {
                let tx = db.begin(TxMode::ForWriting)?;
                let s = tx.open_or_create_store::<u64, u64>(&a.store, opts.clone())?;
                for k in first..first + n {
                    if !s.add(&k, &(k * 3))? {
                        return Ok(false);
                    }
                }
                tx.commit()?;
                Ok(true)
            })();
            match res {
                Ok(true) => break,
                Ok(false) => {
                    say(&format!(
                        "ERROR key of {first}..{} already present",
                        first + n
                    ));
                    return 2;
                }
                Err(e) => match on_error("add", &e) {
                    Next::Retry => {
                        retries += 1;
                        attempt += 1;
                        backoff(attempt);
                    }
                    Next::Stop => return 2,
                },
            }
        }
        say(&format!("ADDED {first} {n}"));
        first += n;
    }
    say(&format!("DONE retries={retries}"));
    0
}

#[derive(Args)]
pub struct CountersArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long)]
    store: String,
    #[arg(long, default_value_t = 10)]
    counters: u32,
    /// Committed increments to make.
    #[arg(long)]
    increments: u64,
}

fn counters(a: CountersArgs) -> i32 {
    let db = a.db.open_and_start();
    let mut retries = 0u64;
    for _ in 0..a.increments {
        let c = fastrand::u32(0..a.counters);
        let mut attempt = 0;
        loop {
            let res = (|| {
                let tx = db.begin(TxMode::ForWriting)?;
                let s = tx.open_or_create_store::<u32, u64>(&a.store, StoreOptions::default())?;
                let v = s.get(&c)?.unwrap_or(0);
                s.upsert(&c, &(v + 1))?;
                tx.commit()?;
                Ok(v + 1)
            })();
            match res {
                Ok(v) => {
                    say(&format!("INC {c} {v}"));
                    break;
                }
                Err(e) => match on_error("counters", &e) {
                    Next::Retry => {
                        retries += 1;
                        attempt += 1;
                        backoff(attempt);
                    }
                    Next::Stop => return 2,
                },
            }
        }
    }
    say(&format!("DONE retries={retries}"));
    0
}

/// Accounts: `accounts` (u32 -> i64 balance). Ledger: `ledger` ((incarnation, n) -> (from, to, amount)).
pub const ACCOUNTS: &str = "accounts";
pub const LEDGER: &str = "ledger";

#[derive(Args)]
pub struct BankArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long, default_value_t = 100)]
    accounts: u32,
    /// Unique per worker process started (the ledger keys of its transfers start with it).
    #[arg(long)]
    incarnation: u64,
    /// Pause between transfers, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pause_ms: u64,
    /// Ride out an outage of the registry (a Cassandra node killed and
    /// started again): retry what failed before the commit point, settle an
    /// unknown outcome with `commit_outcome` once the registry is back, and
    /// reopen a poisoned handle.
    #[arg(long)]
    ride_out: bool,
}

/// The registry is away: wait a little before trying again.
fn outage_pause() {
    std::thread::sleep(Duration::from_millis(250));
}

fn bank(a: BankArgs) -> i32 {
    stop_on_stdin_eof();
    let mut db = a.db.open_and_start();
    say(&format!("STARTED {}", a.incarnation));
    let mut n = 0u64;
    let mut retries = 0u64;
    while !stopping() {
        let from = fastrand::u32(0..a.accounts);
        let to = (from + fastrand::u32(1..a.accounts)) % a.accounts;
        let amount = fastrand::i64(1..=20);
        let mut attempt = 0;
        loop {
            let attempt_of = std::cell::Cell::new((0u128, 0u64));
            let res: sop::Result<bool> = (|| {
                let tx = db.begin(TxMode::ForWriting)?;
                attempt_of.set((tx.id(), tx.snapshot_seq()));
                let acc = tx.open_store::<u32, i64>(ACCOUNTS)?;
                let bf = acc.get(&from)?.expect("account exists");
                if bf < amount {
                    return Ok(false); // not enough money: nothing to do
                }
                let bt = acc.get(&to)?.expect("account exists");
                acc.update(&from, &(bf - amount))?;
                acc.update(&to, &(bt + amount))?;
                let ledger = tx.open_store::<(u64, u64), (u32, u32, i64)>(LEDGER)?;
                assert!(
                    ledger.add(&(a.incarnation, n), &(from, to, amount))?,
                    "ledger key reused"
                );
                tx.commit()?;
                Ok(true)
            })();
            match res {
                Ok(true) => {
                    say(&format!("T {} {n} {from} {to} {amount}", a.incarnation));
                    n += 1;
                    break;
                }
                Ok(false) => break,
                Err(e) if a.ride_out && e.kind() == ErrorKind::OutcomeUnknown => {
                    // Settled once the registry answers: committed (report
                    // it), or not (the same transfer again, its key unused).
                    let (id, snap) = attempt_of.get();
                    let committed = loop {
                        match db.commit_outcome(id, snap) {
                            Ok(c) => break c,
                            Err(e) if e.kind() == ErrorKind::Unavailable => outage_pause(),
                            Err(e) => {
                                say(&format!("ERROR bank: settling {id:032x}: {e}"));
                                return 2;
                            }
                        }
                    };
                    say(&format!("SETTLED {id:032x} committed={committed}"));
                    if committed {
                        say(&format!("T {} {n} {from} {to} {amount}", a.incarnation));
                        n += 1;
                        break;
                    }
                }
                Err(e) if a.ride_out && e.kind() == ErrorKind::Unavailable => {
                    // Nothing was published: the same transfer again.
                    retries += 1;
                    if stopping() {
                        break;
                    }
                    outage_pause();
                }
                Err(e) if a.ride_out && e.kind() == ErrorKind::Poisoned => {
                    say(&format!("REOPEN after {e}"));
                    db = loop {
                        match a.db.try_open() {
                            Ok(d) => break d,
                            Err(_) => outage_pause(),
                        }
                    };
                }
                Err(e) => match on_error("bank", &e) {
                    Next::Retry => {
                        retries += 1;
                        attempt += 1;
                        if stopping() {
                            break;
                        }
                        backoff(attempt);
                    }
                    Next::Stop => return 2,
                },
            }
        }
        if a.pause_ms > 0 {
            std::thread::sleep(Duration::from_millis(fastrand::u64(0..=a.pause_ms)));
        }
    }
    say(&format!("DONE transfers={n} retries={retries}"));
    0
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long, default_value_t = 100)]
    accounts: u32,
    /// The total balance every audit must find.
    #[arg(long)]
    total: i64,
    /// Longest random pause between audits, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pause_ms: u64,
    /// Ride out an outage of the registry (as `bank --ride-out`).
    #[arg(long)]
    ride_out: bool,
}

fn audit(a: AuditArgs) -> i32 {
    stop_on_stdin_eof();
    let mut db = a.db.open_and_start();
    say("STARTED audit");
    let (mut ok, mut retries) = (0u64, 0u64);
    while !stopping() {
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..=a.pause_ms)));
        let nocheck = fastrand::u8(0..4) == 0;
        let mode = if nocheck {
            TxMode::NoCheck
        } else {
            TxMode::ForReading
        };
        let res: sop::Result<(i64, u32, u64)> = (|| {
            let tx = db.begin(mode)?;
            let seq = tx.snapshot_seq();
            let acc = tx.open_store::<u32, i64>(ACCOUNTS)?;
            let (mut sum, mut n) = (0i64, 0u32);
            for item in acc.iter()? {
                let (_, bal) = item?;
                sum += bal;
                n += 1;
            }
            tx.commit()?;
            Ok((sum, n, seq))
        })();
        match res {
            Ok((sum, n, seq)) => {
                if sum != a.total || n != a.accounts {
                    say(&format!(
                        "AUDIT BAD {mode:?} seq={seq} sum={sum} accounts={n} want={} {}",
                        a.total, a.accounts
                    ));
                } else {
                    ok += 1;
                    say(&format!("AUDIT OK {mode:?} seq={seq}"));
                }
            }
            Err(e) if a.ride_out && e.kind() == ErrorKind::Unavailable => {
                retries += 1;
                outage_pause();
            }
            Err(e) if a.ride_out && e.kind() == ErrorKind::Poisoned => {
                say(&format!("REOPEN after {e}"));
                db = loop {
                    match a.db.try_open() {
                        Ok(d) => break d,
                        Err(_) => outage_pause(),
                    }
                };
            }
            Err(e) => match on_error("audit", &e) {
                Next::Retry => retries += 1,
                Next::Stop => return 2,
            },
        }
    }
    say(&format!("DONE audits={ok} retries={retries}"));
    0
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
}

/// Commands: `put STORE KEY VALUE` (ForWriting; creates the store), `get STORE KEY`
/// (ForReading), `nocheck STORE KEY` (NoCheck), `incr STORE KEY` (read-modify-write).
/// Answers: `OK <seq>`, `VAL <key> <value|none> <snapshot seq>`, `ERR <error>`.
fn serve(a: ServeArgs) -> i32 {
    let db = a.db.open();
    say("READY");
    let rx = stdin_lines();
    while let Ok(line) = rx.recv() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let ans = match w.as_slice() {
            ["put", store, k, v] => {
                serve_put(&db, store, k.parse().unwrap(), Some(v.parse().unwrap()))
            }
            ["incr", store, k] => serve_put(&db, store, k.parse().unwrap(), None),
            ["get", store, k] => serve_get(&db, store, k.parse().unwrap(), TxMode::ForReading),
            ["getw", store, k] => serve_get(&db, store, k.parse().unwrap(), TxMode::ForWriting),
            ["nocheck", store, k] => serve_get(&db, store, k.parse().unwrap(), TxMode::NoCheck),
            ["cache"] => Ok(format!("CACHE {}", db.cache_bytes())),
            ["quit"] => break,
            _ => Ok(format!("ERR unknown command {line:?}")),
        };
        match ans {
            Ok(s) => say(&s),
            Err(e) => say(&format!("ERR {e}")),
        }
    }
    0
}

fn serve_put(db: &Database, store: &str, k: u64, v: Option<u64>) -> sop::Result<String> {
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.open_or_create_store::<u64, u64>(
        store,
        StoreOptions {
            slot_length: 16,
            ..Default::default()
        },
    )?;
    let v = match v {
        Some(v) => v,
        None => s.get(&k)?.unwrap_or(0) + 1,
    };
    s.upsert(&k, &v)?;
    tx.commit()?;
    Ok(format!("OK {} {v}", db.head()?))
}

fn serve_get(db: &Database, store: &str, k: u64, mode: TxMode) -> sop::Result<String> {
    let tx = db.begin(mode)?;
    let seq = tx.snapshot_seq();
    let s = tx.open_store::<u64, u64>(store)?;
    let v = s.get(&k)?;
    tx.commit()?;
    Ok(format!(
        "VAL {k} {} {seq}",
        v.map_or("none".to_string(), |v| v.to_string())
    ))
}

pub const BIG: &str = "big";

pub fn big_value(k: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

pub fn big_store_options() -> StoreOptions {
    StoreOptions {
        values: ValuePlacement::Big,
        slot_length: 16,
        ..Default::default()
    }
}

#[derive(Args)]
pub struct ChurnArgs {
    #[command(flatten)]
    db: DbArgs,
    /// First key; transaction i adds keys from + i*per_txn ...
    #[arg(long)]
    from: u64,
    #[arg(long, default_value_t = 4)]
    per_txn: u64,
    #[arg(long, default_value_t = 65536)]
    value_bytes: usize,
}

fn churn(a: ChurnArgs) -> i32 {
    let db = a.db.open_and_start();
    say("STARTED churn");
    let mut i = 0u64;
    loop {
        let first = a.from + i * a.per_txn;
        let res = (|| {
            let tx = db.begin(TxMode::ForWriting)?;
            let s = tx.open_or_create_store::<u64, Vec<u8>>(BIG, big_store_options())?;
            for k in first..first + a.per_txn {
                s.upsert(&k, &big_value(k, a.value_bytes))?;
            }
            tx.commit()
        })();
        match res {
            Ok(()) => {
                say(&format!("C {first} {}", a.per_txn));
                i += 1;
            }
            Err(e) => match on_error("churn", &e) {
                Next::Retry => backoff(1),
                Next::Stop => return 2,
            },
        }
    }
}

#[derive(Args)]
pub struct HoldArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long)]
    from: u64,
    #[arg(long, default_value_t = 4)]
    count: u64,
    #[arg(long, default_value_t = 65536)]
    value_bytes: usize,
}

fn hold(a: HoldArgs) -> i32 {
    let db = a.db.open();
    let tx = match db.begin(TxMode::ForWriting) {
        Ok(t) => t,
        Err(e) => {
            say(&format!("ERROR {e}"));
            return 2;
        }
    };
    let res = (|| {
        let s = tx.open_or_create_store::<u64, Vec<u8>>(BIG, big_store_options())?;
        for k in a.from..a.from + a.count {
            s.upsert(&k, &big_value(k, a.value_bytes))?;
        }
        Ok::<_, sop::Error>(())
    })();
    if let Err(e) = res {
        say(&format!("ERROR {e}"));
        return 2;
    }
    say("HOLDING");
    wait_for_line("commit");
    match tx.commit() {
        Ok(()) => {
            say("COMMITTED");
            0
        }
        Err(e) => {
            say(&format!("ERROR commit: {e}"));
            2
        }
    }
}

#[derive(Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    db: DbArgs,
}

fn recover(a: RecoverArgs) -> i32 {
    let db = a.db.open();
    say("READY");
    wait_for_line("go");
    match db.recover() {
        Ok(r) => {
            say(&format!(
                "RECOVERED dead={} tmp={} blobs={}",
                r.dead_processes, r.removed_temp_files, r.removed_blobs
            ));
            0
        }
        Err(e) => {
            say(&format!("ERROR recover: {e}"));
            2
        }
    }
}

#[derive(Args)]
pub struct LockArgs {
    #[arg(long)]
    redis: String,
    /// The namespace (database id) of the lock keys.
    #[arg(long)]
    ns: String,
}

fn lock(a: LockArgs) -> i32 {
    let c = match RedisCoordinator::connect(&a.redis, &a.ns) {
        Ok(c) => c,
        Err(e) => {
            say(&format!("ERROR {e}"));
            return 2;
        }
    };
    say("READY");
    let rx = stdin_lines();
    let hex = |s: &str| u128::from_str_radix(s, 16).unwrap();
    while let Ok(line) = rx.recv() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let ans = match w.as_slice() {
            ["lock", owner, ttl, s, n] => {
                let key = [(s.parse().unwrap(), n.parse().unwrap())];
                let ttl = Duration::from_millis(ttl.parse().unwrap());
                c.lock(hex(owner), &key, ttl, Duration::from_millis(50))
                    .map(|ok| format!("LOCKED {ok}"))
            }
            ["unlock", owner, s, n] => c
                .unlock(hex(owner), &[(s.parse().unwrap(), n.parse().unwrap())])
                .map(|()| "UNLOCKED".to_string()),
            ["holder", s, n] => c
                .holder(&(s.parse().unwrap(), n.parse().unwrap()))
                .map(|h| format!("HOLDER {}", h.unwrap_or_else(|| "none".into()))),
            ["quit"] => break,
            _ => Ok(format!("ERR unknown command {line:?}")),
        };
        match ans {
            Ok(s) => say(&s),
            Err(e) => say(&format!("ERR {e}")),
        }
    }
    0
}

#[derive(Args)]
pub struct ReadArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long)]
    store: String,
    /// Keys are 0..items.
    #[arg(long)]
    items: u64,
    #[arg(long, default_value_t = 1000)]
    gets: u64,
    /// Range scans of `scan_len` items each.
    #[arg(long, default_value_t = 10)]
    scans: u64,
    #[arg(long, default_value_t = 100)]
    scan_len: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn read(a: ReadArgs) -> i32 {
    let db = a.db.open_and_start();
    let t0 = std::time::Instant::now();
    let mut rng = fastrand::Rng::with_seed(a.seed);
    let res = (|| -> sop::Result<(u64, u64)> {
        let tx = db.begin(TxMode::NoCheck)?;
        let s = tx.open_store::<u64, u64>(&a.store)?;
        for _ in 0..a.gets {
            let k = rng.u64(0..a.items);
            match s.get(&k)? {
                Some(v) if v == k * 3 => {}
                other => panic!("key {k}: read {other:?}, expected {}", k * 3),
            }
        }
        let mut scanned = 0;
        for _ in 0..a.scans {
            let from = rng.u64(0..a.items.saturating_sub(a.scan_len).max(1));
            for (want, item) in (from..).zip(s.range(from..)?.take(a.scan_len as usize)) {
                let (k, v) = item?;
                assert_eq!((k, v), (want, want * 3), "scan from {from}");
                scanned += 1;
            }
        }
        tx.commit()?;
        Ok((a.gets, scanned))
    })();
    match res {
        Ok((gets, scanned)) => {
            say(&format!(
                "READ {gets} {scanned} {}",
                t0.elapsed().as_millis()
            ));
            0
        }
        Err(e) => {
            say(&format!("ERROR read: {e}"));
            2
        }
    }
}
