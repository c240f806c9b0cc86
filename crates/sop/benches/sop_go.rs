//! The Go original's benchmark: keys `key_{i}`, values `value_{i}`; insert all in
//! one transaction, read all in one ForReading transaction, delete all in one
//! transaction; each phase timed with its begin and commit (durable commits).
//!
//! `cargo bench -p sop --bench sop_go -- [N] [SLOT_LENGTH] [DIR]`

use sop::{Database, DbOptions, StoreOptions, TxMode};

// The benchmark harness across engines uses the same allocator for all of them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;

fn main() -> sop::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let slot: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let base = args
        .get(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("sop-go-bench")
        .tempdir_in(base)
        .expect("temp dir");
    let db = Database::open(dir.path(), DbOptions::default())?;
    let keys: Vec<String> = (0..n).map(|i| format!("key_{i}")).collect();
    let vals: Vec<String> = (0..n).map(|i| format!("value_{i}")).collect();

    let t = Instant::now();
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.create_store::<String, String>(
        "bench",
        StoreOptions {
            slot_length: slot,
            ..Default::default()
        },
    )?;
    for i in 0..n as usize {
        s.add(&keys[i], &vals[i])?;
    }
    tx.commit()?;
    report("insert", n, t);

    let t = Instant::now();
    let tx = db.begin(TxMode::ForReading)?;
    let s = tx.open_store::<String, String>("bench")?;
    for i in 0..n as usize {
        let v = s.get(&keys[i])?;
        assert!(
            v.as_deref() == Some(vals[i].as_str()),
            "read back {}",
            keys[i]
        );
    }
    tx.commit()?;
    report("read", n, t);

    let t = Instant::now();
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.open_store::<String, String>("bench")?;
    for k in &keys {
        assert!(s.remove(k)?);
    }
    tx.commit()?;
    report("delete", n, t);
    Ok(())
}

fn report(phase: &str, n: u64, t: Instant) {
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{phase:>8}: {n} items in {:>8.1} ms = {:>10.0} ops/s",
        secs * 1e3,
        n as f64 / secs
    );
}
