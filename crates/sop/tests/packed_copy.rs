//! `Database::pack_into` (`sop pack`): a compact copy as of one commit, item for
//! item, on a real read-only bind mount afterwards (the test run is root).

mod support;

use sop::IndexSpec;
use sop::{Database, DbOptions, Error, StoreOptions, TxMode, ValuePlacement};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use support::{folder_bytes, RoMount};

/// Every store: its info (name, options, key type, key spec) and its items.
type Dump = Vec<(String, String, Vec<(Vec<u8>, Vec<u8>)>)>;

fn dump(db: &Database) -> Dump {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let mut names = tx.list_stores().unwrap();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let s = tx.open_raw_store(&n).unwrap();
            let info = s.info().unwrap();
            let meta = format!("{:?} {} {:?}", info.options, info.key_type, info.key_spec);
            let items = s
                .range(Bound::Unbounded, Bound::Unbounded, false)
                .unwrap()
                .map(|r| {
                    let (k, v) = r.unwrap();
                    (k.to_vec(), v.to_vec())
                })
                .collect();
            (n, meta, items)
        })
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_packed_copy_holds_every_item_in_live_records_only_and_reads_from_read_only_media() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let db = Database::open(&src, DbOptions::default()).unwrap();
    // A typed store with duplicates and churn, a JSON store ordered by a key
    // spec, and a store of big values.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, String>(
        "typed",
        StoreOptions {
            slot_length: 16,
            ..Default::default()
        },
    )
    .unwrap();
    tx.create_json_store(
        "people",
        StoreOptions::default(),
        Some(
            IndexSpec::parse(
                "[{\"field\":\"last\",\"order\":\"asc\"},{\"field\":\"age\",\"order\":\"desc\"}]",
            )
            .unwrap(),
        ),
    )
    .unwrap();
    tx.create_store::<u64, Vec<u8>>(
        "big",
        StoreOptions {
            values: ValuePlacement::Big,
            ..Default::default()
        },
    )
    .unwrap();
    tx.commit().unwrap();
    for round in 0..20u64 {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, String>("typed").unwrap();
        for k in 0..200u64 {
            s.upsert(&k, &format!("r{round}-{k}")).unwrap();
        }
        s.add(&7, &format!("dup{round}")).unwrap();
        let j = tx.open_json_store("people").unwrap();
        j.add(
            &serde_json::json!({"last": format!("L{}", round % 5), "age": round}),
            &serde_json::json!({"round": round}),
        )
        .unwrap();
        let b = tx.open_store::<u64, Vec<u8>>("big").unwrap();
        b.upsert(&(round % 3), &vec![round as u8; 5000]).unwrap();
        tx.commit().unwrap();
    }
    let want = dump(&db);
    let packed = tmp.path().join("packed");
    let report = db.pack_into(&packed).unwrap();
    assert_eq!(report.stores, 3);
    assert_eq!(report.source_seq, db.head().unwrap());
    let items: usize = want.iter().map(|(_, _, i)| i.len()).sum();
    assert_eq!(report.items, items as u64);
    // Refused into a folder that holds a database.
    assert!(matches!(
        db.pack_into(&packed),
        Err(Error::AlreadyExists(_))
    ));
    db.close().unwrap();

    assert_eq!(report.bytes, folder_bytes(&packed));
    assert!(
        folder_bytes(&packed) < folder_bytes(&src),
        "{} vs {}",
        folder_bytes(&packed),
        folder_bytes(&src)
    );
    let names: Vec<String> = files(&packed)
        .iter()
        .map(|p| {
            p.strip_prefix(&packed)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("checkpoints/"))
            .count(),
        1,
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("journal-")),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("tmp/") || n.starts_with("procs/")),
        "{names:?}"
    );

    let mnt = RoMount::new(&packed, &tmp.path().join("ro"));
    let copy = Database::open(
        &mnt.0,
        DbOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(dump(&copy) == want, "the copy differs from the source");
    let check = copy.check().unwrap();
    assert!(check.is_ok(), "{:?}", check.problems);
    // Live nodes only: every record body byte of the copy is a live node image
    // or value (what compaction would move is nothing).
    drop(copy);
    drop(mnt);
    let copy = Database::open(&packed, DbOptions::default()).unwrap();
    let moved = copy
        .compact_with(&sop::CompactOptions {
            min_dead_fraction: 0.0,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(moved.nodes_moved, 0, "{moved:?}");
    assert_eq!(moved.values_moved, 0, "{moved:?}");
}
