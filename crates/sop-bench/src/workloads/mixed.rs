//! `mixed`: a transactional mix over a loaded table.
//!
//! `load`: `--count` keys with `--value-size` (512) byte random values, inserted in
//! transactions of 10,000. Key i is `user` followed by 16 hex digits of a 64-bit bijective mix of
//! i, so consecutive i are scattered over the key space and keys never collide.
//!
//! `mixed`: `--ops` operations — 50% point reads, 20% scans of 10 entries, 10% overwrites of an
//! existing key, 20% inserts of a new key — in transactions of 10 consecutive operations,
//! committed durably. Reads inside a transaction with writes go through the write transaction;
//! a group of 10 without writes (about 2.8% of them) runs as a read transaction. The key of a
//! read, scan or overwrite is Zipfian (s = 1) over the keys existing at that moment, rank 1
//! being key 0.

use crate::engines::{Engine, ReadTx};
use crate::zipf::Zipf1;
use crate::{Args, Recorder};
use anyhow::Result;
use std::hint::black_box;

pub const LOAD_TXN: u64 = 10_000;
pub const TXN_OPS: u64 = 10;
pub const SCAN_LEN: usize = 10;
pub const KEY_LEN: usize = 20;
const SEED: u64 = 0x5eed_0001;

/// SplitMix64's finaliser: a bijection on u64.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn key_of(i: u64) -> [u8; KEY_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut k = *b"user0000000000000000";
    let h = mix(i);
    for d in 0..16 {
        k[4 + d] = HEX[((h >> (60 - 4 * d)) & 0xf) as usize];
    }
    k
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get(u64),
    Scan(u64),
    Overwrite(u64),
    Insert(u64),
}

impl Op {
    fn writes(self) -> bool {
        matches!(self, Op::Overwrite(_) | Op::Insert(_))
    }
}

fn do_read(r: &dyn ReadTx, op: Op, buf: &mut Vec<u8>, checksum: &mut u64) -> Result<()> {
    match op {
        Op::Get(i) => {
            if r.get(&key_of(i), buf)? {
                *checksum = checksum.wrapping_add(buf.len() as u64);
            }
        }
        Op::Scan(i) => {
            r.scan(&key_of(i), SCAN_LEN, &mut |k, v| {
                *checksum = checksum.wrapping_add(k[4] as u64 + v.len() as u64);
            })?;
        }
        Op::Overwrite(_) | Op::Insert(_) => unreachable!("not a read"),
    }
    Ok(())
}

pub fn run(e: &mut dyn Engine, rec: &mut Recorder<'_>, args: &Args) -> Result<()> {
    let n = args.count();
    let ops = args.ops;
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut value = vec![0u8; args.value_size];

    rec.timed("load", n, |t| {
        let mut i = 0;
        while i < n {
            let end = (i + LOAD_TXN).min(n);
            e.write(&mut |w| {
                for j in i..end {
                    rng.fill(&mut value);
                    w.insert(&key_of(j), &value)?;
                }
                Ok(())
            })?;
            i = end;
            t.at(i);
        }
        Ok(())
    })?;

    let mut existing = n;
    let mut plan = Vec::with_capacity(TXN_OPS as usize);
    let mut buf = Vec::new();
    let mut checksum = 0u64;
    rec.timed("mixed", ops, |t| {
        let mut done = 0;
        while done < ops {
            plan.clear();
            for _ in 0..TXN_OPS.min(ops - done) {
                let p = rng.u32(0..100);
                let op = if p >= 80 || existing == 0 {
                    existing += 1;
                    Op::Insert(existing - 1)
                } else {
                    let i = Zipf1.sample(&mut rng, existing) - 1;
                    match p {
                        0..50 => Op::Get(i),
                        50..70 => Op::Scan(i),
                        _ => Op::Overwrite(i),
                    }
                };
                plan.push(op);
            }
            if plan.iter().any(|op| op.writes()) {
                e.write(&mut |w| {
                    for &op in &plan {
                        match op {
                            Op::Overwrite(i) | Op::Insert(i) => {
                                rng.fill(&mut value);
                                w.insert(&key_of(i), &value)?;
                            }
                            _ => do_read(&*w, op, &mut buf, &mut checksum)?,
                        }
                    }
                    Ok(())
                })?;
            } else {
                e.read(&mut |r| {
                    for &op in &plan {
                        do_read(r, op, &mut buf, &mut checksum)?;
                    }
                    Ok(())
                })?;
            }
            done += plan.len() as u64;
            t.at(done);
        }
        black_box(checksum);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_fixed_length() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            assert!(seen.insert(key_of(i)));
        }
        assert_eq!(&key_of(0)[..4], b"user");
    }
}
