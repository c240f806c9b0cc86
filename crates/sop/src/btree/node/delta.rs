//! Leaf deltas: a leaf image that holds only the items that differ from an
//! earlier full image of the same leaf (its *base*), so a commit that changes a
//! few items of a leaf writes those items, not the whole leaf.
//!
//! Byte format (docs/FORMAT.md, "Leaf delta"):
//! ```text
//! 03                      kind
//! n                       change count (varint)
//! n times, in strictly increasing (key, item id) order:
//!   00 record             put: the item (key length, key, item id, value), as in a leaf
//!   01 klen key id        remove: the base's item with this key and id
//! ```
//! A delta is always relative to a full image (never to another delta): the
//! registry handle of a leaf names both, and applying the delta to the base is one
//! merge of two sorted sequences, as cheap as decoding the leaf.

use super::*;

pub const KIND_DELTA: u8 = 3;
const OP_PUT: u8 = 0;
const OP_REMOVE: u8 = 1;

impl Leaf {
    /// Encode this leaf as a delta against `base` into `out` (which it clears),
    /// if that takes at most `limit` bytes; false (and `out` unspecified) if not.
    /// `resolve` turns each `Pending` value into its final reference. Items are
    /// compared by their encoded records, so an item whose value was rewritten with
    /// the same bytes is not a change.
    pub fn encode_delta(
        &self,
        base: &Leaf,
        out: &mut Vec<u8>,
        limit: usize,
        resolve: &mut dyn FnMut(u32) -> ValueRef<'static>,
    ) -> bool {
        // The changes first; the kind and count go in front once the count is known
        // (a delta is small, so moving it costs little).
        out.clear();
        let (mut i, mut j, mut n) = (0usize, 0usize, 0u64);
        while i < base.len() || j < self.len() {
            let ord = if i == base.len() {
                Ordering::Greater
            } else if j == self.len() {
                Ordering::Less
            } else {
                cmp_item(base.key(i), base.id(i), self.key(j), self.id(j))
            };
            match ord {
                Ordering::Less => {
                    out.push(OP_REMOVE);
                    put_varint(out, base.key(i).len() as u64);
                    out.extend_from_slice(base.key(i));
                    put_u128(out, base.id(i));
                    i += 1;
                    n += 1;
                }
                Ordering::Greater => {
                    out.push(OP_PUT);
                    self.encode_record(j, out, resolve);
                    j += 1;
                    n += 1;
                }
                Ordering::Equal => {
                    if !self.same_record(j, base, i) {
                        out.push(OP_PUT);
                        self.encode_record(j, out, resolve);
                        n += 1;
                    }
                    i += 1;
                    j += 1;
                }
            }
            if out.len() > limit {
                return false;
            }
        }
        let mut head = vec![KIND_DELTA];
        put_varint(&mut head, n);
        out.splice(0..0, head);
        out.len() <= limit
    }

    /// Whether item `j` of this leaf, whose key and id equal those of item `i` of
    /// `other`, has the same value too (a pending value never does: it is new).
    fn same_record(&self, j: usize, other: &Leaf, i: usize) -> bool {
        let at = |l: &Leaf, k: usize| (l.locs[k].key_off + l.locs[k].key_len) as usize + 16;
        let (a, b) = (at(self, j), at(other, i));
        self.arena[a] != TAG_PENDING && self.value_at(a) == other.value_at(b)
    }

    /// Append item `j`'s record to `out`, its pending value resolved.
    fn encode_record(
        &self,
        j: usize,
        out: &mut Vec<u8>,
        resolve: &mut dyn FnMut(u32) -> ValueRef<'static>,
    ) {
        self.encode_slot(self.locs[j], out, resolve);
    }

    /// The leaf `base` becomes with the delta image `bytes` (read from commit
    /// segment `seq`) applied. The result is compact. Never panics on arbitrary
    /// bytes: a bad delta (see `decode_changes`) or a removal of an item the base
    /// lacks is an error.
    pub fn apply_delta(base: &Leaf, bytes: &[u8], seq: u64) -> Result<Leaf, CodecError> {
        let changes = decode_changes(bytes, seq)?;
        let mut out = Leaf {
            arena: Vec::with_capacity(base.arena.len() - base.dead + bytes.len()),
            prefixes: Vec::with_capacity(base.len() + changes.len()),
            locs: Vec::with_capacity(base.len() + changes.len()),
            dead: 0,
            skip: base.skip,
            common: base.common,
        };
        let mut i = 0;
        for c in &changes {
            while i < base.len() && cmp_item(base.key(i), base.id(i), c.key, c.id) == Ordering::Less
            {
                out.push_copy(base, i);
                i += 1;
            }
            let present = i < base.len() && base.id(i) == c.id && base.key(i) == c.key;
            if present {
                i += 1;
            }
            match &c.value {
                Some(v) => out.push(c.key, c.id, v),
                None if present => {}
                None => {
                    return Err(CodecError::new(
                        "leaf delta removes an item its base does not hold",
                    ))
                }
            }
        }
        while i < base.len() {
            out.push_copy(base, i);
            i += 1;
        }
        if out.is_empty() {
            out.skip = 0;
            out.common = 0;
        }
        out.fit_skip();
        Ok(out)
    }

    /// About the bytes this leaf's full image takes (a pending value counts as its
    /// 5-byte in-memory reference, not the 29-byte one it is written as).
    pub fn encoded_len(&self) -> usize {
        1 + varint_len(self.len() as u64) + (self.arena.len() - self.dead)
    }
}

/// One change of a leaf delta: the item put (`value` set) or removed.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub key: &'a [u8],
    pub id: ItemId,
    pub value: Option<ValueRef<'a>>,
}

/// The changes of the delta image `bytes`, read from commit segment `seq` (its
/// segment value references with sequence 0 are resolved to `seq`). Never panics
/// on arbitrary bytes: a wrong kind, a change out of order, a bad record or
/// trailing bytes are errors.
pub fn decode_changes(bytes: &[u8], seq: u64) -> Result<Vec<Change<'_>>, CodecError> {
    let mut r = Reader::new(bytes);
    if r.u8()? != KIND_DELTA {
        return Err(CodecError::new("not a leaf delta"));
    }
    // The smallest change: a removal of an empty key (op, length, item id).
    let n = r.count(18)?;
    let mut out: Vec<Change<'_>> = Vec::with_capacity(n);
    for _ in 0..n {
        let c = match r.u8()? {
            OP_PUT => {
                let it = decode_record(&mut r, false)?;
                let value = match it.value {
                    ValueRef::Segment {
                        seq: 0,
                        off,
                        len,
                        checksum,
                    } => ValueRef::Segment {
                        seq,
                        off,
                        len,
                        checksum,
                    },
                    v => v,
                };
                Change {
                    key: it.key,
                    id: it.id,
                    value: Some(value),
                }
            }
            OP_REMOVE => {
                let klen = r.len_prefix()?;
                if klen > MAX_KEY_LEN {
                    return Err(CodecError::new(format!(
                        "key length {klen} exceeds the maximum"
                    )));
                }
                Change {
                    key: r.take(klen)?,
                    id: r.u128()?,
                    value: None,
                }
            }
            op => return Err(CodecError::new(format!("unknown delta operation {op}"))),
        };
        if let Some(p) = out.last() {
            if cmp_item(p.key, p.id, c.key, c.id) != Ordering::Less {
                return Err(CodecError::new("leaf delta changes out of order"));
            }
        }
        out.push(c);
    }
    if !r.is_empty() {
        return Err(CodecError::new("trailing bytes after leaf delta"));
    }
    Ok(out)
}

/// The value references a node image (full or delta) read from segment `seq`
/// holds, without its base; `None` if the image does not decode.
pub fn image_values(bytes: &[u8], seq: u64, f: &mut dyn FnMut(&ValueRef<'_>)) -> Option<()> {
    if bytes.first() == Some(&KIND_DELTA) {
        for c in decode_changes(bytes, seq).ok()? {
            if let Some(v) = &c.value {
                f(v);
            }
        }
        return Some(());
    }
    if let Node::Leaf(l) = Node::decode(bytes, seq).ok()? {
        for i in 0..l.len() {
            f(&l.item(i).value);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    type Model = BTreeMap<(Vec<u8>, ItemId), Vec<u8>>;

    fn leaf_of(m: &Model) -> Leaf {
        let mut l = Leaf::default();
        for ((k, id), v) in m {
            l.push(k, *id, &ValueRef::Inline(v));
        }
        l
    }

    fn model_of(l: &Leaf) -> Model {
        (0..l.len())
            .map(|i| {
                let it = l.item(i);
                let ValueRef::Inline(v) = it.value else {
                    panic!("inline values only")
                };
                ((it.key.to_vec(), it.id), v.to_vec())
            })
            .collect()
    }

    fn no_pending(_: u32) -> ValueRef<'static> {
        unreachable!("no pending values")
    }

    /// Any base, any set of changes: the delta applied to the base gives the new
    /// leaf exactly (items, values, and every search), and a delta over its limit
    /// is refused.
    #[test]
    fn a_delta_applied_to_its_base_gives_the_new_leaf() {
        let mut rng = fastrand::Rng::with_seed(5);
        for round in 0..400 {
            let n = rng.usize(0..80);
            let prefix: &[u8] = if round % 2 == 0 {
                b"common/prefix/"
            } else {
                b""
            };
            let key = |rng: &mut fastrand::Rng| {
                let mut k = prefix.to_vec();
                k.extend_from_slice(format!("{:05}", rng.u32(0..200)).as_bytes());
                k
            };
            let mut base: Model = BTreeMap::new();
            for _ in 0..n {
                base.insert(
                    (key(&mut rng), rng.u128(0..3)),
                    vec![rng.u8(..); rng.usize(0..40)],
                );
            }
            let mut new = base.clone();
            for _ in 0..rng.usize(0..12) {
                match rng.u8(0..3) {
                    0 => {
                        new.insert(
                            (key(&mut rng), rng.u128(0..3)),
                            vec![rng.u8(..); rng.usize(0..40)],
                        );
                    }
                    1 => {
                        if let Some(k) = new.keys().nth(rng.usize(0..new.len().max(1))).cloned() {
                            new.remove(&k);
                        }
                    }
                    _ => {
                        if let Some(k) = new.keys().nth(rng.usize(0..new.len().max(1))).cloned() {
                            new.insert(k, b"changed".to_vec());
                        }
                    }
                }
            }
            if round % 7 == 0 {
                new.clear();
            }
            let (bl, nl) = (leaf_of(&base), leaf_of(&new));
            let mut out = Vec::new();
            assert!(nl.encode_delta(&bl, &mut out, usize::MAX, &mut no_pending));
            let got = Leaf::apply_delta(&bl, &out, 9).unwrap();
            assert_eq!(model_of(&got), new, "round {round}");
            let items: Vec<(Vec<u8>, ItemId)> = new.keys().cloned().collect();
            super::super::tests::check_searches(&got, &items, "applied delta");
            // Unchanged leaves give an empty delta.
            assert!(bl.encode_delta(&bl, &mut out, usize::MAX, &mut no_pending));
            assert_eq!(out, [KIND_DELTA, 0]);
            // Over the limit: refused.
            if base != new {
                assert!(!nl.encode_delta(&bl, &mut out, 2, &mut no_pending));
            }
        }
    }

    #[test]
    fn a_bad_delta_is_an_error_never_a_panic() {
        let mut base: Model = BTreeMap::new();
        for i in 0..20u32 {
            base.insert((format!("k{i:03}").into_bytes(), 0), b"v".to_vec());
        }
        let bl = leaf_of(&base);
        let mut new = base.clone();
        new.remove(&(b"k005".to_vec(), 0));
        new.insert((b"k100".to_vec(), 0), b"w".to_vec());
        let mut out = Vec::new();
        assert!(leaf_of(&new).encode_delta(&bl, &mut out, usize::MAX, &mut no_pending));
        for i in 0..out.len() {
            for bit in [0x01, 0x10, 0x80] {
                let mut bad = out.clone();
                bad[i] ^= bit;
                let _ = Leaf::apply_delta(&bl, &bad, 1);
            }
            let _ = Leaf::apply_delta(&bl, &out[..i], 1);
        }
        // Removing an item the base lacks is refused.
        let mut other = Vec::new();
        assert!(bl.encode_delta(&leaf_of(&new), &mut other, usize::MAX, &mut no_pending));
        assert!(Leaf::apply_delta(&bl, &other, 1).is_err());
    }
}
