//! `redb`: the workload of redb's own benchmark against LMDB and others. N pairs of a 24-byte
//! key and a 150-byte value, both drawn from `fastrand::Rng::with_seed(3)` (key bytes, then
//! value bytes, pair after pair); reads replay the same seed so every get hits.
//!
//! Phases: `bulk_load` (N inserts, one transaction), `individual_writes` (1000 transactions of
//! one insert), `batch_writes` (100 transactions of 1000 inserts), `len`, `random_reads` and
//! `random_reads_2` (N gets in one read transaction), `range_reads` and `range_reads_2` (N/2
//! scans of 10 entries from an existing key), `threaded_reads` (4 threads, each with its own
//! read transaction, reading disjoint quarters of the keys), `removals` (N/2 keys, one
//! transaction), `size` and, where the engine compacts, `compacted_size`. With `--breakdown`
//! also `bulk_load_commit` and `removals_commit` (the commit alone) and
//! `individual_writes_p50` and `individual_writes_p99` (the latency of one commit).

use crate::engines::Engine;
use crate::report::PhaseResult;
use crate::{dir_bytes, Args, Recorder};
use anyhow::{anyhow, ensure, Result};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

pub const KEY_LEN: usize = 24;
pub const VALUE_LEN: usize = 150;
pub const SEED: u64 = 3;
pub const SCAN_LEN: usize = 10;
pub const THREADS: usize = 4;

/// The deterministic stream of pairs.
pub struct Pairs {
    rng: fastrand::Rng,
    key: [u8; KEY_LEN],
    value: [u8; VALUE_LEN],
}

impl Pairs {
    pub fn new() -> Self {
        Self {
            rng: fastrand::Rng::with_seed(SEED),
            key: [0; KEY_LEN],
            value: [0; VALUE_LEN],
        }
    }

    pub fn next_pair(&mut self) -> (&[u8], &[u8]) {
        self.rng.fill(&mut self.key);
        self.rng.fill(&mut self.value);
        (&self.key, &self.value)
    }
}

impl Default for Pairs {
    fn default() -> Self {
        Self::new()
    }
}

pub fn run(e: &mut dyn Engine, dir: &Path, rec: &mut Recorder<'_>, args: &Args) -> Result<()> {
    let n = args.count();
    let mut pairs = Pairs::new();

    rec.timed_write("bulk_load", n, e, |w, t| {
        for i in 0..n {
            let (k, v) = pairs.next_pair();
            w.insert(k, v)?;
            t.step(i);
        }
        Ok(())
    })?;

    // The stream goes on: these keys are new.
    let individual = args.individual_writes;
    let mut latencies = Vec::with_capacity(individual as usize);
    rec.timed("individual_writes", individual, |t| {
        for i in 0..individual {
            let start = Instant::now();
            e.write(&mut |w| {
                let (k, v) = pairs.next_pair();
                w.insert(k, v)
            })?;
            latencies.push(start.elapsed().as_secs_f64() * 1e3);
            t.step(i);
        }
        Ok(())
    })?;
    if args.breakdown {
        // The latency of one durable single-insert commit: median and 99th percentile.
        latencies.sort_by(f64::total_cmp);
        for (name, q) in [
            ("individual_writes_p50", 0.5),
            ("individual_writes_p99", 0.99),
        ] {
            let Some(&ms) = latencies.get(((latencies.len().max(1) - 1) as f64 * q) as usize)
            else {
                continue;
            };
            rec.record(PhaseResult {
                phase: name.to_string(),
                ms: Some(ms),
                ops_per_sec: Some(if ms > 0.0 { 1e3 / ms } else { f64::INFINITY }),
                ..Default::default()
            });
        }
    }

    let (txns, per_txn) = (args.batch_txns, args.batch_size);
    rec.timed("batch_writes", txns * per_txn, |t| {
        let mut done = 0;
        for _ in 0..txns {
            e.write(&mut |w| {
                for _ in 0..per_txn {
                    let (k, v) = pairs.next_pair();
                    w.insert(k, v)?;
                }
                Ok(())
            })?;
            done += per_txn;
            t.at(done);
        }
        Ok(())
    })?;

    let total = n + individual + txns * per_txn;
    rec.timed("len", total, |_| {
        e.read(&mut |r| {
            let len = r.len()?;
            ensure!(len == total, "len() = {len}, expected {total}");
            Ok(())
        })
    })?;

    // Replay the seed for the keys of the bulk load (not timed).
    let keys: Vec<[u8; KEY_LEN]> = {
        let mut replay = Pairs::new();
        (0..n)
            .map(|_| replay.next_pair().0.try_into().expect("key length"))
            .collect()
    };

    for phase in ["random_reads", "random_reads_2"] {
        rec.timed(phase, n, |t| {
            e.read(&mut |r| {
                let mut buf = Vec::with_capacity(VALUE_LEN);
                let mut checksum = 0u64;
                for (i, k) in keys.iter().enumerate() {
                    ensure!(r.get(k, &mut buf)?, "key #{i} not found");
                    ensure!(
                        buf.len() == VALUE_LEN,
                        "key #{i}: value of {} bytes",
                        buf.len()
                    );
                    checksum = checksum.wrapping_add(buf[0] as u64);
                    t.step(i as u64);
                }
                black_box(checksum);
                Ok(())
            })
        })?;
    }

    let scans = n / 2;
    for phase in ["range_reads", "range_reads_2"] {
        rec.timed(phase, scans, |t| {
            e.read(&mut |r| {
                let mut checksum = 0u64;
                for (i, k) in keys[..scans as usize].iter().enumerate() {
                    let seen = r.scan(k, SCAN_LEN, &mut |k, v| {
                        checksum = checksum.wrapping_add(k[0] as u64 + v.len() as u64);
                    })?;
                    ensure!(seen >= 1, "scan from key #{i} found nothing");
                    t.step(i as u64);
                }
                black_box(checksum);
                Ok(())
            })
        })?;
    }

    rec.timed("threaded_reads", n, |t| {
        let shared: &dyn Engine = &*e;
        let per_thread = keys.len().div_ceil(THREADS).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = keys
                .chunks(per_thread)
                .map(|slice| {
                    let t = t.clone();
                    s.spawn(move || {
                        shared.read(&mut |r| {
                            let mut buf = Vec::with_capacity(VALUE_LEN);
                            for (i, k) in slice.iter().enumerate() {
                                ensure!(r.get(k, &mut buf)?, "key not found");
                                ensure!(buf.len() == VALUE_LEN, "wrong value length");
                                t.step(i as u64);
                            }
                            Ok(())
                        })
                    })
                })
                .collect();
            for h in handles {
                h.join().map_err(|_| anyhow!("reader thread panicked"))??;
            }
            Ok(())
        })
    })?;

    let removals = n / 2;
    rec.timed_write("removals", removals, e, |w, t| {
        for (i, k) in keys[..removals as usize].iter().enumerate() {
            w.remove(k)?;
            t.step(i as u64);
        }
        Ok(())
    })?;

    rec.progress("size");
    rec.size("size", dir_bytes(dir)?, None);

    rec.progress("compacted_size");
    let start = Instant::now();
    if e.compact()? {
        let ms = start.elapsed().as_secs_f64() * 1e3;
        rec.size("compacted_size", dir_bytes(dir)?, Some(ms));
    }
    Ok(())
}
