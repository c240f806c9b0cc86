//! `Leaf::apply_delta` on arbitrary bytes: the input is split into a base node
//! image and a delta image. Applying never panics; whatever it accepts is a
//! well-formed leaf (items in order, every search agrees) that survives
//! encode/decode unchanged, and re-encoding it as a delta of the same base gives
//! a delta that applies to the same leaf.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop::test_hooks::{cmp_item, Leaf, Node};
use std::cmp::Ordering;

const SEQ: u64 = 7;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |n| *n as usize % (data.len() + 1));
    let (base, delta) = data.split_at(cut);
    let base = match Node::decode(base.get(1..).unwrap_or_default(), SEQ) {
        Ok(Node::Leaf(l)) => l,
        _ => Leaf::default(),
    };
    let Ok(leaf) = Leaf::apply_delta(&base, delta, SEQ + 1) else { return };
    for i in 0..leaf.len() {
        let it = leaf.item(i);
        if i > 0 {
            let prev = leaf.item(i - 1);
            assert_eq!(cmp_item(prev.key, prev.id, it.key, it.id), Ordering::Less);
        }
        assert_eq!(leaf.lower_bound(it.key, it.id), i);
    }
    let once = Node::Leaf(leaf).encode();
    let Ok(Node::Leaf(leaf)) = Node::decode(&once, SEQ + 1) else { panic!("re-encoded leaf fails") };
    let mut again = Vec::new();
    assert!(leaf.encode_delta(&base, &mut again, usize::MAX, &mut |_| unreachable!()));
    let back = Leaf::apply_delta(&base, &again, SEQ + 1).expect("a fresh delta applies");
    assert_eq!(Node::Leaf(back).encode(), once);
});
