use super::*;

/// Checks every search of `leaf` (holding exactly `items`, sorted) against a
/// plain scan, for present, absent, shorter and longer keys.
pub(crate) fn check_searches(leaf: &Leaf, items: &[(Vec<u8>, ItemId)], what: &str) {
    assert_eq!(leaf.len(), items.len(), "{what}");
    for (i, (k, id)) in items.iter().enumerate() {
        assert_eq!((leaf.key(i), leaf.id(i)), (&k[..], *id), "{what}");
        assert!(leaf.key_is(i, k), "{what}");
    }
    let mut probes: Vec<(Vec<u8>, ItemId)> = items.to_vec();
    probes.extend(items.iter().map(|(k, id)| (k.clone(), id + 1)));
    probes.extend(items.iter().map(|(k, _)| {
        let mut k = k.clone();
        k.push(0);
        (k, 0)
    }));
    probes.extend(items.iter().map(|(k, _)| (k[..k.len() / 2].to_vec(), 0)));
    probes.extend([
        (vec![], 0),
        (vec![0xff; 40], 0),
        (b"common/".to_vec(), 0),
        (b"common/prefix/0".to_vec(), 0),
        (b"common/prefix/9".to_vec(), 0),
        (b"common/q".to_vec(), 0),
        (b"common/o".to_vec(), 0),
    ]);
    for (k, id) in &probes {
        let lb = items
            .iter()
            .filter(|(ik, iid)| (ik, *iid) < (k, *id))
            .count();
        assert_eq!(leaf.lower_bound(k, *id), lb, "{what} {k:?}");
        let lbk = items.iter().filter(|(ik, _)| ik < k).count();
        assert_eq!(leaf.lower_bound_key(k), lbk, "{what} {k:?}");
        let ubk = items.iter().filter(|(ik, _)| ik <= k).count();
        assert_eq!(leaf.upper_bound_key(k), ubk, "{what} {k:?}");
        if let Some(i) = items.iter().position(|(ik, _)| ik == k) {
            assert!(leaf.key_is(i, k), "{what}");
        }
    }
}

fn leaf_of(items: &[(Vec<u8>, ItemId)]) -> Leaf {
    let mut leaf = Leaf::default();
    for (k, id) in items {
        leaf.push(k, *id, &ValueRef::Inline(b"v"));
    }
    leaf
}

/// The searches agree with a plain scan, for leaves below and above the
/// search window, keys sharing long prefixes (which the leaf skips),
/// duplicates and absent keys, however the leaf was built: pushed in order,
/// inserted in random order, decoded, sliced, split, appended, or moved
/// between siblings (each of which may change the skipped common prefix).
#[test]
fn leaf_searches_match_a_linear_scan() {
    let mut rng = fastrand::Rng::with_seed(11);
    for n in [0usize, 1, 2, 7, 63, 64, 65, 200, 1000] {
        for shape in 0..4 {
            let mut items: Vec<(Vec<u8>, ItemId)> = (0..n)
                .map(|i| {
                    let key = match shape {
                        // Distinct eight-byte prefixes.
                        0 => rng.u64(..).to_be_bytes().to_vec(),
                        // One long shared prefix: every search is a tie
                        // unless the leaf skips it.
                        1 => format!("common/prefix/{:06}", rng.u32(..5000)).into_bytes(),
                        // Shared prefixes of varying length.
                        2 => format!("common/{}", rng.u32(..100_000)).into_bytes(),
                        // Short keys, many duplicates.
                        _ => vec![rng.u8(..4); rng.usize(0..3)],
                    };
                    (key, i as ItemId * 3)
                })
                .collect();
            items.sort();
            items.dedup();
            let what = format!("n {n} shape {shape}");
            let leaf = leaf_of(&items);
            check_searches(&leaf, &items, &format!("{what} pushed"));

            let mut shuffled = items.clone();
            rng.shuffle(&mut shuffled);
            let mut ins = Leaf::default();
            let mut sofar: Vec<(Vec<u8>, ItemId)> = Vec::new();
            for (k, id) in &shuffled {
                let pos = ins.lower_bound(k, *id);
                ins.insert(pos, k, *id, &ValueRef::Inline(b"v"));
                let at = sofar.partition_point(|x| x < &(k.clone(), *id));
                sofar.insert(at, (k.clone(), *id));
            }
            check_searches(&ins, &items, &format!("{what} inserted"));

            let Node::Leaf(dec) =
                Node::decode(&Node::Leaf(leaf.slice(0, leaf.len())).encode(), 1).unwrap()
            else {
                panic!("not a leaf")
            };
            check_searches(&dec, &items, &format!("{what} decoded"));

            if items.len() >= 4 {
                let at = items.len() / 3;
                let mut left = leaf.clone();
                let right = left.split_off(at);
                check_searches(&left, &items[..at], &format!("{what} split left"));
                check_searches(&right, &items[at..], &format!("{what} split right"));
                // Moving items between siblings and merging them back.
                let mut l2 = left.clone();
                let mut r2 = right.clone();
                l2.take_front(&mut r2, 2);
                check_searches(&l2, &items[..at + 2], &format!("{what} take_front"));
                check_searches(&r2, &items[at + 2..], &format!("{what} take_front right"));
                let mut r3 = right.clone();
                let mut l3 = left.clone();
                r3.take_back(&mut l3, 1);
                check_searches(&r3, &items[at - 1..], &format!("{what} take_back"));
                check_searches(&l3, &items[..at - 1], &format!("{what} take_back left"));
                let mut merged = left.clone();
                merged.append(&right);
                check_searches(&merged, &items, &format!("{what} appended"));
                let mut from_empty = Leaf::default();
                from_empty.append(&right);
                check_searches(
                    &from_empty,
                    &items[at..],
                    &format!("{what} appended to empty"),
                );
                // Leaves of two neighbouring items skip a long common prefix;
                // items from farther away must shorten it.
                let pair = |from: usize| match Node::decode(
                    &Node::Leaf(leaf.slice(from, from + 2)).encode(),
                    1,
                ) {
                    Ok(Node::Leaf(l)) => l,
                    _ => panic!("not a leaf"),
                };
                let mut grown = pair(at);
                let mut rest: Vec<&(Vec<u8>, ItemId)> =
                    items[..at].iter().chain(&items[at + 2..]).collect();
                rng.shuffle(&mut rest);
                for (k, id) in rest {
                    let pos = grown.lower_bound(k, *id);
                    grown.insert(pos, k, *id, &ValueRef::Inline(b"v"));
                }
                check_searches(&grown, &items, &format!("{what} inserted around a pair"));
                let mut l4 = pair(at - 2);
                let mut r4 = right.clone();
                l4.take_front(&mut r4, right.len());
                check_searches(&l4, &items[at - 2..], &format!("{what} take_front all"));
                let mut r5 = pair(at);
                let mut l5 = left.clone();
                r5.take_back(&mut l5, left.len());
                check_searches(&r5, &items[..at + 2], &format!("{what} take_back all"));
                let mut l6 = pair(at - 2);
                l6.append(&right);
                check_searches(&l6, &items[at - 2..], &format!("{what} appended to a pair"));
                // Removing items keeps the rest searchable.
                let mut rem = leaf.clone();
                rem.remove(0);
                rem.remove(rem.len() - 1);
                check_searches(&rem, &items[1..items.len() - 1], &format!("{what} removed"));
            }
        }
    }
}

/// A compact leaf cloned and given a few writes is cached as it is (no more spare
/// room kept than it holds, its items and searches unchanged); one whose records are scattered,
/// or that holds a pending value, is not.
#[test]
fn settle_takes_nearly_compact_leaves_only() {
    let items: Vec<(Vec<u8>, ItemId)> = (0..60u32)
        .map(|i| (format!("k{:04}", i * 2).into_bytes(), 1))
        .collect();
    let compact = leaf_of(&items).slice(0, items.len());
    let mut written = compact.clone();
    let mut all = items.clone();
    for k in ["k0001", "k0051"] {
        let pos = written.lower_bound(k.as_bytes(), 1);
        written.insert(pos, k.as_bytes(), 1, &ValueRef::Inline(b"v"));
        all.push((k.as_bytes().to_vec(), 1));
    }
    all.sort();
    assert!(written.settle(true));
    // At most as much spare room as records is kept (shrinking reallocates).
    assert!(written.arena.capacity() <= written.arena.len() * 2 + 1024);
    assert!(written.locs.capacity() <= written.locs.len() + 8);
    // An arena with more spare room than that is shrunk.
    let mut roomy = compact.clone();
    roomy.arena.reserve(8 * roomy.arena.len() + 4096);
    assert!(roomy.settle(false));
    assert!(roomy.arena.capacity() <= roomy.arena.len() * 2 + 1024);
    check_searches(&written, &all, "settled");
    for i in 0..written.len() {
        assert_eq!(written.item(i).value, ValueRef::Inline(b"v"));
    }

    // Inserted in an order far from the keys': the copy is worth making.
    let mut scattered = Leaf::default();
    for (k, id) in items.iter().rev() {
        scattered.insert(0, k, *id, &ValueRef::Inline(b"v"));
    }
    check_searches(&scattered, &items, "scattered");
    assert!(!scattered.settle(false));

    let mut pending = compact.clone();
    pending.insert(1, b"k0001", 1, &ValueRef::Pending(0));
    assert!(!pending.settle(true));
}

/// The searches of internal nodes agree with a plain scan of the separators,
/// with separators sharing their eight-byte prefixes, duplicates of a key with
/// different item ids, and after every kind of change to the node.
#[test]
fn internal_searches_match_a_linear_scan() {
    fn check(node: &Internal, seps: &[(Vec<u8>, ItemId)]) {
        let got: Vec<(Vec<u8>, ItemId)> =
            node.seps().iter().map(|s| (s.key.to_vec(), s.id)).collect();
        assert_eq!(got, seps);
        assert_eq!(node.children.len(), seps.len() + 1);
        let mut probes = seps.to_vec();
        probes.extend(seps.iter().map(|(k, id)| (k.clone(), id + 1)));
        probes.extend(seps.iter().map(|(k, id)| (k.clone(), id.saturating_sub(1))));
        probes.extend(seps.iter().map(|(k, _)| (k[..k.len() / 2].to_vec(), 0)));
        probes.extend([(vec![], 0), (vec![0xff; 30], 0), (b"common/".to_vec(), 5)]);
        for (k, id) in &probes {
            let item = seps
                .iter()
                .filter(|(sk, sid)| (sk, *sid) <= (k, *id))
                .count();
            let lower = seps.iter().filter(|(sk, _)| sk < k).count();
            let upper = seps.iter().filter(|(sk, _)| sk <= k).count();
            assert_eq!(node.child_for(k, *id), item);
            assert_eq!(node.child_for_key_lower(k), lower);
            assert_eq!(node.child_for_key_upper(k), upper);
        }
    }
    let mut rng = fastrand::Rng::with_seed(12);
    for n in [1usize, 2, 7, 64, 200] {
        for shape in 0..4 {
            let mut seps: Vec<(Vec<u8>, ItemId)> = (0..n)
                .map(|i| {
                    let key = match shape {
                        0 => rng.u64(..).to_be_bytes().to_vec(),
                        1 => format!("common/prefix/{:04}", rng.u32(..300)).into_bytes(),
                        2 => format!("key_{}", rng.u32(..100_000)).into_bytes(),
                        _ => vec![rng.u8(..3); rng.usize(0..10)],
                    };
                    (key, rng.u128(..8) + i as ItemId)
                })
                .collect();
            seps.sort();
            seps.dedup();
            let mk = |s: &[(Vec<u8>, ItemId)]| s.iter().map(|(k, id)| Sep::new(k, *id)).collect();
            let mut node = Internal::new(mk(&seps), (0..=seps.len() as NodeId).collect());
            check(&node, &seps);
            if seps.len() < 4 {
                continue;
            }
            // Split, then put back together.
            let mid = seps.len() / 2;
            let (sep, mut right) = node.split_off(mid);
            check(&node, &seps[..mid - 1]);
            check(&right, &seps[mid..]);
            node.append(sep, &mut right);
            check(&node, &seps);
            // Remove a child and insert it again; change a separator.
            let (k, id) = seps[1].clone();
            node.remove_child(1);
            let mut less = seps.clone();
            less.remove(1);
            check(&node, &less);
            node.insert_child(1, Sep::new(&k, id), 99);
            check(&node, &seps);
            let (k2, id2) = seps[2].clone();
            node.set_sep(2, Sep::new(&k2, id2));
            check(&node, &seps);
            // A separator that does not share the prefix the node skips (before
            // every other), inserted and taken out again.
            let low: (Vec<u8>, ItemId) = (vec![], 0);
            if low < seps[0] {
                let mut more = vec![low.clone()];
                more.extend(seps.iter().cloned());
                node.insert_child(0, Sep::new(&low.0, low.1), 98);
                check(&node, &more);
                node.remove_child(0);
                check(&node, &seps);
                let (k0, id0) = seps[0].clone();
                node.set_sep(0, Sep::new(&low.0, low.1));
                more.remove(1);
                check(&node, &more);
                node.set_sep(0, Sep::new(&k0, id0));
                check(&node, &seps);
            }
            // Move children between siblings both ways.
            let (mut sep, mut right) = node.split_off(mid);
            node.take_front(&mut right, 1, &mut sep);
            check(&node, &seps[..mid]);
            check(&right, &seps[mid + 1..]);
            right.take_back(&mut node, 2, &mut sep);
            check(&node, &seps[..mid - 2]);
            check(&right, &seps[mid - 1..]);
        }
    }
}

/// A compacted leaf holds the same items in the same order, packed, with its
/// pending values resolved; it is `None` if one of them cannot be.
#[test]
fn leaf_compacted_keeps_items_and_resolves_pending_values() {
    let mut l = Leaf::default();
    for i in (0..50u32).rev() {
        let k = format!("k{i:03}");
        let v = if i % 5 == 0 {
            ValueRef::Pending(i)
        } else {
            ValueRef::Inline(k.as_bytes())
        };
        let pos = l.lower_bound(k.as_bytes(), 1);
        l.insert(pos, k.as_bytes(), 1, &v);
    }
    l.remove(3);
    l.set_value(4, &ValueRef::Inline(b"changed"));
    let resolved = |p: u32| ValueRef::Segment {
        seq: 9,
        off: p as u64,
        len: 1,
        checksum: 2,
    };
    let c = l.compacted(&mut |p| Some(resolved(p))).unwrap();
    assert_eq!(c.len(), l.len());
    assert_eq!(c.dead, 0);
    assert_eq!(c.arena.len(), c.bytes_of(0, c.len()));
    for i in 0..l.len() {
        let (a, b) = (l.item(i), c.item(i));
        assert_eq!((a.key, a.id), (b.key, b.id));
        match a.value {
            ValueRef::Pending(p) => assert_eq!(b.value, resolved(p)),
            v => assert_eq!(b.value, v),
        }
    }
    // Records are in item order in the arena.
    assert!((1..c.len()).all(|i| c.locs[i - 1].key_off < c.locs[i].key_off));
    assert!(l
        .compacted(&mut |p| (p != 10).then(|| resolved(p)))
        .is_none());
}

/// Compacting in place keeps every item and every search, leaves no dead bytes
/// and allocates nothing (the arena keeps its memory).
#[test]
fn leaf_compact_in_place_keeps_items() {
    let mut rng = fastrand::Rng::with_seed(5);
    let mut l = Leaf::default();
    let mut items: Vec<(Vec<u8>, ItemId)> = Vec::new();
    for i in 0..300u32 {
        let k = format!("key/{:05}", rng.u32(..100_000)).into_bytes();
        let id = i as u128;
        let pos = l.lower_bound(&k, id);
        let v = vec![b'v'; rng.usize(0..200)];
        l.insert(pos, &k, id, &ValueRef::Inline(&v));
        items.insert(pos, (k, id));
    }
    for _ in 0..150 {
        let at = rng.usize(..l.len());
        l.remove(at);
        items.remove(at);
        if rng.bool() {
            let at = rng.usize(..l.len());
            l.set_value(at, &ValueRef::Inline(b"rewritten"));
        }
    }
    let before: Vec<(Vec<u8>, ItemId, Vec<u8>)> = (0..l.len())
        .map(|i| {
            let it = l.item(i);
            let ValueRef::Inline(v) = it.value else {
                unreachable!()
            };
            (it.key.to_vec(), it.id, v.to_vec())
        })
        .collect();
    l.dead += 1; // force a pass even if the removals happened to compact it
    let cap = l.arena.capacity();
    l.compact_in_place();
    assert_eq!(l.dead, 0);
    assert_eq!(l.arena.len(), l.bytes_of(0, l.len()));
    assert_eq!(l.arena.capacity(), cap);
    let after: Vec<(Vec<u8>, ItemId, Vec<u8>)> = (0..l.len())
        .map(|i| {
            let it = l.item(i);
            let ValueRef::Inline(v) = it.value else {
                unreachable!()
            };
            (it.key.to_vec(), it.id, v.to_vec())
        })
        .collect();
    assert_eq!(before, after);
    check_searches(&l, &items, "compacted in place");
}

/// A leaf encoded with `encode_compacting` writes what `encode_with` writes and is
/// left as `compacted` would copy it, its own-record segments ("0") named later.
#[test]
fn leaf_encode_compacting_writes_the_same_and_compacts_in_place() {
    let mut l = Leaf::default();
    for i in (0..60u32).rev() {
        let k = format!("key_{}", i * 7919 % 1000);
        let v = if i % 4 == 0 {
            ValueRef::Pending(i)
        } else {
            ValueRef::Inline(k.as_bytes())
        };
        let pos = l.lower_bound(k.as_bytes(), i as u128);
        l.insert(pos, k.as_bytes(), i as u128, &v);
    }
    l.remove(5);
    l.set_value(7, &ValueRef::Inline(b"changed value"));
    assert!(l.dead > 0);
    let own = |p: u32| ValueRef::Segment {
        seq: 0,
        off: 100 + p as u64,
        len: 3,
        checksum: 4,
    };
    let mut expected = Vec::new();
    l.encode_with(&mut expected, &mut |p| own(p));
    let named = |p: u32| ValueRef::Segment {
        seq: 42,
        off: 100 + p as u64,
        len: 3,
        checksum: 4,
    };
    let copy = l.compacted(&mut |p| Some(named(p))).unwrap();
    let mut out = b"earlier bytes".to_vec();
    l.encode_compacting(&mut out, &mut |p| own(p));
    assert_eq!(&out[13..], &expected[..]);
    assert_eq!(l.dead, 0);
    assert_eq!(l.arena.len(), l.bytes_of(0, l.len()));
    assert!((1..l.len()).all(|i| l.locs[i - 1].key_off < l.locs[i].key_off));
    l.resolve_own_segments(42);
    assert_eq!(l.len(), copy.len());
    assert_eq!(l.arena, copy.arena);
    for i in 0..l.len() {
        let (a, b) = (l.item(i), copy.item(i));
        assert_eq!((a.key, a.id, a.value), (b.key, b.id, b.value));
    }
    let items: Vec<(Vec<u8>, ItemId)> = (0..copy.len())
        .map(|i| (copy.key(i).to_vec(), copy.id(i)))
        .collect();
    check_searches(&l, &items, "compacted in place");
    // Decoding what was written gives the same leaf.
    match Node::decode(&expected, 42).unwrap() {
        Node::Leaf(d) => assert_eq!(d.arena, l.arena),
        Node::Internal(_) => panic!("a leaf was written"),
    }
}

#[test]
fn leaf_insert_remove_encode_round_trip() {
    let mut l = Leaf::default();
    for i in (0..200u32).rev() {
        let k = format!("k{i:05}");
        let pos = l.lower_bound(k.as_bytes(), 1);
        l.insert(
            pos,
            k.as_bytes(),
            1,
            &ValueRef::Inline(format!("v{i}").as_bytes()),
        );
    }
    for i in 0..199 {
        assert!(l.key(i) < l.key(i + 1));
    }
    l.remove(5);
    l.set_value(
        0,
        &ValueRef::Segment {
            seq: 0,
            off: 7,
            len: 3,
            checksum: 9,
        },
    );
    let bytes = Node::Leaf(l.clone()).encode();
    let Node::Leaf(back) = Node::decode(&bytes, 42).unwrap() else {
        panic!()
    };
    assert_eq!(back.len(), 199);
    assert_eq!(
        back.item(0).value,
        ValueRef::Segment {
            seq: 42,
            off: 7,
            len: 3,
            checksum: 9
        }
    );
    assert_eq!(back.item(10).key, l.item(10).key);
    let right = {
        let mut b = back.clone();
        b.split_off(100)
    };
    assert_eq!(right.len(), 99);
}

#[test]
fn decode_rejects_garbage() {
    for bytes in [
        &[][..],
        &[9],
        &[1, 5],
        &[2, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        &[1, 1, 1, b'a', 0],
    ] {
        assert!(Node::decode(bytes, 1).is_err());
    }
    let mut l = Leaf::default();
    l.push(b"b", 1, &ValueRef::Inline(b"x"));
    l.push(b"a", 1, &ValueRef::Inline(b"x"));
    assert!(
        Node::decode(&Node::Leaf(l).encode(), 1).is_err(),
        "out-of-order items are rejected"
    );
}
