//! The pruned top-k search (MaxScore) against the exhaustive one on random
//! corpora: the same hits with the same scores (bit for bit), for random
//! queries of common and rare terms, +must, -not, prefixes, phrases, field
//! and boosts, at several k; after batches, single writes, updates, removes,
//! a rolled back transaction and `compact_stats`. And `verify` finds the
//! document frequencies in agreement with the postings.

use sop::{Database, DbOptions, TxMode};
use sop_search::{IndexConfig, TextIndex};

fn word(rng: &mut fastrand::Rng) -> String {
    // Zipf-like: a few very common words, a long tail of rare ones.
    let r = rng.f64();
    let i = (1.0 / (r * 0.98 + 0.02)) as usize; // 1 ..= 50, skewed to 1
    let i = if rng.u8(..) < 40 {
        rng.usize(0..400)
    } else {
        i
    };
    format!("w{i}")
}

fn text(rng: &mut fastrand::Rng) -> String {
    let n = rng.usize(1..14);
    (0..n).map(|_| word(rng)).collect::<Vec<_>>().join(" ")
}

fn query(rng: &mut fastrand::Rng) -> String {
    let n = rng.usize(1..5);
    let mut parts = Vec::new();
    for _ in 0..n {
        let mut c = String::new();
        match rng.u8(0..10) {
            0 => c.push('+'),
            1 => c.push('-'),
            _ => {}
        }
        if rng.u8(0..6) == 0 {
            c.push_str(if rng.bool() { "title:" } else { "body:" });
        }
        match rng.u8(0..12) {
            0 => c.push_str(&format!("w{}*", rng.usize(1..9))),
            1 => c.push_str(&format!("\"{} {}\"", word(rng), word(rng))),
            _ => c.push_str(&word(rng)),
        }
        if rng.u8(0..6) == 0 {
            c.push_str(&format!("^{}", rng.usize(1..5)));
        }
        parts.push(c);
    }
    parts.join(" ")
}

fn check(db: &Database, index: &TextIndex, rng: &mut fastrand::Rng, queries: usize) {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let rep = index.verify(&tx).unwrap();
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    for _ in 0..queries {
        let text = query(rng);
        let q = index.parse(&text, rng.u8(0..5) == 0).unwrap();
        for k in [1, 3, 10, 50] {
            let pruned = index.search_query(&tx, &q, k).unwrap();
            let full = index.search_exhaustive(&tx, &q, k).unwrap();
            assert_eq!(pruned, full, "query {text:?}, k {k}");
        }
    }
}

#[test]
fn pruned_search_equals_exhaustive_on_random_corpora() {
    for seed in 0..3u64 {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(
            dir.path(),
            DbOptions {
                recovery_interval: None,
                ..Default::default()
            },
        )
        .unwrap();
        let mut rng = fastrand::Rng::with_seed(seed);
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let mut cfg = IndexConfig::new(&["title", "body"]);
        cfg.fields[0].boost = 1.5;
        let index = TextIndex::create(&tx, "t", cfg).unwrap();
        tx.commit().unwrap();
        // Batches of documents.
        let n = 300 + 100 * seed as usize;
        for chunk in (0..n as u64).collect::<Vec<_>>().chunks(100) {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            let mut b = index.batch(&tx).unwrap();
            for &id in chunk {
                let (t, body) = (text(&mut rng), text(&mut rng));
                b.add(id, &[("title", &t), ("body", &body)]).unwrap();
            }
            drop(b);
            tx.commit().unwrap();
        }
        check(&db, &index, &mut rng, 40);
        // Single updates and removes, one transaction rolled back.
        for round in 0..3 {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            for _ in 0..30 {
                let id = rng.u64(0..n as u64 + 20);
                if rng.u8(0..3) == 0 {
                    index.remove(&tx, id).unwrap();
                } else {
                    let (t, body) = (text(&mut rng), text(&mut rng));
                    index
                        .update(&tx, id, &[("title", &t), ("body", &body)])
                        .unwrap();
                }
            }
            if round == 1 {
                tx.rollback();
            } else {
                tx.commit().unwrap();
            }
        }
        check(&db, &index, &mut rng, 40);
        let tx = db.begin(TxMode::ForWriting).unwrap();
        index.compact_stats(&tx).unwrap();
        tx.commit().unwrap();
        check(&db, &index, &mut rng, 40);
    }
}
