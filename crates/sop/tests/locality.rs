//! Writes with locality: ascending and descending runs, runs in the middle of the
//! key space (the Go benchmark's `key_{i}` order), deletes in order, and
//! duplicates, written by adds and upserts in turn. These are where a writer's finger (the last leaf and its bounds)
//! skips descents and where ascending runs split leaves at the run's point; every
//! result must be what a plain descent gives, checked against a model after every
//! operation and by `check` after each commit.

mod support;

use sop::{Database, StoreOptions, TxMode};
use std::collections::BTreeMap;
use support::opts;

fn orders(n: u64) -> Vec<(&'static str, Vec<u64>)> {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut shuffled: Vec<u64> = (0..n).collect();
    rng.shuffle(&mut shuffled);
    // Short ascending runs at random places.
    let mut runs = vec![];
    while runs.len() < n as usize {
        let start = rng.u64(0..n * 4);
        runs.extend(start..start + rng.u64(1..12));
    }
    vec![
        ("ascending", (0..n).collect()),
        ("descending", (0..n).rev().collect()),
        ("go benchmark", (0..n).collect()),
        ("random", shuffled),
        ("runs", runs),
    ]
}

fn key(order: &str, i: u64) -> Vec<u8> {
    if order == "go benchmark" {
        // Decimal without padding: key_10 sorts between key_1 and key_2.
        format!("key_{i}").into_bytes()
    } else {
        format!("k{i:08}").into_bytes()
    }
}

#[test]
fn runs_of_nearby_keys_give_the_results_of_plain_descents() {
    for slot in [4usize, 8, 64] {
        for unique in [true, false] {
            for (order, seq) in orders(600) {
                let what = format!("slot {slot}, unique {unique}, {order}");
                let dir = tempfile::tempdir().unwrap();
                let db = Database::open(dir.path(), opts()).unwrap();
                let mut model: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
                let tx = db.begin(TxMode::ForWriting).unwrap();
                let s = tx
                    .create_raw_store(
                        "s",
                        "bytes",
                        StoreOptions {
                            slot_length: slot,
                            unique,
                            ..Default::default()
                        },
                    )
                    .unwrap();
                for (n, &i) in seq.iter().enumerate() {
                    let k = key(order, i);
                    let v = format!("v{n}").into_bytes();
                    // Adds and upserts in turn (an upsert of a new key into the
                    // finger's leaf takes a path of its own).
                    let upsert = n % 2 == 1;
                    let added = if upsert {
                        s.upsert(&k, &v).unwrap()
                    } else {
                        s.add(&k, &v).unwrap()
                    };
                    let slot_vals = model.entry(k.clone()).or_default();
                    if upsert {
                        assert_eq!(added, slot_vals.is_empty(), "{what}: upsert {n}");
                        match slot_vals.first_mut() {
                            Some(first) => *first = v,
                            None => slot_vals.push(v),
                        }
                    } else {
                        assert_eq!(added, !unique || slot_vals.is_empty(), "{what}: add {n}");
                        if added {
                            slot_vals.push(v);
                        }
                    }
                    // The item just written, and its neighbours, read back.
                    assert_eq!(
                        s.get(&k).unwrap().map(|b| b.to_vec()).as_ref(),
                        model[&k].first(),
                        "{what}: get after add {n}"
                    );
                    let next = key(order, i + 1);
                    assert_eq!(
                        s.get(&next).unwrap().map(|b| b.to_vec()).as_ref(),
                        model.get(&next).and_then(|v| v.first()),
                        "{what}: neighbour after add {n}"
                    );
                }
                tx.commit().unwrap();
                let r = db.check().unwrap();
                assert!(r.is_ok(), "{what}: {:?}", r.problems);
                if unique && slot == 64 && order == "ascending" {
                    // Split at the run's point: leaves end up full, not half full.
                    let st = &db.stats().unwrap().stores[0];
                    assert!(st.nodes <= 600 / 64 + 4, "{what}: {} nodes", st.nodes);
                }

                // Remove in the same order (every other key), updating the rest.
                let tx = db.begin(TxMode::ForWriting).unwrap();
                let s = tx.open_raw_store("s").unwrap();
                for (n, &i) in seq.iter().enumerate() {
                    let k = key(order, i);
                    if n % 2 == 0 {
                        let removed = s.remove(&k).unwrap();
                        let vals = model.get_mut(&k);
                        let had = vals.as_ref().is_some_and(|v| !v.is_empty());
                        assert_eq!(removed, had, "{what}: remove {n}");
                        if let Some(v) = vals {
                            if !v.is_empty() {
                                v.remove(0);
                            }
                            if v.is_empty() {
                                model.remove(&k);
                            }
                        }
                    } else if model.contains_key(&k) {
                        assert!(s.update(&k, b"updated").unwrap(), "{what}: update {n}");
                        model.get_mut(&k).unwrap()[0] = b"updated".to_vec();
                    }
                }
                let all: Vec<(Vec<u8>, Vec<u8>)> = s
                    .range(
                        std::ops::Bound::Unbounded,
                        std::ops::Bound::Unbounded,
                        false,
                    )
                    .unwrap()
                    .map(|r| {
                        let (k, v) = r.unwrap();
                        (k.to_vec(), v.to_vec())
                    })
                    .collect();
                let want: Vec<(Vec<u8>, Vec<u8>)> = model
                    .iter()
                    .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
                    .collect();
                assert_eq!(all, want, "{what}: contents");
                tx.commit().unwrap();
                let r = db.check().unwrap();
                assert!(r.is_ok(), "{what}: {:?}", r.problems);
            }
        }
    }
}
