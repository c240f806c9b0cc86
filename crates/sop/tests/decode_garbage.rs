//! Every decoder of on-disk bytes returns `Ok` or `Err` on bad data, never panics.
//!
//! The stable, default-test-run counterpart of the cargo-fuzz targets in `fuzz/`:
//! random bytes, and random mutations (bit flips, truncation, extension,
//! overwrites) of valid encoded nodes and commit record files.

use proptest::prelude::*;
use sop::test_hooks::checksum;
use sop::test_hooks::Image;
use sop::test_hooks::{Internal, Leaf, Node, Sep, ValueRef};
use sop::test_hooks::{Placement, Record, StoreDelta, PREFIX_LEN, TRAILER_LEN};
use sop::IndexSpec;
use sop::Key;
use sop::StoreInfo;
use sop::{StoreOptions, ValuePlacement};
use std::collections::BTreeMap;

/// The commit segment nodes are decoded from in these tests.
const SEQ: u64 = 42;

// ---------------------------------------------------------------- nodes

#[derive(Clone, Debug)]
enum Val {
    Inline(Vec<u8>),
    Segment {
        seq: u64,
        off: u64,
        len: u32,
        checksum: u64,
    },
    File {
        blob: u128,
        len: u64,
        checksum: u64,
    },
}

impl Val {
    /// As stored in a node decoded from segment `seq` (None: as written).
    fn as_ref(&self, resolve: Option<u64>) -> ValueRef<'_> {
        match *self {
            Val::Inline(ref b) => ValueRef::Inline(b),
            Val::Segment {
                seq,
                off,
                len,
                checksum,
            } => {
                let seq = match (seq, resolve) {
                    (0, Some(s)) => s,
                    _ => seq,
                };
                ValueRef::Segment {
                    seq,
                    off,
                    len,
                    checksum,
                }
            }
            Val::File {
                blob,
                len,
                checksum,
            } => ValueRef::File {
                blob,
                len,
                checksum,
            },
        }
    }
}

fn arb_val() -> impl Strategy<Value = Val> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Val::Inline),
        (0u64..4, any::<u64>(), any::<u32>(), any::<u64>()).prop_map(
            |(seq, off, len, checksum)| Val::Segment {
                seq,
                off,
                len,
                checksum
            }
        ),
        (any::<u128>(), any::<u64>(), any::<u64>()).prop_map(|(blob, len, checksum)| Val::File {
            blob,
            len,
            checksum
        }),
    ]
}

/// Items keyed by (key bytes, item id), so they come out sorted and unique.
fn arb_items() -> impl Strategy<Value = BTreeMap<(Vec<u8>, u128), Val>> {
    proptest::collection::btree_map(
        (
            proptest::collection::vec(any::<u8>(), 0..12),
            prop_oneof![0u128..4, any::<u128>()],
        ),
        arb_val(),
        0..16,
    )
}

fn leaf_of(items: &BTreeMap<(Vec<u8>, u128), Val>, resolve: Option<u64>) -> Node {
    let mut leaf = Leaf::default();
    for ((key, id), v) in items {
        leaf.push(key, *id, &v.as_ref(resolve));
    }
    Node::Leaf(leaf)
}

fn arb_internal() -> impl Strategy<Value = Node> {
    (
        proptest::collection::btree_set(
            (proptest::collection::vec(any::<u8>(), 0..12), any::<u128>()),
            1..12,
        ),
        proptest::collection::vec(any::<u64>(), 12),
    )
        .prop_map(|(seps, children)| {
            let seps: Vec<Sep> = seps.into_iter().map(|(k, id)| Sep::new(&k, id)).collect();
            let children = children[..seps.len() + 1].to_vec();
            Node::Internal(Internal::new(seps, children))
        })
}

/// A valid node encoding and the encoding it must decode (from segment SEQ) to.
fn arb_node_bytes() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    prop_oneof![
        arb_items().prop_map(|items| (
            leaf_of(&items, None).encode(),
            leaf_of(&items, Some(SEQ)).encode()
        )),
        arb_internal().prop_map(|n| (n.encode(), n.encode())),
    ]
}

/// Decoding never panics; what decodes is a node whose encoding is a fixed point.
fn check_node(bytes: &[u8]) -> Result<Vec<u8>, TestCaseError> {
    let Ok(node) = Node::decode(bytes, SEQ) else {
        return Ok(Vec::new());
    };
    let once = node.encode();
    let again = Node::decode(&once, SEQ)
        .map_err(|e| TestCaseError::fail(format!("re-encoded node fails: {e}")))?;
    prop_assert_eq!(again.encode(), once.clone());
    if let Node::Leaf(l) = &node {
        for i in 0..l.len() {
            let it = l.item(i);
            prop_assert_eq!(l.lower_bound(it.key, it.id), i);
        }
    }
    Ok(once)
}

// ---------------------------------------------------------------- records

fn arb_store_info() -> impl Strategy<Value = StoreInfo> {
    (
        any::<u64>(),
        "[a-zé\"\\\\]{0,8}",
        4usize..20_000,
        any::<bool>(),
        prop_oneof![
            Just(ValuePlacement::Auto),
            Just(ValuePlacement::Inline),
            Just(ValuePlacement::Separate),
            Just(ValuePlacement::Big)
        ],
        "\\PC{0,6}",
        "u64|str|json",
        any::<u64>(),
    )
        .prop_map(
            |(id, name, slot_length, unique, values, description, key_type, root)| {
                // JSON stores may carry an index spec (saved with the store info).
                let key_spec = (key_type == "json" && root % 2 == 1).then(|| {
                    IndexSpec::parse(r#"[{"field":"a"},{"field":"b","order":"desc"}]"#).unwrap()
                });
                StoreInfo {
                    id,
                    name,
                    options: StoreOptions {
                        slot_length,
                        unique,
                        values,
                        description,
                        ..Default::default()
                    },
                    key_type,
                    root,
                    key_spec,
                }
            },
        )
}

fn arb_delta() -> impl Strategy<Value = StoreDelta> {
    (
        any::<u64>(),
        any::<i64>(),
        proptest::collection::vec(
            (
                any::<u64>(),
                any::<u64>(),
                any::<u32>(),
                any::<u64>(),
                proptest::option::of((any::<u64>(), any::<u64>(), any::<u32>(), any::<u64>())),
            ),
            0..4,
        ),
        proptest::collection::vec(any::<u64>(), 0..4),
    )
        .prop_map(|(store, count_delta, puts, deletes)| StoreDelta {
            store,
            count_delta,
            puts: puts
                .into_iter()
                .map(|(id, off, len, checksum, base)| {
                    let base = base.map(|(seq, off, len, checksum)| Image {
                        seq,
                        off,
                        len,
                        checksum,
                    });
                    (id, Placement { off, len, checksum }, base)
                })
                .collect(),
            deletes,
        })
}

fn arb_record() -> impl Strategy<Value = Record> {
    (
        any::<u128>(),
        any::<u64>(),
        proptest::collection::vec(arb_store_info(), 0..3),
        proptest::collection::vec(any::<u64>(), 0..4),
        proptest::collection::vec(arb_delta(), 0..3),
        proptest::collection::vec(any::<u128>(), 0..3),
        proptest::collection::vec((any::<u64>(), any::<u128>()), 0..3),
        proptest::collection::vec((any::<u64>(), any::<u128>()), 0..3),
    )
        .prop_map(
            |(txn, base_seq, created, dropped, deltas, aborts, adopted_files, released_files)| {
                Record {
                    txn,
                    base_seq,
                    created,
                    dropped,
                    deltas,
                    aborts,
                    adopted_files,
                    released_files,
                    retired: false,
                }
            },
        )
}

/// A record file as the log writes it: prefix, body, header, trailer.
/// Returns the file and the header's range in it.
fn record_file(rec: &Record, body: &[u8]) -> (Vec<u8>, std::ops::Range<usize>) {
    let h = rec.encode_header();
    let mut file = Record::prefix().to_vec();
    file.extend_from_slice(body);
    let off = file.len();
    file.extend_from_slice(&h);
    file.extend_from_slice(&Record::trailer(off as u64, &h));
    (file, off..off + h.len())
}

/// Decoding never panics; what decodes re-encodes to the same record.
fn check_record_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(rec) = Record::decode_file(bytes) {
        let h = rec.encode_header();
        prop_assert_eq!(Record::decode_header(&h, checksum(&h)), Ok(rec));
    }
    if let Ok(rec) = Record::decode_header(bytes, checksum(bytes)) {
        let h = rec.encode_header();
        prop_assert_eq!(Record::decode_header(&h, checksum(&h)), Ok(rec));
    }
    Ok(())
}

// ---------------------------------------------------------------- mutations

#[derive(Clone, Debug)]
enum Mutation {
    /// Flip bit `bit` of the byte at `at` (both taken modulo the size).
    Flip { at: usize, bit: u8 },
    /// Keep only the first `len` bytes (modulo the size).
    Truncate(usize),
    /// Append bytes.
    Extend(Vec<u8>),
    /// Overwrite bytes starting at `at`.
    Overwrite { at: usize, with: Vec<u8> },
}

fn arb_mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Extend),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..9)).prop_map(|(at, with)| Mutation::Overwrite { at, with }),
    ];
    proptest::collection::vec(one, 1..5)
}

fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        match m {
            Mutation::Flip { at, bit } if !b.is_empty() => {
                let i = at % b.len();
                b[i] ^= 1 << bit;
            }
            Mutation::Truncate(len) => b.truncate(len % (b.len() + 1)),
            Mutation::Extend(more) => b.extend_from_slice(more),
            Mutation::Overwrite { at, with } if !b.is_empty() => {
                let i = at % b.len();
                for (j, x) in with.iter().enumerate() {
                    if let Some(y) = b.get_mut(i + j) {
                        *y = *x;
                    }
                }
            }
            _ => {}
        }
    }
    b
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), lead in 0u8..4) {
        // Lead with a plausible node kind byte half the time, to get past the first check.
        let mut b = bytes.clone();
        if lead > 0 && !b.is_empty() {
            b[0] = lead;
        }
        check_node(&bytes)?;
        check_node(&b)?;
        check_record_bytes(&bytes)?;
        // A random header framed as a well-formed file reaches the header parser.
        let mut file = Record::prefix().to_vec();
        file.extend_from_slice(&bytes);
        file.extend_from_slice(&Record::trailer(PREFIX_LEN as u64, &bytes));
        check_record_bytes(&file)?;
        prop_assert_eq!(Record::decode_file(&file).is_ok(), Record::decode_header(&bytes, checksum(&bytes)).is_ok());
    }

    #[test]
    fn random_key_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40), zeros in any::<bool>()) {
        // Dense in 0x00 / 0xFF half the time: the string escape bytes.
        let b: Vec<u8> = if zeros { bytes.iter().map(|x| [0, 0xFF, b'a'][*x as usize % 3]).collect() } else { bytes };
        if let Ok(k) = u64::from_key_bytes(&b) {
            prop_assert_eq!(k.to_key_bytes(), b.clone());
        }
        if let Ok(k) = String::from_key_bytes(&b) {
            prop_assert_eq!(k.to_key_bytes(), b.clone());
        }
        let mut rest = &b[..];
        if let Ok(s) = String::decode_key(&mut rest) {
            prop_assert!(rest.len() + s.to_key_bytes().len() == b.len());
        }
    }

    #[test]
    fn valid_nodes_round_trip_and_mutations_never_panic(
        (bytes, expected) in arb_node_bytes(),
        ms in arb_mutations(),
        cut in any::<usize>(),
        more in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        prop_assert_eq!(check_node(&bytes)?, expected);
        check_node(&mutate(bytes.clone(), &ms))?;
        // A strict prefix or a longer input is always refused.
        let cut = cut % bytes.len();
        prop_assert!(Node::decode(&bytes[..cut], SEQ).is_err(), "prefix of {} bytes accepted", cut);
        let mut longer = bytes.clone();
        longer.extend_from_slice(&more);
        prop_assert!(Node::decode(&longer, SEQ).is_err(), "trailing bytes accepted");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn valid_records_round_trip_and_mutations_never_panic(
        rec in arb_record(),
        body in proptest::collection::vec(any::<u8>(), 0..16),
        ms in arb_mutations(),
        cut in any::<usize>(),
        more in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let (file, header) = record_file(&rec, &body);
        prop_assert_eq!(Record::decode_file(&file), Ok(rec.clone()));
        check_record_bytes(&mutate(file.clone(), &ms))?;
        check_record_bytes(&mutate(file[header.clone()].to_vec(), &ms))?;
        let cut = cut % file.len();
        prop_assert!(Record::decode_file(&file[..cut]).is_err(), "prefix of {} bytes accepted", cut);
        let mut longer = file.clone();
        longer.extend_from_slice(&more);
        prop_assert!(Record::decode_file(&longer).is_err(), "trailing bytes accepted");

        // Every single-bit flip is detected, except in the body (checked per blob
        // elsewhere) and the two reserved words.
        let reserved_prefix = 12..16;
        let reserved_trailer = file.len() - TRAILER_LEN + 12..file.len() - TRAILER_LEN + 16;
        let body_range = PREFIX_LEN..header.start;
        let mut bad = file.clone();
        for i in 0..file.len() {
            for bit in 0..8 {
                bad[i] ^= 1 << bit;
                let got = Record::decode_file(&bad);
                if body_range.contains(&i) || reserved_prefix.contains(&i) || reserved_trailer.contains(&i) {
                    prop_assert_eq!(got.as_ref(), Ok(&rec), "flip of bit {} at {} outside the checked bytes", bit, i);
                } else {
                    let region = if header.contains(&i) { "header" } else { "prefix/trailer" };
                    prop_assert!(got.is_err(), "{} bit flip at byte {} bit {} not detected", region, i, bit);
                }
                bad[i] ^= 1 << bit;
            }
        }
        // The header alone, under its checksum: every single-bit flip is refused.
        let h = file[header].to_vec();
        let sum = checksum(&h);
        let mut bad = h.clone();
        for i in 0..h.len() {
            for bit in 0..8 {
                bad[i] ^= 1 << bit;
                prop_assert!(Record::decode_header(&bad, sum).is_err());
                bad[i] ^= 1 << bit;
            }
        }
    }
}

/// A hand-made corpus of tricky inputs kept as plain cases.
#[test]
fn hand_picked_garbage() {
    let cases: &[&[u8]] = &[
        &[],
        &[1],
        &[2],
        &[
            1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
        &[
            2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
        &[
            2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ],
        &[1, 1, 0x80, 0x80, 0x02],
        &[
            1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0,
        ],
    ];
    for c in cases {
        let _ = check_node(c);
        assert!(Node::decode(c, SEQ).is_err(), "{c:?}");
        let _ = Record::decode_file(c);
        let _ = Record::decode_header(c, checksum(c));
    }
    // Trailer pointing before the prefix, past the end, or overflowing.
    let (file, _) = record_file(&Record::default(), b"");
    for (off, len) in [
        (0u64, 0u32),
        (u64::MAX - 10, 40),
        (u64::MAX, u32::MAX),
        (16, u32::MAX),
    ] {
        let mut bad = file.clone();
        let t = bad.len() - TRAILER_LEN;
        bad[t..t + 8].copy_from_slice(&off.to_le_bytes());
        bad[t + 8..t + 12].copy_from_slice(&len.to_le_bytes());
        assert!(Record::decode_file(&bad).is_err());
    }
}

/// Writes valid encodings as seed inputs for the cargo-fuzz targets into the
/// folder named by `SOP_FUZZ_SEEDS` (one subfolder per target); does nothing
/// when it is unset. `scripts/fuzz.sh` runs it, so that the fuzzer starts from
/// well-formed nodes, record headers (with store infos in JSON) and keys.
#[test]
fn write_fuzz_seeds() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let Some(dir) = std::env::var_os("SOP_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let mut runner = TestRunner::deterministic();
    let write = |target: &str, name: String, bytes: &[u8]| {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    };
    for i in 0..48 {
        let (node, _) = arb_node_bytes().new_tree(&mut runner).unwrap().current();
        write("decode_node", format!("node-{i:02}"), &node);
    }
    for i in 0..32 {
        let rec = arb_record().new_tree(&mut runner).unwrap().current();
        write(
            "decode_record",
            format!("header-{i:02}"),
            &rec.encode_header(),
        );
        if i % 4 == 0 {
            write(
                "decode_record",
                format!("file-{i:02}"),
                &record_file(&rec, b"body").0,
            );
        }
    }
    let keys: [&[u8]; 4] = [b"", b"a\0b", b"\0\0\0", "caf\u{e9}".as_bytes()];
    for (i, s) in keys.iter().enumerate() {
        let s = String::from_utf8(s.to_vec()).unwrap();
        let mut k = s.to_key_bytes();
        write("decode_key", format!("str-{i}"), &k);
        (i as u64 * 0x0101_0101).encode_key(&mut k);
        write("decode_key", format!("str-u64-{i}"), &k);
    }
}

// ---------------------------------------------------------------- leaf deltas

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any two leaves: the delta from one to the other, applied to the first, gives
    /// the second exactly; a damaged delta is refused or gives a well-formed leaf,
    /// never a panic.
    #[test]
    fn leaf_deltas_round_trip_and_mutations_never_panic(
        base in arb_items(),
        new in arb_items(),
        keep in any::<u16>(),
        ms in arb_mutations(),
    ) {
        // Share some items, so that the delta has unchanged items to skip.
        let mut new = new;
        for (i, (k, v)) in base.iter().enumerate() {
            if keep & (1 << (i % 16)) != 0 {
                new.insert(k.clone(), v.clone());
            }
        }
        let (Node::Leaf(b), Node::Leaf(n)) = (leaf_of(&base, Some(SEQ)), leaf_of(&new, Some(SEQ))) else {
            unreachable!()
        };
        let mut delta = Vec::new();
        prop_assert!(n.encode_delta(&b, &mut delta, usize::MAX, &mut |_| unreachable!()));
        let got = Leaf::apply_delta(&b, &delta, SEQ + 1).map_err(|e| TestCaseError::fail(e.0))?;
        prop_assert_eq!(Node::Leaf(got).encode(), Node::Leaf(n).encode());
        if let Ok(l) = Leaf::apply_delta(&b, &mutate(delta, &ms), SEQ + 1) {
            check_node(&Node::Leaf(l).encode())?;
        }
    }
}
