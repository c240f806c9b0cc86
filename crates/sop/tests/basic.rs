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

/// `get_with` and `scan` lend keys and values; in a validated transaction they see
/// its own writes and are recorded like `get` and `range` (a scan is validated up
/// to where it stopped); in a NoCheck one they read the snapshot; values of every
/// placement are fetched.
#[test]
fn borrowing_reads_in_every_mode() {
    use std::ops::Bound;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    let key = |i: u32| format!("k{i:04}").into_bytes();
    let val = |i: u32, p: u32| format!("v{i}.{p}").into_bytes();
    let placements = [
        ValuePlacement::Auto,
        ValuePlacement::Inline,
        ValuePlacement::Separate,
        ValuePlacement::Big,
    ];
    let tx = db.begin(TxMode::ForWriting).unwrap();
    for (p, placement) in placements.iter().enumerate() {
        let s = tx
            .create_raw_store(
                &format!("s{p}"),
                "bytes",
                StoreOptions {
                    slot_length: 8,
                    values: *placement,
                    ..Default::default()
                },
            )
            .unwrap();
        for i in 0..100 {
            s.add(&key(i), val(i, 0)).unwrap();
        }
        // Uncommitted writes are visible to the writer's own borrowing reads.
        assert_eq!(
            s.get_with(&key(5), |v| v.to_vec()).unwrap(),
            Some(val(5, 0))
        );
        let mut seen = vec![];
        let n = s
            .scan(
                Bound::Excluded(&key(10)),
                Bound::Unbounded,
                false,
                |k, v| {
                    seen.push((k.to_vec(), v.to_vec()));
                    seen.len() < 3
                },
            )
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            seen,
            (11..14).map(|i| (key(i), val(i, 0))).collect::<Vec<_>>()
        );
    }
    tx.commit().unwrap();

    for mode in [TxMode::NoCheck, TxMode::ForReading, TxMode::ForWriting] {
        let tx = db.begin(mode).unwrap();
        for p in 0..placements.len() {
            let s = tx.open_raw_store(&format!("s{p}")).unwrap();
            assert_eq!(
                s.get_with(&key(7), <[u8]>::to_vec).unwrap(),
                Some(val(7, 0))
            );
            assert_eq!(s.get_with(b"nope", <[u8]>::to_vec).unwrap(), None);
            assert!(s.contains(&key(99)).unwrap() && !s.contains(b"k").unwrap());
            // Descending, both bounds, to the end.
            let mut seen = vec![];
            s.scan(
                Bound::Included(&key(90)),
                Bound::Excluded(&key(95)),
                true,
                |k, v| {
                    seen.push((k.to_vec(), v.to_vec()));
                    true
                },
            )
            .unwrap();
            let want: Vec<_> = (90..95).rev().map(|i| (key(i), val(i, 0))).collect();
            assert_eq!(seen, want, "{mode:?} store {p}");
            let owned: Vec<_> = s
                .range(Bound::Included(key(90)), Bound::Excluded(key(95)), true)
                .unwrap()
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect();
            assert_eq!(owned, want);
            // The callbacks may use the transaction again.
            let again = s.get_with(&key(1), |_| s.get(&key(2)).unwrap()).unwrap();
            assert_eq!(again, Some(Some(val(2, 0).into())));
        }
        tx.commit().unwrap();
    }

    // A ForReading scan that stopped early conflicts with a change among the items
    // it saw, not with one far past where it stopped.
    for (changed, conflict) in [(12, true), (80, false)] {
        let reader = db.begin(TxMode::ForReading).unwrap();
        let s = reader.open_raw_store("s0").unwrap();
        let mut n = 0;
        s.scan(
            Bound::Included(&key(10)),
            Bound::Unbounded,
            false,
            |_, _| {
                n += 1;
                n < 5
            },
        )
        .unwrap();
        let w = db.begin(TxMode::ForWriting).unwrap();
        w.open_raw_store("s0")
            .unwrap()
            .update(&key(changed), val(changed, 1))
            .unwrap();
        w.commit().unwrap();
        match reader.commit() {
            Err(Error::Conflict(_)) => assert!(conflict, "change at {changed}"),
            Ok(()) => assert!(!conflict, "change at {changed}"),
            Err(e) => panic!("{e}"),
        }
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
    assert!(
        auto * 4 < inline,
        "auto {auto} vs inline {inline} node bytes"
    );
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

/// NoCheck reads (descents through the transaction's memo of resolved nodes, which
/// turns its leaf slots over past a quarter of a small node cache) give what
/// validated reads give: point reads and scans both ways, over keys sharing a long prefix (so the
/// eight-byte prefixes searches compare first tie), with duplicates, and with
/// inline and separate values.
#[test]
fn no_check_reads_match_validated_reads() {
    use std::ops::Bound;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            node_cache_bytes: 1 << 20,
            ..opts()
        },
    )
    .unwrap();
    let key = |i: u32| format!("common/prefix/{i:05}").into_bytes();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx
        .create_raw_store(
            "s",
            "bytes",
            StoreOptions {
                slot_length: 8,
                unique: false,
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..6000u32 {
        let len = if i % 3 == 0 { 400 } else { 200 };
        s.add(&key(i * 2), vec![i as u8; len]).unwrap();
        if i % 7 == 0 {
            s.add(&key(i * 2), b"duplicate").unwrap();
        }
    }
    tx.commit().unwrap();

    let (nc, fr) = (
        db.begin(TxMode::NoCheck).unwrap(),
        db.begin(TxMode::ForReading).unwrap(),
    );
    let (a, b) = (
        nc.open_raw_store("s").unwrap(),
        fr.open_raw_store("s").unwrap(),
    );
    let scan = |s: &sop::RawStore<'_>, k: &[u8], desc: bool, n: usize| {
        let mut seen = vec![];
        let (lo, hi) = if desc {
            (Bound::Unbounded, Bound::Included(k))
        } else {
            (Bound::Included(k), Bound::Unbounded)
        };
        s.scan(lo, hi, desc, |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            seen.len() < n
        })
        .unwrap();
        seen
    };
    let mut rng = fastrand::Rng::with_seed(1);
    for _ in 0..3000 {
        let k = key(rng.u32(0..12_002));
        let got = a.get_with(&k, <[u8]>::to_vec).unwrap();
        assert_eq!(got, b.get_with(&k, <[u8]>::to_vec).unwrap());
        assert_eq!(got.is_some(), k[14..] < b"12000"[..] && k[18] % 2 == 0);
        assert_eq!(a.get(&k).unwrap(), b.get(&k).unwrap());
        let (desc, n) = (rng.bool(), rng.usize(1..40));
        let seen = scan(&a, &k, desc, n);
        assert_eq!(seen, scan(&b, &k, desc, n));
        assert!(seen.len() == n || desc || k[14..] > b"11900"[..]);
    }
    nc.commit().unwrap();
    fr.commit().unwrap();
}
