//! Latency of durable single-insert commits: `cargo run --release -p sop --example single_commits -- [COMMITS] [PRELOAD] [SLOT] [--exclusive]`

use sop::{Database, DbOptions, StoreOptions, TxMode};
use std::time::Instant;

fn main() -> sop::Result<()> {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).collect();
    let exclusive = std::env::args().any(|a| a == "--exclusive");
    let arg = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (commits, preload, slot) = (arg(1, 1000), arg(2, 100_000), arg(3, 64) as usize);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::open(
        dir.path(),
        DbOptions {
            exclusive,
            ..Default::default()
        },
    )?;
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.create_store::<u64, Vec<u8>>(
        "s",
        StoreOptions {
            slot_length: slot,
            ..Default::default()
        },
    )?;
    for i in 0..preload {
        s.add(&(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)), &vec![1u8; 150])?;
    }
    tx.commit()?;
    let mut lat = Vec::with_capacity(commits as usize);
    let t = Instant::now();
    for i in 0..commits {
        let t1 = Instant::now();
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.open_store::<u64, Vec<u8>>("s")?;
        s.add(
            &(i.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1),
            &vec![2u8; 150],
        )?;
        tx.commit()?;
        lat.push(t1.elapsed().as_secs_f64() * 1e3);
    }
    let total = t.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    println!(
        "{commits} durable single-insert commits (store of {preload}, slot {slot}, exclusive {exclusive}): {:.0} ms total, mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms",
        total * 1e3,
        total * 1e3 / commits as f64,
        p(0.5),
        p(0.99)
    );
    let before = folder_bytes(dir.path());
    let r = db.reclaim()?;
    println!(
        "reclaim: {} records retired; folder {:.1} MiB -> {:.1} MiB",
        r.retired,
        before as f64 / (1 << 20) as f64,
        folder_bytes(dir.path()) as f64 / (1 << 20) as f64
    );
    Ok(())
}

fn folder_bytes(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        folder_bytes(&e.path())
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
