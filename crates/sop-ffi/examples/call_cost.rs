//! The Rust side of the bindings' call-cost benchmark (docs/BENCHMARKS.md,
//! "Cost per call over the C ABI"): N puts in one writing transaction, its
//! commit, then N gets in a NoCheck transaction, each on a new database, done
//! four ways: a byte store and a JSON store, each through the `sop` crate
//! directly and through the C ABI functions (called from Rust: the cost of the
//! ABI layer itself, without any foreign runtime). The byte store's keys are 24
//! bytes, `key_` and i in 20 digits, and its values 150 bytes, `value_` and i in
//! 20 digits padded with `x`; for the JSON store the key is the number i and the
//! value `{"v":"value_{i}"}`. The language bindings run the same work
//! (scripts/bench-call-cost.sh runs them all and collects the `CALLCOST` lines
//! each prints into one table).
//!
//! `cargo run --release -p sop-ffi --example call_cost -- [--count N] DIR`

use serde_json::{json, Value};
use sop::{Database, DbOptions, StoreOptions, TxMode};
use sop_ffi::*;
use std::ffi::{c_char, CString};
use std::path::Path;
use std::ptr;
use std::time::Instant;

type Res = Result<(), Box<dyn std::error::Error>>;

/// The phases' times in nanoseconds: wall clock, and the CPU time of the
/// calling thread (put_cpu, get_cpu), which a loaded machine inflates less.
struct Times {
    put: u128,
    put_cpu: u128,
    commit: u128,
    get: u128,
    get_cpu: u128,
}

/// A wall-clock and thread-CPU stopwatch.
struct Watch(Instant, u128);

impl Watch {
    fn start() -> Watch {
        Watch(Instant::now(), thread_cpu_ns())
    }
    /// (wall, cpu) nanoseconds since start.
    fn stop(&self) -> (u128, u128) {
        (self.0.elapsed().as_nanos(), thread_cpu_ns() - self.1)
    }
}

/// `struct timespec` of 64-bit Linux.
#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// Linux's clock of the calling thread's CPU time.
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// The calling thread's time on a CPU, in ns (`clock_gettime`, exact to the
/// call, where /proc/thread-self/schedstat lags by up to a scheduler tick).
fn thread_cpu_ns() -> u128 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out-pointer.
    if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// The human line, then the machine-readable lines scripts/bench-call-cost.sh
/// collects: `CALLCOST lang=L op=OP n=N ns_wall=W ns_cpu=C` (ns per call).
fn report(what: &str, lang: &str, kind: &str, n: usize, t: &Times) {
    let per = |ns: u128| ns as f64 / n as f64;
    for (op, wall, cpu) in [("put", t.put, t.put_cpu), ("get", t.get, t.get_cpu)] {
        println!(
            "CALLCOST lang={lang} op={kind}_{op} n={n} ns_wall={:.0} ns_cpu={:.0} cpu=thread",
            per(wall),
            per(cpu)
        );
    }
    println!(
        "{what:<28} put {:>6.0} ns/op (cpu {:>6.0})   commit {:>6.1} ms   get {:>6.0} ns/op (cpu {:>6.0})",
        per(t.put),
        per(t.put_cpu),
        t.commit as f64 / 1e6,
        per(t.get),
        per(t.get_cpu)
    );
}

fn keys(n: usize) -> (Vec<String>, Vec<String>) {
    (
        (0..n).map(|i| format!("key_{i:020}")).collect(),
        (0..n)
            .map(|i| format!("value_{i:020}{:x<124}", ""))
            .collect(),
    )
}

fn rust_bytes(dir: &Path, n: usize) -> Result<Times, Box<dyn std::error::Error>> {
    let (ks, vs) = keys(n);
    let db = Database::open(dir, DbOptions::default())?;
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.create_raw_store("kv", "raw-bytes", StoreOptions::default())?;
    let w = Watch::start();
    for (k, v) in ks.iter().zip(&vs) {
        s.upsert(k.as_bytes(), v.as_bytes())?;
    }
    let (put, put_cpu) = w.stop();
    let t0 = Instant::now();
    tx.commit()?;
    let commit = t0.elapsed().as_nanos();
    let tx = db.begin(TxMode::NoCheck)?;
    let s = tx.open_raw_store("kv")?;
    let w = Watch::start();
    for (k, v) in ks.iter().zip(&vs) {
        let got = s.get(k.as_bytes())?.ok_or("missing")?;
        assert_eq!(&got[..], v.as_bytes());
    }
    let (get, get_cpu) = w.stop();
    tx.commit()?;
    Ok(Times {
        put,
        put_cpu,
        commit,
        get,
        get_cpu,
    })
}

fn rust_json(dir: &Path, n: usize) -> Result<Times, Box<dyn std::error::Error>> {
    let db = Database::open(dir, DbOptions::default())?;
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.create_json_store("kv", StoreOptions::default(), None)?;
    let w = Watch::start();
    for i in 0..n {
        s.upsert(&json!(i), &json!({ "v": format!("value_{i}") }))?;
    }
    let (put, put_cpu) = w.stop();
    let t0 = Instant::now();
    tx.commit()?;
    let commit = t0.elapsed().as_nanos();
    let tx = db.begin(TxMode::NoCheck)?;
    let s = tx.open_json_store("kv")?;
    let w = Watch::start();
    for i in 0..n {
        let v: Value = s.get(&json!(i))?.ok_or("missing")?;
        assert!(v["v"].is_string());
    }
    let (get, get_cpu) = w.stop();
    tx.commit()?;
    Ok(Times {
        put,
        put_cpu,
        commit,
        get,
        get_cpu,
    })
}

fn ok(rc: i32, what: &str) -> Res {
    if rc == SOP_OK {
        return Ok(());
    }
    // SAFETY: the library's own message, valid until the next call.
    let msg = unsafe { std::ffi::CStr::from_ptr(sop_last_error_message()) };
    Err(format!("{what}: code {rc}: {}", msg.to_string_lossy()).into())
}

/// Open, begin and create the store through the C ABI.
unsafe fn c_setup(
    dir: &Path,
    json: bool,
) -> Result<(*mut SopDb, *mut SopTx, *mut SopStore), Box<dyn std::error::Error>> {
    let path = CString::new(dir.to_str().ok_or("path")?)?;
    let name = CString::new("kv")?;
    let (mut db, mut tx, mut st) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    unsafe {
        ok(sop_open(path.as_ptr(), ptr::null(), &mut db), "open")?;
        ok(sop_begin(db, SOP_TX_FOR_WRITING, &mut tx), "begin")?;
        let rc = if json {
            sop_json_store_create(tx, name.as_ptr(), ptr::null(), ptr::null(), &mut st)
        } else {
            sop_raw_store_create(tx, name.as_ptr(), ptr::null(), ptr::null(), &mut st)
        };
        ok(rc, "create store")?;
    }
    Ok((db, tx, st))
}

/// Commit, then begin a NoCheck transaction and open the store again.
unsafe fn c_commit_reopen(
    db: *mut SopDb,
    tx: *mut SopTx,
    st: *mut SopStore,
    json: bool,
) -> Result<(u128, *mut SopTx, *mut SopStore), Box<dyn std::error::Error>> {
    let name = CString::new("kv")?;
    let (mut rtx, mut rst) = (ptr::null_mut(), ptr::null_mut());
    unsafe {
        let t0 = Instant::now();
        ok(sop_tx_commit(tx), "commit")?;
        let commit = t0.elapsed().as_nanos();
        sop_store_close(st);
        sop_tx_free(tx);
        ok(sop_begin(db, SOP_TX_NO_CHECK, &mut rtx), "begin")?;
        let rc = if json {
            sop_json_store_open(rtx, name.as_ptr(), &mut rst)
        } else {
            sop_raw_store_open(rtx, name.as_ptr(), &mut rst)
        };
        ok(rc, "open store")?;
        Ok((commit, rtx, rst))
    }
}

unsafe fn c_close(db: *mut SopDb, tx: *mut SopTx, st: *mut SopStore) {
    unsafe {
        sop_store_close(st);
        sop_tx_rollback(tx);
        sop_tx_free(tx);
        sop_close(db);
    }
}

fn abi_bytes(dir: &Path, n: usize) -> Result<Times, Box<dyn std::error::Error>> {
    let (ks, vs) = keys(n);
    unsafe {
        let (db, tx, st) = c_setup(dir, false)?;
        let w = Watch::start();
        for (k, v) in ks.iter().zip(&vs) {
            let mut done = 0;
            let rc = sop_raw_put(
                st,
                k.as_ptr(),
                k.len(),
                v.as_ptr(),
                v.len(),
                SOP_PUT_UPSERT,
                &mut done,
            );
            ok(rc, "put")?;
        }
        let (put, put_cpu) = w.stop();
        let (commit, tx, st) = c_commit_reopen(db, tx, st, false)?;
        let w = Watch::start();
        for (k, v) in ks.iter().zip(&vs) {
            let (mut found, mut p, mut len) = (0, ptr::null_mut(), 0);
            ok(
                sop_raw_get(st, k.as_ptr(), k.len(), &mut found, &mut p, &mut len),
                "get",
            )?;
            assert!(found == 1 && std::slice::from_raw_parts(p, len) == v.as_bytes());
            sop_bytes_free(p, len);
        }
        let (get, get_cpu) = w.stop();
        c_close(db, tx, st);
        Ok(Times {
            put,
            put_cpu,
            commit,
            get,
            get_cpu,
        })
    }
}

fn abi_json(dir: &Path, n: usize) -> Result<Times, Box<dyn std::error::Error>> {
    unsafe {
        let (db, tx, st) = c_setup(dir, true)?;
        let w = Watch::start();
        for i in 0..n {
            let k = CString::new(i.to_string())?;
            let v = CString::new(format!("{{\"v\":\"value_{i}\"}}"))?;
            let mut done = 0;
            ok(
                sop_json_put(st, k.as_ptr(), v.as_ptr(), SOP_PUT_UPSERT, &mut done),
                "put",
            )?;
        }
        let (put, put_cpu) = w.stop();
        let (commit, tx, st) = c_commit_reopen(db, tx, st, true)?;
        let w = Watch::start();
        for i in 0..n {
            let k = CString::new(i.to_string())?;
            let (mut found, mut v): (i32, *mut c_char) = (0, ptr::null_mut());
            ok(sop_json_get(st, k.as_ptr(), &mut found, &mut v), "get")?;
            assert!(found == 1 && !v.is_null());
            sop_string_free(v);
        }
        let (get, get_cpu) = w.stop();
        c_close(db, tx, st);
        Ok(Times {
            put,
            put_cpu,
            commit,
            get,
            get_cpu,
        })
    }
}

fn main() -> Res {
    let mut args = std::env::args().skip(1);
    let mut n = 100_000usize;
    let mut dir = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => n = args.next().ok_or("--count N")?.parse()?,
            d => dir = Some(std::path::PathBuf::from(d)),
        }
    }
    let dir = dir.ok_or("usage: call_cost [--count N] DIR (a new folder)")?;
    std::fs::create_dir_all(&dir)?;
    println!(
        "{n} puts in one transaction, then {n} gets (NoCheck), each on a new database in {}",
        dir.display()
    );
    report(
        "rust, sop crate, bytes",
        "rust",
        "bytes",
        n,
        &rust_bytes(&dir.join("rust-bytes"), n)?,
    );
    report(
        "rust, C ABI, bytes",
        "rust-cabi",
        "bytes",
        n,
        &abi_bytes(&dir.join("abi-bytes"), n)?,
    );
    report(
        "rust, sop crate, json",
        "rust",
        "json",
        n,
        &rust_json(&dir.join("rust-json"), n)?,
    );
    report(
        "rust, C ABI, json",
        "rust-cabi",
        "json",
        n,
        &abi_json(&dir.join("abi-json"), n)?,
    );
    Ok(())
}
