//! Internal nodes: separators and children.

use super::keys::*;
use super::*;

/// A separator: the smallest (key, id) of the subtree to its right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sep {
    pub key: Box<[u8]>,
    pub id: ItemId,
}

impl Sep {
    pub fn new(key: &[u8], id: ItemId) -> Sep {
        Sep {
            key: key.into(),
            id,
        }
    }
}

/// An internal node: `children.len() == seps.len() + 1`; child `i` holds items in
/// `[seps[i-1], seps[i])`. The separators' search prefixes (their first eight
/// bytes, or, when those tie, the eight after the prefix all of them share, up to
/// sixteen bytes, which the node then skips, as a leaf does) are also kept in an
/// array of their own, which the searches binary-search: the upper levels of a
/// tree stay in the CPU cache, and a node that is not costs about one memory
/// latency (its prefix lines are fetched together) instead of one per probe.
/// Keys such as `user/profile/00001234` tie on their first eight bytes all over
/// a node; a tie costs a comparison of whole keys, each behind a pointer. So the
/// separators are private: every change goes through a method that keeps the
/// array in step.
#[derive(Clone, Default, Debug)]
pub struct Internal {
    pub(super) seps: Vec<Sep>,
    pub(super) prefixes: Vec<u64>,
    pub children: Vec<NodeId>,
    /// Every separator's key starts with the same `skip` bytes (at most
    /// `MAX_SKIP`; 0 when there is none), kept big-endian in `common`.
    skip: usize,
    common: u128,
}

impl Internal {
    pub fn new(seps: Vec<Sep>, children: Vec<NodeId>) -> Internal {
        let mut n = Internal {
            seps,
            prefixes: Vec::new(),
            children,
            skip: 0,
            common: 0,
        };
        n.reindex();
        n
    }
    /// Recompute every search prefix. The node skips the prefix its separators
    /// share (the first and last bound the others) only when their first eight
    /// bytes tie somewhere: otherwise those tell them apart already, and a search
    /// need not look at the shared prefix.
    fn reindex(&mut self) {
        self.skip = 0;
        self.common = 0;
        self.prefixes.clear();
        self.prefixes
            .extend(self.seps.iter().map(|s| key_prefix(&s.key)));
        if !self.prefixes.windows(2).any(|w| w[0] == w[1]) {
            return;
        }
        let (Some(a), Some(b)) = (self.seps.first(), self.seps.last()) else {
            return;
        };
        let skip = skip_of(&a.key, &b.key);
        if skip == 0 {
            return;
        }
        self.skip = skip;
        self.common = head16(&a.key) & skip_mask(skip);
        for (p, s) in self.prefixes.iter_mut().zip(&self.seps) {
            *p = key_prefix(&s.key[skip..]);
        }
    }
    /// `sep`'s search prefix here, or `None` if it does not share the prefix the
    /// node skips (which must then shrink: `reindex`).
    fn prefix_of(&self, sep: &Sep) -> Option<u64> {
        prefix_after(&sep.key, self.skip, self.common).ok()
    }
    pub fn seps(&self) -> &[Sep] {
        &self.seps
    }
    /// Insert `sep` at `c` and `child` after it (at `c + 1`): a split child's right half.
    pub fn insert_child(&mut self, c: usize, sep: Sep, child: NodeId) {
        let prefix = self.prefix_of(&sep);
        self.seps.insert(c, sep);
        self.children.insert(c + 1, child);
        match prefix {
            Some(p) => self.prefixes.insert(c, p),
            None => self.reindex(),
        }
    }
    /// Remove child `c + 1` and the separator before it (`c`): a merged sibling.
    pub fn remove_child(&mut self, c: usize) {
        self.seps.remove(c);
        self.prefixes.remove(c);
        self.children.remove(c + 1);
    }
    pub fn set_sep(&mut self, i: usize, sep: Sep) {
        let prefix = self.prefix_of(&sep);
        self.seps[i] = sep;
        match prefix {
            Some(p) => self.prefixes[i] = p,
            None => self.reindex(),
        }
    }
    /// Split off children `mid..` (and the separators between them) into a new
    /// node; the separator that parted them, for the parent.
    pub fn split_off(&mut self, mid: usize) -> (Sep, Internal) {
        let rc = self.children.split_off(mid);
        let mut rs = self.seps.split_off(mid - 1);
        let sep = rs.remove(0);
        self.prefixes.truncate(mid - 1);
        (sep, Internal::new(rs, rc))
    }
    /// Append `sep` and all of `right` (whose items sort after it).
    pub fn append(&mut self, sep: Sep, right: &mut Internal) {
        self.seps.push(sep);
        self.seps.append(&mut right.seps);
        self.children.append(&mut right.children);
        right.prefixes.clear();
        self.reindex();
    }
    /// Move the first `k` children of `right` to the end of `self`; `sep` (the
    /// separator between the two) comes down, and becomes the new one between them.
    pub fn take_front(&mut self, right: &mut Internal, k: usize, sep: &mut Sep) {
        for _ in 0..k {
            self.seps.push(std::mem::replace(sep, right.seps.remove(0)));
            self.children.push(right.children.remove(0));
        }
        self.reindex();
        right.reindex();
    }
    /// Move the last `k` children of `left` to the front of `self`, `sep` as in
    /// `take_front`.
    pub fn take_back(&mut self, left: &mut Internal, k: usize, sep: &mut Sep) {
        for _ in 0..k {
            let last = left.seps.pop().expect("k is at most the separators");
            self.seps.insert(0, std::mem::replace(sep, last));
            self.children
                .insert(0, left.children.pop().expect("a child per separator"));
        }
        self.reindex();
        left.reindex();
    }
    /// The child whose range contains (key, id).
    #[inline]
    pub fn child_for(&self, key: &[u8], id: ItemId) -> usize {
        self.search(key, |s| {
            cmp_bytes(&s.key, key).then(s.id.cmp(&id)) != Ordering::Greater
        })
    }
    /// The leftmost child that may contain an item with key >= `key`.
    #[inline]
    pub fn child_for_key_lower(&self, key: &[u8]) -> usize {
        self.search(key, |s| cmp_bytes(&s.key, key) == Ordering::Less)
    }
    /// The rightmost child that may contain an item with key <= `key`.
    #[inline]
    pub fn child_for_key_upper(&self, key: &[u8]) -> usize {
        self.search(key, |s| cmp_bytes(&s.key, key) != Ordering::Greater)
    }
    pub fn mem_size(&self) -> usize {
        self.seps.iter().map(|s| s.key.len() + 48).sum::<usize>() + self.children.len() * 8 + 88
    }
    /// The number of separators before the target: none or all when the key
    /// does not share the skipped prefix; else those whose prefix is below the
    /// key's (found by a branch-free binary search over the prefix array, its
    /// lines fetched first), then, among those whose prefix equals the key's, the
    /// ones `before` accepts (monotone).
    #[inline]
    fn search(&self, key: &[u8], before: impl Fn(&Sep) -> bool) -> usize {
        let p = match prefix_after(key, self.skip, self.common) {
            Ok(p) => p,
            // Before the shared prefix (or a proper prefix of it): before every
            // separator; after it: after every one.
            Err(Ordering::Greater) => return self.seps.len(),
            Err(_) => return 0,
        };
        let prefixes = &self.prefixes[..];
        if prefixes.len() <= 128 {
            prefetch_all(prefixes);
        }
        let first = count_below(prefixes, p);
        let ties = prefixes[first..].iter().take_while(|&&x| x == p).count();
        first + self.seps[first..first + ties].partition_point(before)
    }
}
