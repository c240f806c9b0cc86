use sop::{Database, DbOptions, Error, StoreOptions, TxMode, ValuePlacement};

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

#[test]
fn add_get_commit_reopen_range() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx
            .create_store::<u64, String>(
                "nums",
                StoreOptions {
                    slot_length: 8,
                    ..Default::default()
                },
            )
            .unwrap();
        for i in (0..500u64).rev() {
            assert!(s.add(&i, &format!("v{i}")).unwrap());
        }
        assert!(
            !s.add(&7, &"dup".into()).unwrap(),
            "unique store rejects an equal key"
        );
        assert_eq!(s.count().unwrap(), 500);
        tx.commit().unwrap();
    }
    let db = Database::open(dir.path(), opts()).unwrap();
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<u64, String>("nums").unwrap();
    assert_eq!(s.get(&42).unwrap().as_deref(), Some("v42"));
    assert_eq!(s.get(&500).unwrap(), None);
    assert_eq!(s.count().unwrap(), 500);
    let got: Vec<u64> = s.range(100..110).unwrap().map(|r| r.unwrap().0).collect();
    assert_eq!(got, (100..110).collect::<Vec<_>>());
    let got: Vec<u64> = s.range_desc(..=5).unwrap().map(|r| r.unwrap().0).collect();
    assert_eq!(got, vec![5, 4, 3, 2, 1, 0]);
    assert!(matches!(
        s.add(&1, &"x".into()),
        Err(Error::ReadOnly(TxMode::ForReading))
    ));
    assert!(matches!(
        tx.open_store::<String, String>("nums"),
        Err(Error::StoreMismatch { .. })
    ));
    tx.commit().unwrap();
}

#[test]
fn remove_everything_and_values_placements() {
    for placement in [
        ValuePlacement::Auto,
        ValuePlacement::Inline,
        ValuePlacement::Separate,
        ValuePlacement::Big,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), opts()).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let o = StoreOptions {
            slot_length: 4,
            values: placement,
            ..Default::default()
        };
        let s = tx.create_store::<u64, Vec<u8>>("s", o).unwrap();
        for i in 0..200u64 {
            s.add(&i, &vec![i as u8; 10]).unwrap();
        }
        tx.commit().unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, Vec<u8>>("s").unwrap();
        assert_eq!(s.get(&9).unwrap(), Some(vec![9u8; 10]), "{placement:?}");
        for i in 0..200u64 {
            assert!(s.remove(&i).unwrap());
        }
        assert_eq!(s.count().unwrap(), 0);
        tx.commit().unwrap();
        let db = Database::open(dir.path(), opts()).unwrap();
        let tx = db.begin(TxMode::NoCheck).unwrap();
        let s = tx.open_store::<u64, Vec<u8>>("s").unwrap();
        assert_eq!(s.iter().unwrap().count(), 0);
        assert_eq!(s.count().unwrap(), 0);
    }
}

#[test]
fn auto_placement_keeps_small_values_in_the_leaf_and_large_ones_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(StoreOptions::default().values, ValuePlacement::Auto);
    let val = |i: u64| {
        let len = if i.is_multiple_of(2) { 40 } else { 1000 };
        vec![i as u8; len]
    };
    let tx = db.begin(TxMode::ForWriting).unwrap();
    for (name, values) in [
        ("auto", ValuePlacement::Auto),
        ("inline", ValuePlacement::Inline),
    ] {
        let s = tx
            .create_store::<u64, Vec<u8>>(
                name,
                StoreOptions {
                    values,
                    ..Default::default()
                },
            )
            .unwrap();
        for i in 0..500u64 {
            s.add(&i, &val(i)).unwrap();
        }
    }
    tx.commit().unwrap();
    let bytes = |db: &Database, name: &str| {
        db.stats()
            .unwrap()
            .stores
            .into_iter()
            .find(|s| s.info.name == name)
            .unwrap()
            .node_bytes
    };
    // The large half lives outside the leaves; the small half stays in them.
    let (auto, inline) = (bytes(&db, "auto"), bytes(&db, "inline"));
    assert!(auto * 4 < inline, "auto {auto} vs inline {inline} node bytes");
    assert!(auto > 250 * 40, "small values are in the leaves: {auto}");
    // Overwrite across the threshold both ways, then read back after reopening.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_store::<u64, Vec<u8>>("auto").unwrap();
    s.update(&0, &vec![7; 2000]).unwrap();
    s.update(&1, &vec![8; 3]).unwrap();
    tx.commit().unwrap();
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<u64, Vec<u8>>("auto").unwrap();
    assert_eq!(s.get(&0).unwrap().unwrap(), vec![7; 2000]);
    assert_eq!(s.get(&1).unwrap().unwrap(), vec![8; 3]);
    for i in 2..500u64 {
        assert_eq!(s.get(&i).unwrap().unwrap(), val(i), "item {i}");
    }
    tx.commit().unwrap();
    assert!(db.check().unwrap().is_ok());
}
