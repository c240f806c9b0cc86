//! Model test: the index against a plain in-memory BM25 over random add, update
//! and remove, with commits, rollbacks and reopens. Scores must agree within 1e-9.

use std::collections::{BTreeMap, HashMap};

use sop::{Database, DbOptions, TxMode};
use sop_search::{IndexConfig, SearchOptions, TextIndex};

const WORDS: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon",
];
const FIELDS: [&str; 2] = ["title", "body"];

fn open(dir: &std::path::Path) -> Database {
    Database::open(
        dir,
        DbOptions {
            recovery_interval: None,
            ..DbOptions::default()
        },
    )
    .unwrap()
}

/// The documents: id -> [title, body].
type Model = BTreeMap<u64, [String; 2]>;

fn text(rng: &mut fastrand::Rng, max: usize) -> String {
    let n = rng.usize(0..=max);
    // Skewed: low words are common.
    let mut ws = Vec::with_capacity(n);
    for _ in 0..n {
        let w = WORDS[rng.usize(0..WORDS.len()).min(rng.usize(0..WORDS.len()))];
        ws.push(if rng.u8(0..10) == 0 {
            w.to_uppercase()
        } else {
            w.to_string()
        });
    }
    ws.join(if rng.bool() { " " } else { ", " })
}

/// BM25 written out from the definitions, over the model (boosts: title 2, body 1).
fn model_scores(m: &Model, terms: &[&str]) -> HashMap<u64, f64> {
    let (k1, b) = (1.2, 0.75);
    let boosts = [2.0, 1.0];
    let toks = |s: &str| -> Vec<String> {
        s.split([' ', ','])
            .filter(|w| !w.is_empty())
            .map(|w| w.to_lowercase())
            .collect()
    };
    let n = m.len() as f64;
    let mut out = HashMap::new();
    for f in 0..2 {
        let docs: Vec<(u64, Vec<String>)> = m.iter().map(|(id, d)| (*id, toks(&d[f]))).collect();
        let total: usize = docs.iter().map(|d| d.1.len()).sum();
        let avg = total as f64 / n;
        for t in terms {
            let df = docs.iter().filter(|d| d.1.iter().any(|w| w == t)).count() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for (id, ws) in &docs {
                let tf = ws.iter().filter(|w| w == t).count() as f64;
                if tf > 0.0 {
                    let len = ws.len() as f64;
                    let s = idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * len / avg));
                    *out.entry(*id).or_insert(0.0) += boosts[f] * s;
                }
            }
        }
    }
    out
}

fn check(db: &Database, m: &Model, rng: &mut fastrand::Rng) {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let index = TextIndex::open(&tx, "ix").unwrap();
    let st = index.stats(&tx).unwrap();
    assert_eq!(st.docs, m.len() as u64);
    for _ in 0..6 {
        let nt = rng.usize(1..=2);
        let terms: Vec<&str> = (0..nt).map(|_| WORDS[rng.usize(0..WORDS.len())]).collect();
        let want = model_scores(m, &terms);
        let q = terms.join(" ");
        let all = index
            .search(
                &tx,
                &q,
                &SearchOptions {
                    k: 100_000,
                    default_and: false,
                },
            )
            .unwrap();
        assert_eq!(all.len(), want.len(), "query {q:?}: hit count");
        for h in &all {
            let sop_search::DocId::U64(id) = h.id else {
                panic!("string id")
            };
            let w = want
                .get(&id)
                .unwrap_or_else(|| panic!("query {q:?}: {id} not in model"));
            assert!(
                (h.score - w).abs() < 1e-9,
                "query {q:?} doc {id}: {} vs {w}",
                h.score
            );
        }
        // Top-10: the same scores in the same order (ids may differ only on ties).
        let mut ws: Vec<(u64, f64)> = want.into_iter().collect();
        ws.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let top = index.search(&tx, &q, &SearchOptions::default()).unwrap();
        assert_eq!(top.len(), ws.len().min(10));
        for (h, (id, w)) in top.iter().zip(&ws) {
            assert!((h.score - w).abs() < 1e-9);
            if (h.score - w).abs() < 1e-12
                && ws.iter().filter(|x| (x.1 - w).abs() < 1e-9).count() == 1
            {
                assert_eq!(h.id, sop_search::DocId::U64(*id));
            }
        }
    }
    // Boolean: "+a -b" matches the documents with a and without b, scored by a.
    let (a, b) = (
        WORDS[rng.usize(0..WORDS.len())],
        WORDS[rng.usize(0..WORDS.len())],
    );
    let with_b = model_scores(m, &[b]);
    let mut want: Vec<(u64, f64)> = model_scores(m, &[a])
        .into_iter()
        .filter(|(id, _)| a == b || !with_b.contains_key(id))
        .filter(|_| a != b)
        .collect();
    want.sort_by_key(|x| x.0);
    let q = format!("+{a} -{b}");
    let mut got: Vec<(u64, f64)> = index
        .search(
            &tx,
            &q,
            &SearchOptions {
                k: 100_000,
                default_and: false,
            },
        )
        .unwrap()
        .into_iter()
        .map(|h| match h.id {
            sop_search::DocId::U64(v) => (v, h.score),
            _ => panic!("string id"),
        })
        .collect();
    got.sort_by_key(|x| x.0);
    assert_eq!(got.len(), want.len(), "{q}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0, "{q}");
        assert!((g.1 - w.1).abs() < 1e-9, "{q}");
    }
    let rep = index.verify(&tx).unwrap();
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    assert_eq!(rep.docs, m.len() as u64);
}

#[test]
fn model_random_add_update_remove_commit_rollback_reopen() {
    let seed = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(26);
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let mut cfg = IndexConfig::new(&FIELDS);
        cfg.fields[0].boost = 2.0;
        TextIndex::create(&tx, "ix", cfg).unwrap();
        tx.commit().unwrap();
    }
    let mut model = Model::new();
    let mut stats_entries_seen = 0;
    for round in 0..600 {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let index = TextIndex::open(&tx, "ix").unwrap();
        let mut next = model.clone();
        let mut batch = index.batch(&tx).unwrap();
        for _ in 0..rng.usize(1..12) {
            let id = rng.u64(0..60);
            let doc = [text(&mut rng, 6), text(&mut rng, 30)];
            let fields = [("title", doc[0].as_str()), ("body", doc[1].as_str())];
            match rng.u8(0..4) {
                0 => {
                    let added = batch.add(id, &fields).unwrap();
                    assert_eq!(added, !next.contains_key(&id));
                    next.entry(id).or_insert(doc);
                }
                1 => {
                    // Through the index (a batch of its own in the same transaction).
                    let existed = index.update(&tx, id, &fields).unwrap();
                    assert_eq!(existed, next.insert(id, doc).is_some());
                }
                2 => {
                    let existed = batch.update(id, &fields[1..]).unwrap();
                    let d = [String::new(), doc[1].clone()];
                    assert_eq!(existed, next.insert(id, d).is_some());
                }
                _ => {
                    let was = batch.remove(id).unwrap();
                    assert_eq!(was, next.remove(&id).is_some());
                }
            }
        }
        if rng.u8(0..5) == 0 {
            tx.rollback();
        } else {
            tx.commit().unwrap();
            model = next;
        }
        if round % 15 == 7 {
            drop(db);
            db = open(dir.path());
        }
        if round % 20 == 19 {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            let index = TextIndex::open(&tx, "ix").unwrap();
            stats_entries_seen += index.compact_stats(&tx).unwrap();
            tx.commit().unwrap();
            let tx = db.begin(TxMode::NoCheck).unwrap();
            assert_eq!(index.stats(&tx).unwrap().entries, 1);
        }
        check(&db, &model, &mut rng);
    }
    assert!(stats_entries_seen > 10);
}
