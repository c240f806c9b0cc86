//! Read paths in isolation, shaped like the `redb` workload of sop-bench: 24-byte
//! random keys, 150-byte values, NoCheck read transactions.
//!
//! `cargo run --release -p sop --example reads -- DIR PHASE [N]`
//!
//! `load` fills DIR with N items (default 200,000) in one transaction; `get` reads
//! every key once in random order, `scan` runs N/2 scans of 10 items from an existing
//! key (both with the owning `get` and `range`; `get_with` and `scan_with` do the same
//! with the borrowing `RawStore::get_with` and `RawStore::scan`), `threads` reads every
//! key from 4 threads, each in its own transaction.
//! `mem:PHASE` loads a fresh DIR in the same process first, so the reads see leaves as
//! the writers left them in memory (as in sop-bench) rather than decoded from disk.
//! Run `load` once, then time or profile the other phases separately (for example
//! under `perf stat -e instructions:u`).

use sop::{Database, DbOptions, RawStore, StoreOptions, TxMode};
use std::ops::Bound;
use std::time::Instant;

const THREADS: usize = 4;

fn keys(n: usize) -> Vec<[u8; 24]> {
    let mut rng = fastrand::Rng::with_seed(3);
    (0..n)
        .map(|_| {
            let mut k = [0u8; 24];
            rng.fill(&mut k);
            k
        })
        .collect()
}

#[inline(never)]
fn get_all(s: &RawStore<'_>, keys: &[[u8; 24]]) -> sop::Result<u64> {
    let mut sum = 0u64;
    let mut out = Vec::with_capacity(150);
    for k in keys {
        let v = s.get(k)?.expect("every key is present");
        out.clear();
        out.extend_from_slice(&v);
        sum = sum.wrapping_add(out[0] as u64);
    }
    Ok(sum)
}

#[inline(never)]
fn get_all_with(s: &RawStore<'_>, keys: &[[u8; 24]]) -> sop::Result<u64> {
    let mut sum = 0u64;
    let mut out = Vec::with_capacity(150);
    for k in keys {
        s.get_with(k, |v| {
            out.clear();
            out.extend_from_slice(v);
        })?
        .expect("every key is present");
        sum = sum.wrapping_add(out[0] as u64);
    }
    Ok(sum)
}

#[inline(never)]
fn scan_with(s: &RawStore<'_>, k: &[u8]) -> sop::Result<u64> {
    let (mut sum, mut n) = (0u64, 0);
    s.scan(Bound::Included(k), Bound::Unbounded, false, |k, v| {
        sum = sum.wrapping_add(k[0] as u64 + v.len() as u64);
        n += 1;
        n < 10
    })?;
    Ok(sum)
}

/// Load every node into the cache (kept out of `get_all`, so profiles can tell them apart).
#[inline(never)]
fn warm(s: &RawStore<'_>, keys: &[[u8; 24]]) -> sop::Result<()> {
    for k in keys {
        s.get(k)?;
    }
    Ok(())
}

#[inline(never)]
fn scan_from(s: &RawStore<'_>, k: &[u8]) -> sop::Result<u64> {
    let mut sum = 0u64;
    for item in s
        .range(Bound::Included(k.to_vec()), Bound::Unbounded, false)?
        .take(10)
    {
        let (k, v) = item?;
        sum = sum.wrapping_add(k[0] as u64 + v.len() as u64);
    }
    Ok(sum)
}

fn main() -> sop::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(phase)) = (args.first(), args.get(1)) else {
        eprintln!("usage: reads DIR [mem:]load|get|scan|get_with|scan_with|threads [N]");
        std::process::exit(2);
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let db = Database::open(
        dir,
        DbOptions {
            node_cache_bytes: 4 << 30,
            ..Default::default()
        },
    )?;
    let keys = keys(n);
    // `mem:PHASE`: load DIR (fresh) in this process, then 100 transactions of 1000 more
    // inserts (as the benchmark does before its reads), then PHASE over the nodes those
    // commits left in the cache, so leaves are as the writers left them in memory.
    let (phase, in_memory) = match phase.strip_prefix("mem:") {
        Some(p) => (p.to_string(), true),
        None => (phase.clone(), false),
    };
    if in_memory {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut v = [0u8; 150];
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.create_raw_store("kv", "raw-bytes", StoreOptions::default())?;
        for k in &keys {
            rng.fill(&mut v);
            s.upsert(k, v)?;
        }
        tx.commit()?;
        let mut k = [0u8; 24];
        for _ in 0..100 {
            let tx = db.begin(TxMode::ForWriting)?;
            let s = tx.open_raw_store("kv")?;
            for _ in 0..1000 {
                rng.fill(&mut k);
                rng.fill(&mut v);
                s.upsert(&k[..], v)?;
            }
            tx.commit()?;
        }
    } else if phase != "load" {
        // Warm the node cache first (not timed), as the benchmark's earlier phases do.
        let tx = db.begin(TxMode::NoCheck)?;
        warm(&tx.open_raw_store("kv")?, &keys)?;
    }
    let t = Instant::now();
    let mut sum = 0u64;
    let ops = match phase.as_str() {
        "load" => {
            let tx = db.begin(TxMode::ForWriting)?;
            let s = tx.create_raw_store("kv", "raw-bytes", StoreOptions::default())?;
            let mut rng = fastrand::Rng::with_seed(5);
            let mut v = [0u8; 150];
            for k in &keys {
                rng.fill(&mut v);
                s.upsert(&k[..], v)?;
            }
            tx.commit()?;
            n
        }
        "get" | "scan" | "get_with" | "scan_with" => {
            let mut order: Vec<usize> = (0..n).collect();
            fastrand::Rng::with_seed(7).shuffle(&mut order);
            let t = Instant::now();
            let tx = db.begin(TxMode::NoCheck)?;
            let s = tx.open_raw_store("kv")?;
            let ops = if phase.starts_with("get") {
                let shuffled: Vec<[u8; 24]> = order.iter().map(|&i| keys[i]).collect();
                sum = if phase == "get" {
                    get_all(&s, &shuffled)?
                } else {
                    get_all_with(&s, &shuffled)?
                };
                n
            } else {
                for &i in &order[..n / 2] {
                    let r = if phase == "scan" {
                        scan_from(&s, &keys[i])?
                    } else {
                        scan_with(&s, &keys[i])?
                    };
                    sum = sum.wrapping_add(r);
                }
                n / 2
            };
            tx.commit()?;
            println!(
                "{phase}: {ops} ops in {:.0} ms ({:.0} ops/s) [{sum}]",
                t.elapsed().as_secs_f64() * 1e3,
                ops as f64 / t.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        "threads" => {
            let per = n.div_ceil(THREADS);
            std::thread::scope(|sc| {
                let hs: Vec<_> = keys
                    .chunks(per)
                    .map(|chunk| {
                        let db = &db;
                        sc.spawn(move || -> sop::Result<u64> {
                            let tx = db.begin(TxMode::NoCheck)?;
                            let s = tx.open_raw_store("kv")?;
                            let r = get_all_with(&s, chunk)?;
                            tx.commit()?;
                            Ok(r)
                        })
                    })
                    .collect();
                for h in hs {
                    sum = sum.wrapping_add(h.join().expect("reader thread")?);
                }
                Ok::<_, sop::Error>(())
            })?;
            n
        }
        other => {
            eprintln!("unknown phase {other}");
            std::process::exit(2);
        }
    };
    println!(
        "{phase}: {ops} ops in {:.0} ms ({:.0} ops/s) [{sum}]",
        t.elapsed().as_secs_f64() * 1e3,
        ops as f64 / t.elapsed().as_secs_f64()
    );
    Ok(())
}
