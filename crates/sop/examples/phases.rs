//! Where the time of the Go benchmark's phases goes: staging the writes vs the
//! commit, for the insert and the delete transaction, over several rounds.
//! `cargo run --release -p sop --example phases -- [N] [ROUNDS] [DIR]`
//! (exclusive folder, as `sop-bench sop-go` runs it).

use sop::{Database, DbOptions, StoreOptions, TxMode};
use std::time::Instant;

fn main() -> sop::Result<()> {
    let arg = |i: usize| std::env::args().nth(i);
    let n: u64 = arg(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let rounds: usize = arg(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let base = arg(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let keys: Vec<String> = (0..n).map(|i| format!("key_{i}")).collect();
    let vals: Vec<String> = (0..n).map(|i| format!("value_{i}")).collect();
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    for round in 0..rounds {
        let dir = tempfile::Builder::new()
            .prefix("sop-phases")
            .tempdir_in(&base)
            .expect("temp dir");
        let db = Database::open(
            dir.path(),
            DbOptions {
                exclusive: true,
                ..Default::default()
            },
        )?;
        let tx = db.begin(TxMode::ForWriting)?;
        tx.create_raw_store("kv", "raw-bytes", StoreOptions::default())?;
        tx.commit()?;

        let t = Instant::now();
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.open_raw_store("kv")?;
        for i in 0..n as usize {
            s.upsert(keys[i].as_bytes(), vals[i].as_bytes())?;
        }
        let staged = ms(t);
        let c = Instant::now();
        tx.commit()?;
        let (ins, ins_commit) = (ms(t), ms(c));

        let t = Instant::now();
        let tx = db.begin(TxMode::NoCheck)?;
        let s = tx.open_raw_store("kv")?;
        for k in &keys {
            assert!(s.get_with(k.as_bytes(), |v| v.len())?.is_some());
        }
        tx.commit()?;
        let read = ms(t);

        let t = Instant::now();
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.open_raw_store("kv")?;
        for k in &keys {
            s.remove(k.as_bytes())?;
        }
        let dstaged = ms(t);
        let c = Instant::now();
        tx.commit()?;
        let (del, del_commit) = (ms(t), ms(c));
        println!(
            "round {round}: insert {ins:.1} ms (staging {staged:.1}, commit {ins_commit:.1}); read {read:.1} ms; delete {del:.1} ms (staging {dstaged:.1}, commit {del_commit:.1})"
        );
    }
    Ok(())
}
