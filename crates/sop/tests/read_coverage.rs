//! Every read a transaction can make is validated at commit, in ForWriting and in
//! ForReading, and survives the in-flight merge.
//!
//! `ROWS` drives each public method of the transaction API through a write-skew
//! scenario: T1 makes the read (and, ForWriting, an unrelated write), T2 changes
//! what that read observed and commits first, and T1's commit must fail with
//! `Conflict`. A second run makes T2's change unrelated (it writes the leaf of
//! store "z" that T1 read, or wrote, elsewhere, so T1 is merged by replay): T1 must
//! then commit. Methods that read
//! nothing of the database are listed in `NO_STATE` with the reason.
//!
//! `every_public_method_is_in_the_table` scans the `pub fn` items of the public
//! transaction types in `src/`: a new method that nobody added here fails it.

use serde_json::json;
use sop::IndexSpec;
use sop::{Database, DbOptions, Error, ItemId, StoreOptions, Transaction, TxMode};
use std::collections::BTreeSet;
use std::ops::Bound;
use std::path::Path;

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

/// Item ids the scenarios need (found before T1 begins).
struct Ctx {
    a3: ItemId,
    r3: ItemId,
}

/// Stores: "a" u64 -> u64 (1..=5 -> k*10), "r" raw (k1..k5), "j" JSON (1..=5),
/// "c" empty (to be dropped), "z" (T1's unrelated writes).
fn setup(db: &Database) -> Ctx {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let a = tx
        .create_store::<u64, u64>("a", StoreOptions::default())
        .unwrap();
    let r = tx
        .create_raw_store("r", "bytes", StoreOptions::default())
        .unwrap();
    let j = tx
        .create_json_store("j", StoreOptions::default(), None)
        .unwrap();
    for k in 1..=5u64 {
        a.add(&k, &(k * 10)).unwrap();
        r.add(format!("k{k}").as_bytes(), format!("v{k}")).unwrap();
        j.add(&json!(k), &json!(format!("v{k}"))).unwrap();
    }
    tx.create_store::<u64, u64>("c", StoreOptions::default())
        .unwrap();
    let z = tx
        .create_store::<u64, u64>("z", StoreOptions::default())
        .unwrap();
    z.add(&1, &1).unwrap();
    let o = StoreOptions {
        values: sop::ValuePlacement::Big,
        ..Default::default()
    };
    tx.create_raw_store("m", "raw-bytes", o)
        .unwrap()
        .upsert(b"k3", "v3")
        .unwrap();
    tx.commit().unwrap();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let mut c = tx.open_store::<u64, u64>("a").unwrap().cursor().unwrap();
    assert!(c.find(&3).unwrap());
    let a3 = c.id().unwrap();
    let mut c = tx.open_raw_store("r").unwrap().cursor().unwrap();
    assert!(c.find(b"k3").unwrap());
    let r3 = c.id().unwrap();
    Ctx { a3, r3 }
}

type Read = fn(&Transaction, &Ctx) -> String;
type Change = fn(&Transaction);

struct Row {
    /// `Type::method` as declared in `src/`.
    method: &'static str,
    /// The read writes too (ForWriting only).
    writes: bool,
    read: Read,
    change: Change,
}

const fn row(method: &'static str, read: Read, change: Change) -> Row {
    Row {
        method,
        writes: false,
        read,
        change,
    }
}

const fn wrow(method: &'static str, read: Read, change: Change) -> Row {
    Row {
        method,
        writes: true,
        read,
        change,
    }
}

fn s(tx: &Transaction) -> sop::Store<'_, u64, u64> {
    tx.open_store::<u64, u64>("a").unwrap()
}
fn raw(tx: &Transaction) -> sop::RawStore<'_> {
    tx.open_raw_store("r").unwrap()
}
fn big(tx: &Transaction) -> sop::RawStore<'_> {
    tx.open_raw_store("m").unwrap()
}
fn js(tx: &Transaction) -> sop::JsonStore<'_> {
    tx.open_json_store("j").unwrap()
}
fn d<T: std::fmt::Debug>(x: T) -> String {
    format!("{x:?}")
}
fn ok<T>(r: sop::Result<T>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

// Changes T2 commits.
fn create_b(tx: &Transaction) {
    let o = StoreOptions {
        slot_length: 8,
        ..Default::default()
    };
    tx.create_store::<u64, u64>("b", o).unwrap();
}
fn drop_c(tx: &Transaction) {
    tx.drop_store("c").unwrap();
}
fn upd3(tx: &Transaction) {
    s(tx).update(&3, &333).unwrap();
    raw(tx).update(b"k3", "changed").unwrap();
    js(tx).update(&json!(3), &json!("changed")).unwrap();
}
fn rm(tx: &Transaction, k: u64) {
    s(tx).remove(&k).unwrap();
    raw(tx).remove(format!("k{k}").as_bytes()).unwrap();
    js(tx).remove(&json!(k)).unwrap();
}
fn rm_big3(tx: &Transaction) {
    big(tx).remove(b"k3").unwrap();
}
fn rm1(tx: &Transaction) {
    rm(tx, 1)
}
fn rm2(tx: &Transaction) {
    rm(tx, 2)
}
fn rm3(tx: &Transaction) {
    rm(tx, 3)
}
fn rm4(tx: &Transaction) {
    rm(tx, 4)
}
fn ins6(tx: &Transaction) {
    s(tx).add(&6, &60).unwrap();
    raw(tx).add(b"k6", "v6").unwrap();
    js(tx).add(&json!(6), &json!("v6")).unwrap();
}
fn recreate(tx: &Transaction) {
    for n in ["a", "r", "j"] {
        tx.drop_store(n).unwrap();
    }
    let o = StoreOptions {
        slot_length: 8,
        ..Default::default()
    };
    tx.create_store::<u64, u64>("a", o.clone()).unwrap();
    tx.create_raw_store("r", "other", o.clone()).unwrap();
    let spec = IndexSpec::parse(r#"[{"field":"x"}]"#).unwrap();
    tx.create_json_store("j", o, Some(spec)).unwrap();
}
/// A change T1 never observed: a write next to T1's own write in "z".
fn unrelated(tx: &Transaction) {
    tx.open_store::<u64, u64>("z")
        .unwrap()
        .upsert(&2, &2)
        .unwrap();
}

/// Every method of the public transaction types that reads the database, each in
/// a scenario where T2 changes what it observed.
const ROWS: &[Row] = &[
    // ---- Transaction: the catalog ----
    row(
        "Transaction::list_stores",
        |t, _| d(t.list_stores()),
        create_b,
    ),
    row(
        "Transaction::list_stores",
        |t, _| d(t.list_stores()),
        drop_c,
    ),
    row(
        "Transaction::store_info",
        |t, _| d(t.store_info("a").map(|i| i.count)),
        ins6,
    ),
    row(
        "Transaction::store_info",
        |t, _| d(t.store_info("b").map(|i| i.count)),
        create_b,
    ),
    row(
        "Transaction::store_info",
        |t, _| d(t.store_info("a").map(|i| i.info.id)),
        recreate,
    ),
    row(
        "Transaction::open_store",
        |t, _| ok(t.open_store::<u64, u64>("b")),
        create_b,
    ),
    row(
        "Transaction::open_store",
        |t, _| ok(t.open_store::<u64, u64>("c")),
        drop_c,
    ),
    row(
        "Transaction::open_raw_store",
        |t, _| ok(t.open_raw_store("b")),
        create_b,
    ),
    row(
        "Transaction::open_raw_store",
        |t, _| ok(t.open_raw_store("c")),
        drop_c,
    ),
    row(
        "Transaction::open_json_store",
        |t, _| ok(t.open_json_store("b")),
        create_b,
    ),
    wrow(
        "Transaction::create_store",
        |t, _| ok(t.create_store::<u64, u64>("b", StoreOptions::default())),
        create_b,
    ),
    wrow(
        "Transaction::create_raw_store",
        |t, _| ok(t.create_raw_store("b", "x", StoreOptions::default())),
        create_b,
    ),
    wrow(
        "Transaction::create_json_store",
        |t, _| ok(t.create_json_store("b", StoreOptions::default(), None)),
        create_b,
    ),
    wrow(
        "Transaction::open_or_create_store",
        |t, _| ok(t.open_or_create_store::<u64, u64>("b", StoreOptions::default())),
        create_b,
    ),
    wrow(
        "Transaction::drop_store",
        |t, _| ok(t.drop_store("c")),
        drop_c,
    ),
    // ---- Store<K, V> ----
    row("Store::info", |t, _| d(s(t).info().unwrap().id), recreate),
    row("Store::get", |t, _| d(s(t).get(&3)), upd3),
    row("Store::contains", |t, _| d(s(t).contains(&6)), ins6),
    row("Store::count", |t, _| d(s(t).count()), ins6),
    row(
        "Store::range",
        |t, _| {
            d(s(t)
                .range(2..=7)
                .unwrap()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>())
        },
        ins6,
    ),
    row(
        "Store::range_desc",
        |t, _| {
            d(s(t)
                .range_desc(..4)
                .unwrap()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>())
        },
        upd3,
    ),
    row(
        "Store::iter",
        |t, _| d(s(t).iter().unwrap().map(|r| r.unwrap()).collect::<Vec<_>>()),
        rm2,
    ),
    wrow("Store::add", |t, _| d(s(t).add(&3, &1)), rm3),
    wrow(
        "Store::add_if_absent",
        |t, _| d(s(t).add_if_absent(&3, &1)),
        rm3,
    ),
    wrow("Store::update", |t, _| d(s(t).update(&3, &1)), rm3),
    wrow("Store::upsert", |t, _| d(s(t).upsert(&3, &1)), rm3),
    wrow("Store::remove", |t, _| d(s(t).remove(&3)), rm3),
    // ---- Cursor<K, V> ----
    row(
        "Cursor::first",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            d((c.first(), c.key()))
        },
        rm1,
    ),
    row(
        "Cursor::last",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            d((c.last(), c.key()))
        },
        ins6,
    ),
    row(
        "Cursor::next",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            c.first().unwrap();
            d((c.next(), c.key()))
        },
        rm2,
    ),
    row(
        "Cursor::prev",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            c.last().unwrap();
            d((c.prev(), c.key()))
        },
        rm4,
    ),
    row(
        "Cursor::seek_ge",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            d((c.seek_ge(&3), c.key()))
        },
        rm3,
    ),
    row(
        "Cursor::seek_le",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            d((c.seek_le(&3), c.key()))
        },
        rm3,
    ),
    row(
        "Cursor::find",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            d(c.find(&3))
        },
        rm3,
    ),
    row(
        "Cursor::find_with_id",
        |t, x| {
            let mut c = s(t).cursor().unwrap();
            d(c.find_with_id(&3, x.a3))
        },
        rm3,
    ),
    row(
        "Cursor::key",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            c.seek_ge(&3).unwrap();
            d(c.key())
        },
        rm3,
    ),
    row(
        "Cursor::id",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            c.seek_ge(&3).unwrap();
            d(c.id())
        },
        rm3,
    ),
    row(
        "Cursor::value",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            c.find(&3).unwrap();
            d(c.value())
        },
        upd3,
    ),
    row(
        "Cursor::item",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            c.find(&3).unwrap();
            d(c.item())
        },
        upd3,
    ),
    wrow(
        "Cursor::remove_current",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            c.seek_ge(&3).unwrap();
            d((c.key(), c.remove_current()))
        },
        rm3,
    ),
    wrow(
        "Cursor::update_current_value",
        |t, _| {
            let mut c = s(t).cursor().unwrap();
            c.seek_ge(&3).unwrap();
            d((c.key(), c.update_current_value(&7)))
        },
        rm3,
    ),
    // ---- RawStore ----
    row(
        "RawStore::info",
        |t, _| d(raw(t).info().unwrap().id),
        recreate,
    ),
    row("RawStore::get", |t, _| d(raw(t).get(b"k3")), upd3),
    row(
        "RawStore::get_with",
        |t, _| d(raw(t).get_with(b"k3", |v| v.to_vec())),
        upd3,
    ),
    row("RawStore::contains", |t, _| d(raw(t).contains(b"k6")), ins6),
    row("RawStore::count", |t, _| d(raw(t).count()), rm1),
    row(
        "RawStore::range",
        |t, _| {
            d(raw(t)
                .range(Bound::Included(b"k2".to_vec()), Bound::Unbounded, false)
                .unwrap()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>())
        },
        ins6,
    ),
    row(
        "RawStore::scan",
        |t, _| {
            let mut v = vec![];
            let n = raw(t).scan(
                Bound::Unbounded,
                Bound::Excluded(&b"k4"[..]),
                true,
                |k, x| {
                    v.push((k.to_vec(), x.to_vec()));
                    true
                },
            );
            d((n, v))
        },
        upd3,
    ),
    wrow("RawStore::add", |t, _| d(raw(t).add(b"k3", "x")), rm3),
    wrow(
        "RawStore::add_if_absent",
        |t, _| d(raw(t).add_if_absent(b"k3", "x")),
        rm3,
    ),
    wrow("RawStore::update", |t, _| d(raw(t).update(b"k3", "x")), rm3),
    wrow("RawStore::upsert", |t, _| d(raw(t).upsert(b"k3", "x")), rm3),
    wrow("RawStore::remove", |t, _| d(raw(t).remove(b"k3")), rm3),
    row(
        "RawStore::get_stream",
        |t, _| {
            let mut v = vec![];
            let r = raw(t).get_stream(b"k3").unwrap();
            d(r.map(|mut r| std::io::Read::read_to_end(&mut r, &mut v).map(|_| v)))
        },
        upd3,
    ),
    row(
        "RawStore::get_range",
        |t, _| d(raw(t).get_range(b"k3", 0..2)),
        upd3,
    ),
    wrow(
        "RawStore::put_stream",
        |t, _| d(big(t).put_stream(b"k3", &b"x"[..])),
        rm_big3,
    ),
    wrow(
        "RawStore::put_stream_with_chunk_size",
        |t, _| d(big(t).put_stream_with_chunk_size(b"k3", &b"x"[..], 4096)),
        rm_big3,
    ),
    // ---- RawCursor ----
    row(
        "RawCursor::first",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            d((c.first(), c.key().map(<[u8]>::to_vec)))
        },
        rm1,
    ),
    row(
        "RawCursor::last",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            d((c.last(), c.key().map(<[u8]>::to_vec)))
        },
        ins6,
    ),
    row(
        "RawCursor::next",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            c.first().unwrap();
            d((c.next(), c.key().map(<[u8]>::to_vec)))
        },
        rm2,
    ),
    row(
        "RawCursor::prev",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            c.last().unwrap();
            d((c.prev(), c.key().map(<[u8]>::to_vec)))
        },
        rm4,
    ),
    row(
        "RawCursor::seek_ge",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            d((c.seek_ge(b"k3"), c.key().map(<[u8]>::to_vec)))
        },
        rm3,
    ),
    row(
        "RawCursor::seek_le",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            d((c.seek_le(b"k3"), c.key().map(<[u8]>::to_vec)))
        },
        rm3,
    ),
    row(
        "RawCursor::find",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            d(c.find(b"k3"))
        },
        rm3,
    ),
    row(
        "RawCursor::find_with_id",
        |t, x| {
            let mut c = raw(t).cursor().unwrap();
            d(c.find_with_id(b"k3", x.r3))
        },
        rm3,
    ),
    row(
        "RawCursor::key",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            c.seek_ge(b"k3").unwrap();
            d(c.key().map(<[u8]>::to_vec))
        },
        rm3,
    ),
    row(
        "RawCursor::id",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            c.seek_ge(b"k3").unwrap();
            d(c.id())
        },
        rm3,
    ),
    row(
        "RawCursor::value",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            c.find(b"k3").unwrap();
            d(c.value())
        },
        upd3,
    ),
    wrow(
        "RawCursor::remove_current",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            c.seek_ge(b"k3").unwrap();
            d((c.key().map(<[u8]>::to_vec), c.remove_current()))
        },
        rm3,
    ),
    wrow(
        "RawCursor::update_current_value",
        |t, _| {
            let mut c = raw(t).cursor().unwrap();
            c.seek_ge(b"k3").unwrap();
            d((
                c.key().map(<[u8]>::to_vec),
                c.update_current_value(b"x".to_vec()),
            ))
        },
        rm3,
    ),
    // ---- JsonStore ----
    row("JsonStore::info", |t, _| d(js(t).info().id), recreate),
    row(
        "JsonStore::spec",
        |t, _| d(js(t).spec().is_some()),
        recreate,
    ),
    row("JsonStore::get", |t, _| d(js(t).get(&json!(3))), upd3),
    row(
        "JsonStore::get_item",
        |t, _| d(js(t).get_item(&json!(3))),
        upd3,
    ),
    row(
        "JsonStore::contains",
        |t, _| d(js(t).contains(&json!(6))),
        ins6,
    ),
    row("JsonStore::count", |t, _| d(js(t).count()), ins6),
    row(
        "JsonStore::range",
        |t, _| {
            d(js(t)
                .range(Some(&json!(2)), None, true)
                .unwrap()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>())
        },
        ins6,
    ),
    row(
        "JsonStore::iter",
        |t, _| {
            d(js(t)
                .iter()
                .unwrap()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>())
        },
        rm4,
    ),
    wrow(
        "JsonStore::add",
        |t, _| d(js(t).add(&json!(3), &json!(0))),
        rm3,
    ),
    wrow(
        "JsonStore::add_if_absent",
        |t, _| d(js(t).add_if_absent(&json!(3), &json!(0))),
        rm3,
    ),
    wrow(
        "JsonStore::update",
        |t, _| d(js(t).update(&json!(3), &json!(0))),
        rm3,
    ),
    wrow(
        "JsonStore::upsert",
        |t, _| d(js(t).upsert(&json!(3), &json!(0))),
        rm3,
    ),
    wrow("JsonStore::remove", |t, _| d(js(t).remove(&json!(3))), rm3),
];

/// Public methods that observe nothing of the database state, and why.
const NO_STATE: &[(&str, &str)] = &[
    ("Transaction::mode", "the transaction's own mode"),
    ("Transaction::id", "the transaction's own id"),
    (
        "Transaction::snapshot_seq",
        "the sequence the snapshot was taken at, fixed at begin",
    ),
    ("Transaction::commit", "ends the transaction (validates it)"),
    ("Transaction::rollback", "ends the transaction"),
    ("Store::raw", "the same handle, untyped"),
    (
        "Store::cursor",
        "a new cursor observes nothing until it moves (its moves are rows)",
    ),
    (
        "RawStore::cursor",
        "a new cursor observes nothing until it moves (its moves are rows)",
    ),
    ("JsonStore::raw", "the same handle, untyped"),
    (
        "JsonStore::key_bytes",
        "encodes a key with the spec the open observed",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Then {
    /// T2 changes what T1 read: T1 must fail with Conflict.
    Related,
    /// T2 changes only the node T1 wrote: T1 is merged and commits.
    Unrelated,
}

/// One scenario: T1 reads, and reads key 1 of "z" (ForWriting: and writes it);
/// T2 commits a change; T1 commits. Two handles on one folder, as two processes.
fn run(row: &Row, mode: TxMode, then: Then) -> sop::Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let h1 = Database::open(dir.path(), opts()).unwrap();
    let ctx = setup(&h1);
    let h2 = Database::open(dir.path(), opts()).unwrap();
    let change = match then {
        Then::Related => row.change,
        Then::Unrelated => unrelated,
    };
    // The change must alter what the read observes, or the scenario proves nothing.
    if then == Then::Related {
        let before = {
            let t = h2.begin(TxMode::ForWriting).unwrap();
            (row.read)(&t, &ctx)
        };
        let t = h2.begin(TxMode::ForWriting).unwrap();
        change(&t);
        let after = (row.read)(&t, &ctx);
        drop(t);
        assert_ne!(
            before, after,
            "{}: the change does not alter the read",
            row.method
        );
    }
    let t1 = h1.begin(mode).unwrap();
    let seen = (row.read)(&t1, &ctx);
    // T1 reads key 1 of "z" (ForWriting: and writes it), in the leaf T2's
    // unrelated change writes: that change fails T1's validation, so T1 commits
    // only through the replay of every op, the read under test included.
    let z = t1.open_store::<u64, u64>("z").unwrap();
    assert_eq!(z.get(&1).unwrap(), Some(1));
    if mode == TxMode::ForWriting {
        z.upsert(&1, &100).unwrap();
    }
    let t2 = h2.begin(TxMode::ForWriting).unwrap();
    change(&t2);
    t2.commit().unwrap();
    let r = t1.commit();
    if r.is_ok() && then == Then::Related {
        // Explain the failure: what T1 saw, and what it would see now.
        let t = h1.begin(TxMode::ForWriting).unwrap();
        eprintln!("{}: saw {seen}, now {}", row.method, (row.read)(&t, &ctx));
    }
    r
}

#[test]
fn every_read_is_validated_and_merged() {
    let mut escaped = vec![];
    let mut false_conflicts = vec![];
    for row in ROWS {
        let modes: &[TxMode] = if row.writes {
            &[TxMode::ForWriting]
        } else {
            &[TxMode::ForWriting, TxMode::ForReading]
        };
        for &mode in modes {
            match run(row, mode, Then::Related) {
                Err(Error::Conflict(_)) => {}
                other => escaped.push(format!("{} in {mode:?}: {other:?}", row.method)),
            }
            if let Err(e) = run(row, mode, Then::Unrelated) {
                false_conflicts.push(format!("{} in {mode:?}: {e:?}", row.method));
            }
        }
    }
    assert!(
        escaped.is_empty() && false_conflicts.is_empty(),
        "reads that escaped validation:\n  {}\nfalse conflicts after an unrelated change:\n  {}",
        escaped.join("\n  "),
        false_conflicts.join("\n  ")
    );
}

/// The types a transaction hands out.
const TYPES: &[&str] = &[
    "Transaction",
    "Store",
    "Cursor",
    "Range",
    "RawStore",
    "RawCursor",
    "RawRange",
    "JsonStore",
    "JsonRange",
    "StoreStats",
];

/// `Type::method` for every `pub fn` declared directly in an inherent `impl` block
/// (at column 0) of one of `TYPES`, in every source file under `dir`.
fn public_methods(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            public_methods(&p, out);
            continue;
        }
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let mut cur: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("impl") {
                let rest = if rest.starts_with('<') {
                    let mut depth = 0;
                    let end = rest
                        .char_indices()
                        .find(|&(_, c)| {
                            depth += (c == '<') as i32 - (c == '>') as i32;
                            depth == 0
                        })
                        .map(|(i, _)| i + 1)
                        .unwrap();
                    &rest[end..]
                } else {
                    rest
                };
                let name: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                cur = (!rest.contains(" for ") && TYPES.contains(&name.as_str())).then_some(name);
            } else if line == "}" {
                cur = None;
            } else if let (Some(t), Some(f)) = (&cur, line.trim_start().strip_prefix("pub fn ")) {
                let m: String = f
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(format!("{t}::{m}"));
            }
        }
    }
}

#[test]
fn every_public_method_is_in_the_table() {
    let mut found = BTreeSet::new();
    public_methods(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    assert!(found.contains("Transaction::list_stores") && found.contains("RawCursor::next"));
    let mut listed: BTreeSet<String> = ROWS.iter().map(|r| r.method.to_string()).collect();
    for (m, _) in NO_STATE {
        assert!(
            listed.insert(m.to_string()),
            "{m} is both a read and not one"
        );
    }
    let missing: Vec<_> = found.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&found).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "public methods with no write-skew row in tests/read_coverage.rs (add one, or to NO_STATE with the reason): {missing:?}; rows for methods that no longer exist: {stale:?}"
    );
}
