//! The public handles implement `Debug` (so a caller can `{:?}` a struct holding
//! one, or `unwrap` a `Result` of one), showing what identifies each, never data.

use serde_json::json;
use sop::{Database, DbOptions, StoreOptions, TxMode};

#[test]
fn handles_show_what_identifies_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(
        &path,
        DbOptions {
            recovery_interval: None,
            ..Default::default()
        },
    )
    .unwrap();
    let shown = format!("{db:?}");
    assert!(shown.starts_with("Database"), "{shown}");
    assert!(shown.contains(&format!("{:?}", path)), "the path: {shown}");

    let tx = db.begin(TxMode::ForWriting).unwrap();
    let shown = format!("{tx:?}");
    assert!(shown.contains("ForWriting"), "the mode: {shown}");
    assert!(
        shown.contains(&format!("{:032x}", tx.id())),
        "the id: {shown}"
    );

    let s = tx
        .create_store::<String, String>("secret", StoreOptions::default())
        .unwrap();
    s.add(&"k".into(), &"hidden value".into()).unwrap();
    let j = tx
        .create_json_store("docs", StoreOptions::default(), None)
        .unwrap();
    j.add(&json!(1), &json!("hidden document")).unwrap();
    let shown = format!(
        "{s:?} {:?} {:?} {:?} {j:?} {:?} {:?} {:?}",
        s.raw(),
        s.cursor().unwrap(),
        s.iter().unwrap(),
        s.raw().cursor().unwrap(),
        s.raw()
            .range(
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                false
            )
            .unwrap(),
        j.iter().unwrap(),
    );
    for name in [
        "Store",
        "RawStore",
        "Cursor",
        "Range",
        "JsonStore",
        "RawCursor",
        "RawRange",
        "JsonRange",
    ] {
        assert!(shown.contains(name), "{name} in {shown}");
    }
    assert!(!shown.contains("hidden"), "no data: {shown}");
    let r = tx
        .create_raw_store("bytes", "raw-bytes", StoreOptions::default())
        .unwrap();
    r.upsert(b"k", "hidden bytes").unwrap();
    let shown = format!("{:?}", r.get_stream(b"k").unwrap().unwrap());
    assert!(shown.starts_with("ValueReader"), "{shown}");
    assert!(shown.contains("len: 12"), "the length: {shown}");
    assert!(!shown.contains("hidden"), "no data: {shown}");
    drop((s, j));
    tx.commit().unwrap();
}
