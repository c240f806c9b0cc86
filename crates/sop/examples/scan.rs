//! Range-scan throughput: N items, then M scans of 10 items from random keys.
//! `cargo run --release -p sop --example scan -- [N] [M]`

use sop::{Database, DbOptions, StoreOptions, TxMode};
use std::time::Instant;

fn main() -> sop::Result<()> {
    let arg = |i: usize, d: u64| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let (n, m) = (arg(1, 200_000), arg(2, 100_000));
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::open(dir.path(), DbOptions::default())?;
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.create_store::<u64, Vec<u8>>("s", StoreOptions::default())?;
    for i in 0..n {
        s.add(&(i * 2), &vec![7u8; 150])?;
    }
    tx.commit()?;
    let tx = db.begin(TxMode::ForReading)?;
    let s = tx.open_store::<u64, Vec<u8>>("s")?;
    let t = Instant::now();
    let mut seen = 0u64;
    for j in 0..m {
        let from = (j.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n) * 2;
        for item in s.range(from..)?.take(10) {
            let (k, v) = item?;
            seen += 1 + (k & 1) * v.len() as u64;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{m} scans of 10 ({seen} items): {:.0} ms, {:.0} scans/s",
        secs * 1e3,
        m as f64 / secs
    );
    tx.commit()
}
