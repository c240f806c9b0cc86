//! JSON stores: the stored order is the order `compare_json_keys` defines, the index
//! spec is saved with the store (open from the saved info alone), typed and JSON
//! stores live side by side, and every bad input is an error that writes nothing.

use proptest::prelude::*;
use serde_json::{json, Value};
use sop::parse_json;
use sop::test_hooks::{decode_item, encode_item};
use sop::{compare_json_keys, IndexField, IndexSpec, SortOrder};
use sop::{Database, DbOptions, Error, StoreOptions, TxMode};
use std::cmp::Ordering;

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

fn dups() -> StoreOptions {
    StoreOptions {
        unique: false,
        slot_length: 8,
        ..Default::default()
    }
}

/// Every item of a JSON store, ascending.
fn dump(db: &Database, name: &str) -> Vec<(Value, Value)> {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_json_store(name).unwrap();
    let v = s.iter().unwrap().collect::<sop::Result<Vec<_>>>().unwrap();
    assert_eq!(v.len() as u64, s.count().unwrap());
    v
}

// ------------------------------------------------------------------ generators

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-50i64..50).prop_map(|i| json!(i)),
        any::<u64>().prop_map(|i| json!(i)),
        any::<i64>().prop_map(|i| json!(i)),
        prop_oneof![
            (-100.0f64..100.0),
            any::<f64>().prop_filter("finite", |f| f.is_finite())
        ]
        .prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        "[ab\u{0}é😀]{0,3}".prop_map(Value::String),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map("[abx]", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: [&str; 3] = ["a", "b", "c"];

fn arb_spec() -> impl Strategy<Value = Option<IndexSpec>> {
    prop_oneof![
        1 => Just(None),
        3 => (Just(FIELDS.to_vec()).prop_shuffle(), 1usize..=3, proptest::collection::vec(any::<bool>(), 3)).prop_map(
            |(names, n, desc)| {
                Some(IndexSpec {
                    fields: names[..n]
                        .iter()
                        .zip(desc)
                        .map(|(f, d)| IndexField {
                            field: f.to_string(),
                            order: if d { SortOrder::Desc } else { SortOrder::Asc },
                        })
                        .collect(),
                })
            }
        ),
    ]
}

/// A key fitting the spec: a primitive without one; with one an object holding a
/// random subset of the spec's fields (others missing) plus a member outside it.
fn arb_key(spec: &Option<IndexSpec>) -> BoxedStrategy<Value> {
    match spec {
        None => arb_leaf().boxed(),
        Some(_) => (
            proptest::collection::vec(proptest::option::of(arb_value()), 3),
            proptest::option::of(arb_leaf()),
        )
            .prop_map(|(vals, extra)| {
                let mut m = serde_json::Map::new();
                for (f, v) in FIELDS.iter().zip(vals) {
                    if let Some(v) = v {
                        m.insert(f.to_string(), v);
                    }
                }
                if let Some(x) = extra {
                    m.insert("x".into(), x);
                }
                Value::Object(m)
            })
            .boxed(),
    }
}

fn arb_case() -> impl Strategy<Value = (Option<IndexSpec>, Vec<Value>, Value, Value)> {
    arb_spec().prop_flat_map(|spec| {
        let k = arb_key(&spec);
        (
            Just(spec),
            proptest::collection::vec(k.clone(), 0..40),
            k.clone(),
            k,
        )
    })
}

fn cmp(a: &Value, b: &Value, spec: Option<&IndexSpec>) -> Ordering {
    compare_json_keys(a, b, spec).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A full scan returns the items in the order compare_json_keys defines (equal
    /// keys in insertion order in a duplicates store; the first one wins in a unique
    /// store), with the original key documents; bounded scans both ways return
    /// exactly the keys within the inclusive bounds.
    #[test]
    fn stored_order_is_the_spec_order((spec, keys, lo, hi) in arb_case()) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), opts()).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let d = tx.create_json_store("dups", dups(), spec.clone()).unwrap();
        let u = tx.create_json_store("uniq", StoreOptions { slot_length: 4, ..Default::default() }, spec.clone()).unwrap();
        for (i, k) in keys.iter().enumerate() {
            prop_assert!(d.add(k, &json!(i)).unwrap());
            u.add(k, &json!(i)).unwrap();
        }
        drop((d, u));
        tx.commit().unwrap();

        let sp = spec.as_ref();
        let mut want: Vec<(Value, Value)> = keys.iter().enumerate().map(|(i, k)| (k.clone(), json!(i))).collect();
        want.sort_by(|a, b| cmp(&a.0, &b.0, sp)); // stable: equal keys keep insertion order
        prop_assert_eq!(&dump(&db, "dups"), &want);
        let mut first = want.clone();
        first.dedup_by(|b, a| cmp(&a.0, &b.0, sp) == Ordering::Equal);
        prop_assert_eq!(&dump(&db, "uniq"), &first);

        let tx = db.begin(TxMode::ForReading).unwrap();
        let d = tx.open_json_store("dups").unwrap();
        prop_assert_eq!(d.spec(), sp);
        let inside: Vec<_> = want
            .iter()
            .filter(|(k, _)| cmp(k, &lo, sp) != Ordering::Less && cmp(k, &hi, sp) != Ordering::Greater)
            .cloned()
            .collect();
        let asc = d.range(Some(&lo), Some(&hi), false).unwrap().collect::<sop::Result<Vec<_>>>().unwrap();
        prop_assert_eq!(&asc, &inside);
        let mut desc = d.range(Some(&lo), Some(&hi), true).unwrap().collect::<sop::Result<Vec<_>>>().unwrap();
        desc.reverse();
        prop_assert_eq!(&desc, &inside);
        let from: Vec<_> = want.iter().filter(|(k, _)| cmp(k, &lo, sp) != Ordering::Less).cloned().collect();
        let got = d.range(Some(&lo), None, false).unwrap().collect::<sop::Result<Vec<_>>>().unwrap();
        prop_assert_eq!(&got, &from);
        let to: Vec<_> = want.iter().filter(|(k, _)| cmp(k, &hi, sp) != Ordering::Greater).rev().cloned().collect();
        let got = d.range(None, Some(&hi), true).unwrap().collect::<sop::Result<Vec<_>>>().unwrap();
        prop_assert_eq!(&got, &to);
        // get finds the first item of each key.
        for k in keys.iter().take(5) {
            let (sk, v) = d.get_item(k).unwrap().unwrap();
            let first = want.iter().find(|(w, _)| cmp(w, k, sp) == Ordering::Equal).unwrap();
            prop_assert_eq!(&(sk, v), first);
        }
        drop(d);
        tx.commit().unwrap();
        let r = db.check().unwrap();
        prop_assert!(r.is_ok(), "{:?}", r.problems);
    }

    #[test]
    fn item_frames_round_trip(k in arb_value(), v in arb_value()) {
        prop_assert_eq!(decode_item(&encode_item(&k, &v)).unwrap(), (k, v));
    }
}

#[test]
fn item_frame_layout() {
    let b = encode_item(
        &json!({"last":"Li","x":1}),
        &parse_json(r#" [1.50, "v"] "#).unwrap(),
    );
    let key = br#"{"last":"Li","x":1}"#;
    assert_eq!(b[0] as usize, key.len());
    assert_eq!(&b[1..1 + key.len()], key);
    assert_eq!(
        &b[1 + key.len()..],
        br#"[1.50,"v"]"#,
        "numbers keep their literal text"
    );
    assert!(decode_item(&b[..5]).is_err());
    assert!(decode_item(b"\x05{}").is_err());
}

fn spec(s: &str) -> IndexSpec {
    IndexSpec::parse(s).unwrap()
}

#[test]
fn typed_and_json_stores_side_by_side_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let people_spec = spec(r#"[{"field":"last"},{"field":"age","order":"desc"}]"#);
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let typed = tx
            .create_store::<u64, String>("typed", StoreOptions::default())
            .unwrap();
        let people = tx
            .create_json_store("people", StoreOptions::default(), Some(people_spec.clone()))
            .unwrap();
        let prim = tx.create_json_store("prim", dups(), None).unwrap();
        for i in 0..50u64 {
            typed.add(&i, &format!("v{i}")).unwrap();
            people
                .add(
                    &json!({"last": format!("n{}", i % 7), "age": i, "first": "x"}),
                    &json!({"i": i}),
                )
                .unwrap();
            prim.add(&json!(i as f64 / 4.0), &json!(i)).unwrap();
        }
        assert!(
            !people
                .add(
                    &json!({"last":"n0","age":0,"other":"ignored"}),
                    &json!(null)
                )
                .unwrap(),
            "same key under the spec"
        );
        drop((typed, people, prim));
        tx.commit().unwrap();
    }
    // A new handle on the folder: everything from the saved info alone.
    let db = Database::open(dir.path(), opts()).unwrap();
    let tx = db.begin(TxMode::ForReading).unwrap();
    let info = tx.store_info("people").unwrap().info;
    assert_eq!(info.key_type, "json");
    assert_eq!(info.key_spec.as_ref(), Some(&people_spec));
    assert_eq!(tx.store_info("prim").unwrap().info.key_spec, None);
    assert_eq!(tx.store_info("typed").unwrap().info.key_type, "u64");
    let people = tx.open_json_store("people").unwrap();
    assert_eq!(people.count().unwrap(), 50);
    let all: Vec<_> = people.iter().unwrap().map(|r| r.unwrap().0).collect();
    assert_eq!(
        all[0],
        json!({"last":"n0","age":49,"first":"x"}),
        "age descending within a name"
    );
    assert_eq!(
        people.get(&json!({"last":"n3","age":10})).unwrap(),
        Some(json!({"i":10}))
    );
    let typed = tx.open_store::<u64, String>("typed").unwrap();
    assert_eq!(typed.get(&7).unwrap().as_deref(), Some("v7"));
    let prim = tx.open_json_store("prim").unwrap();
    let got: Vec<_> = prim
        .range(Some(&json!(2)), Some(&json!(3.0)), true)
        .unwrap()
        .map(|r| r.unwrap().1)
        .collect();
    assert_eq!(
        got,
        vec![json!(12), json!(11), json!(10), json!(9), json!(8)]
    );
    assert!(matches!(
        tx.open_json_store("typed"),
        Err(Error::StoreMismatch { .. })
    ));
    assert!(matches!(
        tx.open_store::<u64, String>("people"),
        Err(Error::StoreMismatch { .. })
    ));
    assert!(matches!(
        tx.open_store::<String, String>("prim"),
        Err(Error::StoreMismatch { .. })
    ));
    assert!(matches!(
        tx.open_json_store("nope"),
        Err(Error::StoreNotFound(_))
    ));
    drop((people, typed, prim));
    tx.commit().unwrap();
    let r = db.check().unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
    assert_eq!(r.stores.len(), 3);
}

#[test]
fn store_info_json_layout() {
    // Records written before key_spec existed still decode; typed stores omit it.
    let old = r#"{"id":9,"name":"s","options":{"slot_length":1000,"unique":true,"values":"inline","cache_values":true,"leaf_load_balancing":false,"description":""},"key_type":"u64","root":1}"#;
    let info: sop::StoreInfo = serde_json::from_str(old).unwrap();
    assert_eq!(info.key_spec, None);
    assert_eq!(serde_json::to_string(&info).unwrap(), old);
    let with = sop::StoreInfo {
        key_type: "json".into(),
        key_spec: Some(spec(r#"[{"field":"a","order":"desc"}]"#)),
        ..info
    };
    let text = serde_json::to_string(&with).unwrap();
    assert!(
        text.ends_with(r#""key_type":"json","root":1,"key_spec":[{"field":"a","order":"desc"}]}"#),
        "{text}"
    );
}

#[test]
fn bad_input_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx
        .create_json_store("obj", dups(), Some(spec(r#"[{"field":"k"}]"#)))
        .unwrap();
    let p = tx.create_json_store("prim", dups(), None).unwrap();
    for i in 0..20 {
        s.add(&json!({"k": i}), &json!(i)).unwrap();
        p.add(&json!(i), &json!(i)).unwrap();
    }
    drop((s, p));
    tx.commit().unwrap();
    let before = (dump(&db, "obj"), dump(&db, "prim"));
    let head = db.head().unwrap();

    let bad_keys: Vec<(&str, Value, &str)> = vec![
        ("prim", json!([1]), "only primitive keys"),
        ("prim", json!({"k": 1}), "only primitive keys"),
        (
            "prim",
            parse_json("18446744073709551616").unwrap(),
            "integer",
        ),
        (
            "prim",
            parse_json("0.100000000000000001").unwrap(),
            "represented exactly",
        ),
        ("prim", parse_json("1e400").unwrap(), "range of f64"),
        ("obj", json!("k"), "only object keys"),
        ("obj", json!(5), "only object keys"),
        (
            "obj",
            parse_json(r#"{"k": 9007199254740993.0}"#).unwrap(),
            "represented exactly",
        ),
        ("obj", parse_json(r#"{"k": [1, -1e-400]}"#).unwrap(), ""),
    ];
    for (store, key, msg) in &bad_keys {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_json_store(store).unwrap();
        let errs = [
            s.add(key, &json!(1)).unwrap_err(),
            s.add_if_absent(key, &json!(1)).unwrap_err(),
            s.upsert(key, &json!(1)).unwrap_err(),
            s.update(key, &json!(1)).unwrap_err(),
            s.remove(key).unwrap_err(),
            s.get(key).unwrap_err(),
            s.range(Some(key), None, false).err().unwrap(),
        ];
        for e in errs {
            assert!(matches!(e, Error::Codec(_)), "{store} {key}: {e}");
            assert!(e.to_string().contains(msg), "{store} {key}: {e}");
        }
        // The transaction is still usable and holds no change.
        assert_eq!(s.count().unwrap(), 20);
        drop(s);
        tx.commit().unwrap();
    }
    // Invalid JSON text never reaches a store.
    for text in ["", "{", "[1,]", "'a'", "{\"a\":1} x", "NaN", "01"] {
        let e = parse_json(text).unwrap_err();
        assert!(e.to_string().starts_with("invalid JSON"), "{text}: {e}");
    }
    // A key too long for the tree.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_json_store("prim").unwrap();
    assert!(matches!(
        s.add(&json!("x".repeat(40_000)), &json!(1)),
        Err(Error::KeyTooLong { .. })
    ));
    drop(s);
    // Invalid specs and reserved key types create nothing.
    for bad in [
        r#"[]"#,
        r#"[{"field":""}]"#,
        r#"[{"field":"a"},{"field":"a"}]"#,
    ] {
        let sp: IndexSpec = serde_json::from_str(bad).unwrap();
        assert!(
            matches!(
                tx.create_json_store("new", StoreOptions::default(), Some(sp)),
                Err(Error::Codec(_))
            ),
            "{bad}"
        );
    }
    assert!(IndexSpec::parse(r#"[{"field":"a","order":"up"}]"#).is_err());
    assert!(matches!(
        tx.create_raw_store("new", "json", StoreOptions::default()),
        Err(Error::InvalidOption(_))
    ));
    assert!(matches!(
        tx.create_json_store("obj", StoreOptions::default(), None),
        Err(Error::StoreExists(_))
    ));
    assert!(tx.list_stores().unwrap() == vec!["obj".to_string(), "prim".to_string()]);
    tx.commit().unwrap();

    assert_eq!((dump(&db, "obj"), dump(&db, "prim")), before);
    let r = db.check().unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
    // Read-only commits and commits without changes write no record.
    assert_eq!(db.head().unwrap(), head);
}
