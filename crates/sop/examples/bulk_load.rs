//! Bulk load N small items (u64 key, 16-byte value) in ONE transaction and report
//! time and peak memory (VmHWM). `cargo run --release -p sop --example bulk_load -- 5000000 [DIR]`

use sop::{Database, DbOptions, StoreOptions, TxMode};
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn main() -> sop::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let base = std::env::args()
        .nth(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("sop-bulk")
        .tempdir_in(base)
        .expect("temp dir");
    let db = Database::open(dir.path(), DbOptions::default())?;
    let t = Instant::now();
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.create_store::<u64, [u8; 16]>("bulk", StoreOptions::default())?;
    for i in 0..n {
        // A scrambled order, so inserts land all over the tree.
        let k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        s.add(&k, &[i as u8; 16])?;
    }
    let staged = t.elapsed();
    tx.commit()?;
    let total = t.elapsed();
    let bytes: u64 = walk(dir.path());
    println!(
        "{n} items: staged in {:.1} s, committed in {:.1} s total ({:.0} items/s); peak RSS {:.0} MiB; {:.0} MiB on disk",
        staged.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        peak_rss_mib(),
        bytes as f64 / (1 << 20) as f64
    );
    let tx = db.begin(TxMode::NoCheck)?;
    let s = tx.open_store::<u64, [u8; 16]>("bulk")?;
    assert_eq!(s.count()?, n);
    Ok(())
}

fn walk(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
