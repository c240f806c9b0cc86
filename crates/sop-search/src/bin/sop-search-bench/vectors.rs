//! The vector benchmark: a `VectorStore` (IVF, optionally 8-bit quantized) on a
//! data set, recall@10 against exact brute force and queries/s for a sweep of
//! `nprobe`; with `--faiss PYTHON`, faiss-cpu's IVF-Flat, IVF-SQ8 and HNSW on
//! the same vectors, queries and truth (`bench/faiss_anchor.py`).
//!
//! Data sets:
//! - `--vectors N`: N vectors of 128 dimensions around 1,000 centers uniform in
//!   [-1, 1] (each coordinate within ±0.25 of its center), seeded; L2. Queries:
//!   200 more from the same distribution.
//! - `--debian-vectors`: one vector per package of `apt-cache dumpavail`: its
//!   name and description tokenized as the text index does (`TokenizerConfig::default()`),
//!   each distinct term weighted `(1 + ln tf) * ln(N / df)` and added, with a
//!   sign, to one of 256 dimensions (64-bit FNV-1a of the term: dimension = hash
//!   mod 256, sign = the hash's top bit), then normalized; cosine. Queries: the
//!   first half of the tokens of 200 random packages (seeded), embedded the same way.

use std::path::Path;
use std::time::Instant;

use sop::{Database, DbOptions, TxMode};
use sop_search::{DocId, Metric, Tokenizer, TokenizerConfig, VectorConfig, VectorStore};

use super::{dir_bytes, Doc};

pub struct DataSet {
    pub name: String,
    pub dim: usize,
    pub metric: Metric,
    pub data: Vec<Vec<f32>>,
    pub queries: Vec<Vec<f32>>,
}

pub fn synthetic(n: usize, seed: u64) -> DataSet {
    const DIM: usize = 128;
    let mut rng = fastrand::Rng::with_seed(seed);
    let centers: Vec<Vec<f32>> = (0..1000)
        .map(|_| (0..DIM).map(|_| rng.f32() * 2.0 - 1.0).collect())
        .collect();
    let gen = |rng: &mut fastrand::Rng| -> Vec<f32> {
        let c = &centers[rng.usize(0..centers.len())];
        c.iter().map(|x| x + (rng.f32() - 0.5) * 0.5).collect()
    };
    let data = (0..n).map(|_| gen(&mut rng)).collect();
    let queries = (0..200).map(|_| gen(&mut rng)).collect();
    DataSet {
        name: format!("synthetic {n} x {DIM}, 1,000 clusters, L2"),
        dim: DIM,
        metric: Metric::L2,
        data,
        queries,
    }
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

pub fn debian(docs: &[Doc], seed: u64) -> DataSet {
    const DIM: usize = 256;
    let tok = Tokenizer::new(TokenizerConfig::default());
    let terms: Vec<Vec<String>> = docs
        .iter()
        .map(|d| {
            tok.tokens(&format!("{}\n{}", d.name, d.desc))
                .into_iter()
                .map(|t| t.term)
                .collect()
        })
        .collect();
    let mut df: std::collections::HashMap<&str, u32> = Default::default();
    for t in &terms {
        let mut seen: Vec<&str> = t.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for w in seen {
            *df.entry(w).or_default() += 1;
        }
    }
    let n = docs.len() as f32;
    let embed = |toks: &[String]| -> Option<Vec<f32>> {
        let mut tf: std::collections::BTreeMap<&str, u32> = Default::default();
        for t in toks {
            *tf.entry(t.as_str()).or_default() += 1;
        }
        let mut v = vec![0f32; DIM];
        for (t, c) in tf {
            let idf = (n / *df.get(t).unwrap_or(&1) as f32).ln();
            let h = fnv1a(t);
            let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
            v[(h % DIM as u64) as usize] += sign * (1.0 + (c as f32).ln()) * idf;
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        (norm > 0.0).then(|| v.iter().map(|x| x / norm).collect())
    };
    let data: Vec<Vec<f32>> = terms.iter().filter_map(|t| embed(t)).collect();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut queries = Vec::new();
    while queries.len() < 200 {
        let t = &terms[rng.usize(0..terms.len())];
        if let Some(q) = embed(&t[..t.len().div_ceil(2)]) {
            queries.push(q);
        }
    }
    DataSet {
        name: format!(
            "Debian: {} package vectors, TF-IDF hashed to {DIM} dimensions, cosine",
            data.len()
        ),
        dim: DIM,
        metric: Metric::Cosine,
        data,
        queries,
    }
}

/// Exact top 10 ids (ties by id), by the metric on normalized vectors for cosine.
fn truth(set: &DataSet) -> Vec<Vec<u64>> {
    set.queries
        .iter()
        .map(|q| {
            let mut d: Vec<(f32, u64)> = set
                .data
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let s = match set.metric {
                        Metric::L2 => v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(),
                        _ => -v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(),
                    };
                    (s, i as u64)
                })
                .collect();
            let k = 10.min(d.len());
            d.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d.truncate(k);
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d.into_iter().map(|x| x.1).collect()
        })
        .collect()
}

fn write_f32(path: &Path, rows: &[Vec<f32>]) {
    let mut b = Vec::with_capacity(rows.len() * rows.first().map_or(0, |r| r.len()) * 4);
    for r in rows {
        for x in r {
            b.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::write(path, b).unwrap();
}

pub fn run(dir: &Path, set: &DataSet, seed: u64, quantize: bool, faiss: Option<&str>) {
    let n = set.data.len();
    println!("{}", set.name);
    let t = Instant::now();
    let truth = truth(set);
    println!(
        "brute force truth: {:.1} s ({:.1} queries/s exact, one thread)",
        t.elapsed().as_secs_f64(),
        set.queries.len() as f64 / t.elapsed().as_secs_f64()
    );
    let db_dir = dir.join("vec");
    let db = Database::open(
        &db_dir,
        DbOptions {
            recovery_interval: None,
            ..Default::default()
        },
    )
    .unwrap();
    let mut cfg = VectorConfig::new(set.dim, set.metric);
    cfg.quantize = quantize;
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let vs = VectorStore::create(&tx, "v", cfg).unwrap();
    tx.commit().unwrap();
    let put = |range: std::ops::Range<usize>| {
        for chunk in range.collect::<Vec<_>>().chunks(2000) {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            for &i in chunk {
                vs.upsert(&tx, i as u64, &set.data[i], &serde_json::Value::Null)
                    .unwrap();
            }
            tx.commit().unwrap();
        }
    };
    let nlist = ((n as f64).sqrt() as usize).max(1);
    let t = Instant::now();
    put(0..n / 10);
    let t1 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    vs.rebuild(&tx, nlist, 6, seed).unwrap();
    tx.commit().unwrap();
    let tr = t.elapsed().as_secs_f64();
    let t = Instant::now();
    put(n / 10..n);
    let t2 = t.elapsed().as_secs_f64();
    db.compact().unwrap();
    println!(
        "sop{}: {nlist} lists; build {:.1} s (first tenth upserted {t1:.1} s, k-means on it \
         6 rounds {tr:.1} s, the rest upserted {t2:.1} s: {:.0} vectors/s); folder {:.1} MB after compact",
        if quantize { " (8-bit codes)" } else { "" },
        t1 + tr + t2,
        (n - n / 10) as f64 / t2,
        dir_bytes(&db_dir) as f64 / 1e6
    );
    for nprobe in [1, 2, 4, 8, 16, 32, 64, 128, 256] {
        let tx = db.begin(TxMode::NoCheck).unwrap();
        let t = Instant::now();
        let mut found = 0;
        for (q, want) in set.queries.iter().zip(&truth) {
            for h in vs.search(&tx, q, 10, nprobe, None).unwrap() {
                if let DocId::U64(id) = h.id {
                    found += want.contains(&id) as usize;
                }
            }
        }
        let el = t.elapsed().as_secs_f64();
        let recall = found as f64 / (10 * set.queries.len()) as f64;
        println!(
            "sop nprobe {nprobe}: recall@10 {recall:.3}, {:.0} queries/s (one thread)",
            set.queries.len() as f64 / el
        );
        if recall >= 0.995 {
            break;
        }
    }
    drop(vs);
    drop(db);
    if let Some(py) = faiss {
        write_f32(&dir.join("data.f32"), &set.data);
        write_f32(&dir.join("queries.f32"), &set.queries);
        let mut b = Vec::new();
        for t in &truth {
            for id in t {
                b.extend_from_slice(&(*id as i64).to_le_bytes());
            }
        }
        std::fs::write(dir.join("truth.i64"), b).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/faiss_anchor.py");
        let metric = if set.metric == Metric::L2 { "l2" } else { "ip" };
        let st = std::process::Command::new(py)
            .arg(script)
            .arg(dir)
            .args([set.dim.to_string(), metric.to_string(), nlist.to_string()])
            .status()
            .expect("run the faiss anchor");
        assert!(st.success(), "faiss anchor failed: {st}");
    }
}
