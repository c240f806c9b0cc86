//! The Node benchmark's work done straight from Rust (the baseline its figures
//! are set beside): 100,000 JSON puts in one transaction, the same as one
//! batch, 100,000 byte puts, then 100,000 gets of each.
//! `cargo run --release -p sop-node --example rust_baseline [N]`

use serde_json::json;
use sop::{Database, DbOptions, StoreOptions, TxMode};
use std::time::Instant;

fn main() -> sop::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("sop-rust-baseline-{}", std::process::id()));
    let db = Database::open(&dir, DbOptions::default())?;
    let unique = StoreOptions {
        unique: true,
        ..StoreOptions::default()
    };
    let key = |i: usize| format!("key{i:08}");
    let mut rows: Vec<(String, f64)> = Vec::new();
    let mut time = |name: String, f: &mut dyn FnMut() -> sop::Result<()>| -> sop::Result<()> {
        let t0 = Instant::now();
        f()?;
        rows.push((name, t0.elapsed().as_secs_f64()));
        Ok(())
    };

    time(format!("JSON put x{n} (one tx) + commit"), &mut || {
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.create_json_store("j", unique.clone(), None)?;
        for i in 0..n {
            s.upsert(
                &json!(key(i)),
                &json!({"i": i, "name": format!("item {i}")}),
            )?;
        }
        drop(s);
        tx.commit()
    })?;
    time(format!("bytes put x{n} (one tx) + commit"), &mut || {
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.create_raw_store("b", "raw-bytes", unique.clone())?;
        for i in 0..n {
            s.upsert(key(i).as_bytes(), [1u8; 24])?;
        }
        tx.commit()
    })?;
    time(format!("JSON get x{n} (one snapshot tx)"), &mut || {
        let tx = db.begin(TxMode::NoCheck)?;
        let s = tx.open_json_store("j")?;
        for i in 0..n {
            let v = s.get(&json!(key(i)))?.expect("present");
            assert_eq!(v["i"].as_u64(), Some(i as u64));
        }
        drop(s);
        tx.commit()
    })?;
    time(format!("bytes get x{n} (one snapshot tx)"), &mut || {
        let tx = db.begin(TxMode::NoCheck)?;
        let s = tx.open_raw_store("b")?;
        for i in 0..n {
            assert_eq!(s.get(key(i).as_bytes())?.expect("present").len(), 24);
        }
        tx.commit()
    })?;
    db.close()?;
    let _ = std::fs::remove_dir_all(&dir);

    println!("| Rust (sop crate, release) | total | per item |");
    println!("|---|---:|---:|");
    for (name, s) in rows {
        println!(
            "| {name} | {:.0} ms | {:.2} µs |",
            s * 1e3,
            s * 1e6 / n as f64
        );
    }
    Ok(())
}
