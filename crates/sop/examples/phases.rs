//! Where the time of the Go benchmark's phases goes: staging the writes vs the
//! commit, for the insert and the delete transaction, over several rounds, with
//! the page faults each part took (fresh memory costs about 1.4 µs a page on a
//! virtual machine: round 0, in a fresh process, pays for all of it).
//! `cargo run --release -p sop --example phases -- [N] [ROUNDS] [DIR]`
//! (exclusive folder, as `sop-bench sop-go` runs it).

use sop::{Database, DbOptions, StoreOptions, TxMode};
use std::time::Instant;

/// Minor page faults of this process so far.
fn faults() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_minflt
}

/// Wall time (ms) and page faults since a mark.
struct Mark(Instant, i64);

impl Mark {
    fn now() -> Mark {
        Mark(Instant::now(), faults())
    }
    fn show(&self) -> String {
        format!(
            "{:.1} ms, {} faults",
            self.0.elapsed().as_secs_f64() * 1e3,
            faults() - self.1
        )
    }
}

fn main() -> sop::Result<()> {
    let arg = |i: usize| std::env::args().nth(i);
    let n: u64 = arg(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let rounds: usize = arg(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let base = arg(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let keys: Vec<String> = (0..n).map(|i| format!("key_{i}")).collect();
    let vals: Vec<String> = (0..n).map(|i| format!("value_{i}")).collect();
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

        let t = Mark::now();
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.open_raw_store("kv")?;
        for i in 0..n as usize {
            s.upsert(keys[i].as_bytes(), vals[i].as_bytes())?;
        }
        let staged = t.show();
        let c = Mark::now();
        tx.commit()?;
        let (ins, ins_commit) = (t.show(), c.show());

        let t = Mark::now();
        let tx = db.begin(TxMode::NoCheck)?;
        let s = tx.open_raw_store("kv")?;
        for k in &keys {
            assert!(s.get_with(k.as_bytes(), |v| v.len())?.is_some());
        }
        tx.commit()?;
        let read = t.show();

        let t = Mark::now();
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.open_raw_store("kv")?;
        for k in &keys {
            s.remove(k.as_bytes())?;
        }
        let dstaged = t.show();
        let c = Mark::now();
        tx.commit()?;
        let (del, del_commit) = (t.show(), c.show());
        println!(
            "round {round}: insert {ins} (staging {staged}; commit {ins_commit}); read {read}; delete {del} (staging {dstaged}; commit {del_commit})"
        );
    }
    Ok(())
}
