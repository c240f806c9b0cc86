//! `Node::decode` on arbitrary bytes: it returns `Ok` or `Err`, never panics, and
//! whatever it accepts is a well-formed node that survives encode/decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop::test_hooks::{cmp_item, Node, ValueRef};
use std::cmp::Ordering;

/// Segment references with sequence 0 resolve to this on decode.
const SEQ: u64 = 7;

fuzz_target!(|data: &[u8]| {
    let Ok(node) = Node::decode(data, SEQ) else { return };

    // Every accessor works on a decoded node (they `expect` a valid arena).
    match &node {
        Node::Leaf(leaf) => {
            for i in 0..leaf.len() {
                let it = leaf.item(i);
                assert_eq!(leaf.key(i), it.key);
                assert_eq!(leaf.id(i), it.id);
                if i > 0 {
                    let prev = leaf.item(i - 1);
                    assert_eq!(cmp_item(prev.key, prev.id, it.key, it.id), Ordering::Less);
                }
                assert_eq!(leaf.lower_bound(it.key, it.id), i);
                assert!(leaf.lower_bound_key(it.key) <= i && i < leaf.upper_bound_key(it.key));
            }
            for i in 0..leaf.len() {
                assert!(
                    !matches!(leaf.item(i).value, ValueRef::Pending(_)),
                    "pending values never come from disk"
                );
            }
        }
        Node::Internal(n) => {
            assert!(n.children.len() >= 2);
            assert_eq!(n.children.len(), n.seps().len() + 1);
            for w in n.seps().windows(2) {
                assert_eq!(cmp_item(&w[0].key, w[0].id, &w[1].key, w[1].id), Ordering::Less);
            }
        }
    }

    // Round trip: the canonical encoding of what was decoded decodes again to
    // the same encoding (the input itself need not be canonical: varints may be
    // padded and segment sequence 0 is resolved to SEQ).
    let once = node.encode();
    let again = Node::decode(&once, SEQ).expect("re-encoded node decodes");
    assert_eq!(again.encode(), once, "encode(decode(encode(n))) != encode(n)");
    // Decoding under another sequence gives the same node: nothing is left at 0.
    let other = Node::decode(&once, SEQ + 1).expect("re-encoded node decodes");
    assert_eq!(other.encode(), once);
});
