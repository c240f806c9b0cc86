//! B+tree algorithms: search, cursor steps, insert with split (or leaf load
//! balancing), remove with merge/borrow. The root's logical ID never changes:
//! a root split moves the old root's content into a new child, and a root with a
//! single child absorbs it.

use super::node::{cmp_bytes, Internal, ItemId, Leaf, Node, NodeId, Sep, ValueRef};
use crate::error::Result;
use std::sync::Arc;

/// Where the tree reads nodes. Read algorithms (descents and cursor steps) need
/// nothing more, so a reader that never writes can borrow nodes instead of
/// cloning their `Arc`s.
pub trait NodeRead {
    /// The node, borrowed from wherever the reader keeps it.
    fn node(&mut self, id: NodeId) -> Result<&Arc<Node>>;
    /// A scan is about to read `ids` (siblings, nearest first): a store whose
    /// reads are round trips may fetch them together. Nothing by default.
    fn prefetch(&mut self, _ids: &[NodeId]) {}
}

/// Where the tree reads and writes nodes (a transaction's view of one store).
pub trait NodeStore: NodeRead {
    /// The node, as a shared handle (kept while the store is changed).
    fn get(&mut self, id: NodeId) -> Result<Arc<Node>> {
        self.node(id).cloned()
    }
    /// The node, made private to this writer (copy-on-write) and marked dirty.
    fn get_mut(&mut self, id: NodeId) -> Result<&mut Node>;
    /// Replace the content of node `id` (marked dirty) without copying the old one.
    fn replace(&mut self, id: NodeId, node: Node) -> Result<()>;
    fn alloc(&mut self, node: Node) -> NodeId;
    fn free(&mut self, id: NodeId);
    /// A number that changes whenever the tree's shape may have changed: an
    /// internal node changed, or a node was allocated, freed or replaced (so the
    /// leaf that holds a key, and the separators around it, may be different).
    /// Changes to a leaf's items alone leave it. 0 disables `Finger`s.
    fn shape(&self) -> u64 {
        0
    }
    /// This store as a trait object (for the rarely taken paths: splits, merges).
    fn as_dyn(&mut self) -> &mut dyn NodeStore;
}

/// Where the last descent of a writer ended: the path, the leaf, and the keys of
/// the separators bounding that leaf. An operation on a key strictly between
/// those keys ends in the same leaf whatever its target (every separator above
/// the leaf sorts wholly before or after the key), so it starts there instead of
/// descending again, as long as the tree's shape is unchanged. Runs of nearby
/// keys (a bulk load in key order, deleting a range) then skip nearly every
/// descent. `last_insert` remembers where the last insert went, so that a leaf
/// split during an ascending run can split at the run's point.
#[derive(Clone, Debug, Default)]
pub struct Finger {
    /// `NodeStore::shape` when taken; 0 when empty.
    shape: u64,
    path: Path,
    leaf: NodeId,
    bounds: Bounds,
    /// The last insert: its leaf and index, and the shape then.
    last_insert: Option<(u64, NodeId, usize)>,
}

impl Finger {
    /// Does the finger's leaf hold every position for `key` (shape `shape`)?
    fn covers(&self, shape: u64, key: &[u8]) -> bool {
        self.shape != 0 && self.shape == shape && self.bounds.covers(key)
    }

    /// Whether an insert at `idx` of `leaf` continues an ascending run: the last
    /// insert went just before it, into the same leaf, with nothing reshaped since.
    fn continues_run(&self, shape: u64, leaf: NodeId, idx: usize) -> bool {
        idx > 0 && self.last_insert == Some((shape, leaf, idx - 1))
    }
}

/// The keys of the separators bounding the leaf a descent reached (`None` at
/// the tree's edge), for a finger (a writer's, above, or a reader's, in the
/// memo): a key strictly between them lands in that leaf whatever its target.
/// Taking them costs a copy at every level, so after a run of descents they did
/// not cover (random keys) they are taken only now and then, until they cover
/// again.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    lo: Option<Vec<u8>>,
    hi: Option<Vec<u8>>,
    /// Which bounds the descent under way has taken.
    took: (bool, bool),
    /// Descents in a row the bounds did not cover.
    misses: u32,
}

impl Bounds {
    /// Whether `key` lies strictly between the bounds.
    #[inline]
    pub fn covers(&self, key: &[u8]) -> bool {
        self.lo
            .as_deref()
            .is_none_or(|lo| cmp_bytes(lo, key) == std::cmp::Ordering::Less)
            && self
                .hi
                .as_deref()
                .is_none_or(|hi| cmp_bytes(key, hi) == std::cmp::Ordering::Less)
    }

    /// A lookup the bounds covered.
    #[inline]
    pub fn hit(&mut self) {
        self.misses = 0;
    }

    /// A descent the bounds did not cover: whether it should take them (always
    /// after a few misses in a row, then one descent in sixteen).
    #[inline]
    pub fn miss(&mut self) -> bool {
        self.misses = self.misses.saturating_add(1);
        self.misses <= 8 || self.misses & 15 == 0
    }

    /// Start taking the bounds of a descent.
    #[inline]
    pub fn begin(&mut self) {
        self.took = (false, false);
    }

    /// The descent took child `c` of internal node `n`: its separators bound the
    /// leaf below (a deeper one more tightly than any above it).
    #[inline]
    pub fn note(&mut self, n: &Internal, c: usize) {
        fn set(b: &mut Option<Vec<u8>>, key: &[u8]) {
            let v = b.get_or_insert_with(Vec::new);
            v.clear();
            v.extend_from_slice(key);
        }
        if c > 0 {
            set(&mut self.lo, &n.seps()[c - 1].key);
            self.took.0 = true;
        }
        if let Some(s) = n.seps().get(c) {
            set(&mut self.hi, &s.key);
            self.took.1 = true;
        }
    }

    /// The descent reached its leaf: a side no separator bounded is the tree's edge.
    #[inline]
    pub fn end(&mut self) {
        if !self.took.0 {
            self.lo = None;
        }
        if !self.took.1 {
            self.hi = None;
        }
    }
}

/// `dst` made a copy of `src` (paths are short: element by element beats a
/// generic slice copy).
#[inline]
pub fn copy_path(dst: &mut Path, src: &Path) {
    dst.clear();
    for &e in src {
        dst.push(e);
    }
}

/// `descend_into` for `target` (whose key is `key`), starting from the finger's
/// leaf when it covers `key`; the finger is left at the leaf reached. Whether the
/// finger was used.
pub fn descend_fingered<N: NodeStore + ?Sized>(
    ns: &mut N,
    t: &Tree,
    target: Target<'_>,
    key: &[u8],
    pos: &mut Pos,
    f: &mut Finger,
) -> Result<bool> {
    Ok(descend_fingered_with(ns, t, target, key, pos, f, |_, _| ())?.0)
}

/// `descend_fingered`, then `at(leaf, index)` on the leaf reached, in the same
/// lookup of it: whether the finger was used, and what `at` returned.
#[inline]
pub fn descend_fingered_with<N: NodeStore + ?Sized, R>(
    ns: &mut N,
    t: &Tree,
    target: Target<'_>,
    key: &[u8],
    pos: &mut Pos,
    f: &mut Finger,
    at: impl FnOnce(&Leaf, usize) -> R,
) -> Result<(bool, R)> {
    let shape = ns.shape();
    if f.covers(shape, key) {
        f.bounds.hit();
        copy_path(&mut pos.path, &f.path);
        pos.leaf = f.leaf;
        // The finger's leaf was used by the last operation: no need to prefetch it.
        let l = leaf(ns.node(f.leaf)?);
        pos.idx = leaf_index_in(l, target, true);
        return Ok((true, at(l, pos.idx)));
    }
    f.shape = 0;
    if !f.bounds.miss() {
        descend_into(ns, t, target, pos)?;
        let r = at(leaf(ns.node(pos.leaf)?), pos.idx);
        return Ok((false, r));
    }
    pos.path.clear();
    f.bounds.begin();
    let mut id = t.root;
    let r = loop {
        match &**ns.node(id)? {
            Node::Internal(n) => {
                let c = child_index(n, target);
                f.bounds.note(n, c);
                pos.path.push((id, c));
                id = n.children[c];
            }
            Node::Leaf(l) => {
                pos.leaf = id;
                pos.idx = leaf_index(l, target);
                break at(l, pos.idx);
            }
        }
    };
    f.bounds.end();
    f.path.clone_from(&pos.path);
    f.leaf = pos.leaf;
    f.shape = shape;
    Ok((false, r))
}

#[derive(Clone, Copy, Debug)]
pub struct Tree {
    pub root: NodeId,
    pub max: usize,
    pub balance: bool,
}

impl Tree {
    fn min_items(&self) -> usize {
        (self.max / 4).max(1)
    }
    fn min_children(&self) -> usize {
        (self.max / 4).max(2)
    }
}

/// The internal nodes walked from the root, each with the child index taken; kept
/// inline up to a depth of eight (a tree of 64-slot nodes that deep holds 2^48
/// items), so a descent allocates nothing.
pub type Path = smallvec::SmallVec<[(NodeId, usize); 8]>;

/// A position: the internal nodes walked (with the child index taken), the leaf,
/// and an index into it (may equal the leaf's length: "just past its end").
#[derive(Clone, Debug, Default)]
pub struct Pos {
    pub path: Path,
    pub leaf: NodeId,
    pub idx: usize,
}

#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// First item >= (key, id).
    Item(&'a [u8], ItemId),
    /// First item with key >= key.
    KeyGe(&'a [u8]),
    /// First item with key > key.
    KeyGt(&'a [u8]),
    First,
    /// Past the last item.
    End,
}

impl Target<'_> {
    /// The key the target names, if it names one.
    #[inline]
    pub fn key(&self) -> Option<&[u8]> {
        match *self {
            Target::Item(k, _) | Target::KeyGe(k) | Target::KeyGt(k) => Some(k),
            Target::First | Target::End => None,
        }
    }
}

fn leaf(n: &Node) -> &Leaf {
    match n {
        Node::Leaf(l) => l,
        Node::Internal(_) => panic!("expected a leaf"),
    }
}

/// Walk from the root to the leaf for `target`.
pub fn descend<N: NodeRead + ?Sized>(ns: &mut N, t: &Tree, target: Target<'_>) -> Result<Pos> {
    let mut pos = Pos::default();
    descend_into(ns, t, target, &mut pos)?;
    Ok(pos)
}

/// The child of internal node `n` a descent for `target` takes.
#[inline]
pub fn child_index(n: &Internal, target: Target<'_>) -> usize {
    match target {
        Target::Item(k, i) => n.child_for(k, i),
        Target::KeyGe(k) => n.child_for_key_lower(k),
        Target::KeyGt(k) => n.child_for_key_upper(k),
        Target::First => 0,
        Target::End => n.children.len() - 1,
    }
}

/// Where in leaf `l` a descent for `target` ends.
#[inline]
pub fn leaf_index(l: &Leaf, target: Target<'_>) -> usize {
    leaf_index_in(l, target, false)
}

/// `leaf_index`; `hot`: the leaf was just used, so its arrays are not prefetched.
#[inline]
pub fn leaf_index_in(l: &Leaf, target: Target<'_>, hot: bool) -> usize {
    match target {
        Target::Item(k, i) => l.lower_bound_in(k, i, hot),
        Target::KeyGe(k) => l.lower_bound_key_in(k, hot),
        Target::KeyGt(k) => l.upper_bound_key(k),
        Target::First => 0,
        Target::End => l.len(),
    }
}

/// `descend`, into `pos` (whose path buffer is reused).
pub fn descend_into<N: NodeRead + ?Sized>(
    ns: &mut N,
    t: &Tree,
    target: Target<'_>,
    pos: &mut Pos,
) -> Result<()> {
    let mut id = t.root;
    let path = &mut pos.path;
    path.clear();
    loop {
        match &**ns.node(id)? {
            Node::Internal(n) => {
                let c = child_index(n, target);
                path.push((id, c));
                id = n.children[c];
            }
            Node::Leaf(l) => {
                pos.leaf = id;
                pos.idx = leaf_index(l, target);
                return Ok(());
            }
        }
    }
}

/// Move to the first item of the next non-empty leaf. False at the end (pos unchanged).
pub fn next_leaf<N: NodeRead + ?Sized>(ns: &mut N, pos: &mut Pos) -> Result<bool> {
    adjacent_leaf(ns, pos, true)
}

/// Move to the last item of the previous non-empty leaf. False at the start.
pub fn prev_leaf<N: NodeRead + ?Sized>(ns: &mut N, pos: &mut Pos) -> Result<bool> {
    adjacent_leaf(ns, pos, false)
}

/// How many leaves a scan moving into a leaf not yet read asks to be fetched
/// together (`NodeRead::prefetch`).
pub const SCAN_PREFETCH: usize = 16;

/// The neighbouring non-empty leaf in one direction: climb to the nearest ancestor
/// with a sibling on that side, then descend along the near edge (leftmost going
/// forward, rightmost going back). `pos` is unchanged when there is none.
fn adjacent_leaf<N: NodeRead + ?Sized>(ns: &mut N, pos: &mut Pos, forward: bool) -> Result<bool> {
    let mut path = pos.path.clone();
    while let Some((pid, c)) = path.pop() {
        let Node::Internal(p) = &**ns.node(pid)? else {
            unreachable!()
        };
        let sibling = if forward {
            Some(c + 1).filter(|s| *s < p.children.len())
        } else {
            c.checked_sub(1)
        };
        let Some(sc) = sibling else { continue };
        if path.len() + 1 == pos.path.len() {
            // The leaf's own parent: the next leaves of a scan are siblings.
            let ids: Vec<NodeId> = if forward {
                p.children[sc..(sc + SCAN_PREFETCH).min(p.children.len())].to_vec()
            } else {
                p.children[sc.saturating_sub(SCAN_PREFETCH - 1)..=sc]
                    .iter()
                    .rev()
                    .copied()
                    .collect()
            };
            ns.prefetch(&ids);
        }
        let Node::Internal(p) = &**ns.node(pid)? else {
            unreachable!()
        };
        path.push((pid, sc));
        let mut id = p.children[sc];
        loop {
            let len = match &**ns.node(id)? {
                Node::Internal(i) => {
                    let edge = if forward { 0 } else { i.children.len() - 1 };
                    path.push((id, edge));
                    id = i.children[edge];
                    continue;
                }
                Node::Leaf(l) => l.len(),
            };
            let mut here = Pos {
                path,
                leaf: id,
                idx: 0,
            };
            if len == 0 {
                // Skip an empty leaf (only transiently possible) the same way.
                if adjacent_leaf(ns, &mut here, forward)? {
                    *pos = here;
                    return Ok(true);
                }
                return Ok(false);
            }
            here.idx = if forward { 0 } else { len - 1 };
            *pos = here;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Make `pos` point at an item, moving forward past leaf ends. False if none is left.
pub fn settle_forward<N: NodeRead + ?Sized>(ns: &mut N, pos: &mut Pos) -> Result<bool> {
    if pos.idx < leaf(ns.node(pos.leaf)?).len() {
        return Ok(true);
    }
    next_leaf(ns, pos)
}

/// Move `pos` one item back. False if it was at the first item (or before).
pub fn step_back<N: NodeRead + ?Sized>(ns: &mut N, pos: &mut Pos) -> Result<bool> {
    if pos.idx > 0 {
        let len = leaf(ns.node(pos.leaf)?).len();
        pos.idx = (pos.idx - 1).min(len.saturating_sub(1));
        if len > 0 {
            return Ok(true);
        }
    }
    prev_leaf(ns, pos)
}

/// Move `pos` one item forward. False at the end.
pub fn step_forward<N: NodeRead + ?Sized>(ns: &mut N, pos: &mut Pos) -> Result<bool> {
    pos.idx += 1;
    settle_forward(ns, pos)
}

/// Insert an item (its (key, id) must not be present).
pub fn insert(
    ns: &mut dyn NodeStore,
    t: &Tree,
    key: &[u8],
    id: ItemId,
    value: &ValueRef<'_>,
) -> Result<()> {
    let pos = descend(ns, t, Target::Item(key, id))?;
    insert_at(ns, t, &pos, key, id, value)
}

/// Insert an item at `pos`, the position `descend(Target::Item(key, id))` gives.
pub fn insert_at(
    ns: &mut dyn NodeStore,
    t: &Tree,
    pos: &Pos,
    key: &[u8],
    id: ItemId,
    value: &ValueRef<'_>,
) -> Result<()> {
    insert_at_fingered(ns, t, pos, key, id, value, None)
}

/// `insert_at`, noting the insert in `f` (a split then follows the run of
/// inserts: `after_insert`).
pub fn insert_at_fingered<N: NodeStore + ?Sized>(
    ns: &mut N,
    t: &Tree,
    pos: &Pos,
    key: &[u8],
    id: ItemId,
    value: &ValueRef<'_>,
    f: Option<&mut Finger>,
) -> Result<()> {
    let shape = ns.shape();
    let Node::Leaf(l) = ns.get_mut(pos.leaf)? else {
        unreachable!()
    };
    l.insert(pos.idx, key, id, value);
    let at = Inserted {
        shape,
        leaf: pos.leaf,
        idx: pos.idx,
        len: l.len(),
    };
    after_insert(ns.as_dyn(), t, at, Some(&pos.path), f)
}

/// Where an insert went: the tree's shape then, the leaf, the new item's index
/// and the leaf's length with it.
struct Inserted {
    shape: u64,
    leaf: NodeId,
    idx: usize,
    len: usize,
}

/// After an insert: note it in the finger `f`, or, if the leaf overflows, split
/// it, `path` leading to it (`None`: the finger's own path, the insert having
/// gone through the finger). A leaf that overflows while inserts run in
/// ascending order (each just after the last) is split right after the new
/// item, not in the middle: the run goes on filling the left leaf, so leaves
/// loaded in key order end up full instead of half full.
#[inline]
fn after_insert(
    ns: &mut dyn NodeStore,
    t: &Tree,
    at: Inserted,
    path: Option<&Path>,
    f: Option<&mut Finger>,
) -> Result<()> {
    let run = f
        .as_deref()
        .is_some_and(|f| f.continues_run(at.shape, at.leaf, at.idx));
    if at.len <= t.max {
        if let Some(f) = f {
            f.last_insert = Some((at.shape, at.leaf, at.idx));
        }
        return Ok(());
    }
    let path = match (path, f) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => f.path.clone(),
        (None, None) => unreachable!("an insert through a finger names it"),
    };
    // In a run, the new item ends the left leaf (or, at the leaf's end, starts the right).
    let split_at = run.then_some((at.idx + 1).min(at.len - 1));
    fix_overflow(ns, t, path, at.leaf, split_at)
}

/// An insert of a new item through the finger alone, for a caller that writes
/// the leaf holding `key` whatever it finds there (an upsert): when the finger
/// covers `key`, its leaf is taken for writing at once (one lookup, no path
/// copied) and, if no item with `key` is in it, (key, id) is inserted: `true`.
/// `false` when the finger does not cover `key` (nothing done) or an item with
/// `key` is there (the leaf was taken for writing): the caller then does the
/// general put.
pub fn insert_new_fingered<N: NodeStore + ?Sized>(
    ns: &mut N,
    t: &Tree,
    key: &[u8],
    id: ItemId,
    value: &ValueRef<'_>,
    f: &mut Finger,
) -> Result<bool> {
    let shape = ns.shape();
    if !f.covers(shape, key) {
        return Ok(false);
    }
    let leaf_id = f.leaf;
    let Node::Leaf(l) = ns.get_mut(leaf_id)? else {
        unreachable!()
    };
    // A run of inserts goes on just after the last one: two comparisons with the
    // items around that place settle it (and that no item there has `key`).
    let next = match f.last_insert {
        Some((s, lf, i)) if s == shape && lf == leaf_id && i < l.len() => {
            let after = i + 1;
            (cmp_bytes(l.key(i), key).is_lt()
                && (after == l.len() || cmp_bytes(key, l.key(after)).is_lt()))
            .then_some(after)
        }
        _ => None,
    };
    let idx = match next {
        Some(idx) => idx,
        None => {
            let idx = l.lower_bound_in(key, id, true);
            if (idx > 0 && l.key_is(idx - 1, key)) || (idx < l.len() && l.key_is(idx, key)) {
                return Ok(false);
            }
            idx
        }
    };
    f.bounds.hit();
    l.insert(idx, key, id, value);
    let at = Inserted {
        shape,
        leaf: leaf_id,
        idx,
        len: l.len(),
    };
    after_insert(ns.as_dyn(), t, at, None, Some(f))?;
    Ok(true)
}

/// What `remove_fingered` did.
pub enum FingerRemove {
    /// The finger does not cover the key: nothing done.
    NotCovered,
    /// No item has the key.
    Absent,
    /// The first item with the key was removed; its value's big-value blobs, if
    /// it had any.
    Removed(Option<crate::btree::node::BigBlobs>),
}

/// A removal of the first item with `key` through the finger alone: when the
/// finger covers `key`, every item with it is in the finger's leaf (the next
/// leaf's items are past the bound above), so one look there tells, and the leaf
/// is taken for writing only if an item goes (no path copied but to fix an
/// underflow).
pub fn remove_fingered<N: NodeStore + ?Sized>(
    ns: &mut N,
    t: &Tree,
    key: &[u8],
    f: &mut Finger,
) -> Result<FingerRemove> {
    let shape = ns.shape();
    if !f.covers(shape, key) {
        return Ok(FingerRemove::NotCovered);
    }
    f.bounds.hit();
    let leaf_id = f.leaf;
    let (idx, blob) = {
        let l = leaf(ns.node(leaf_id)?);
        let idx = l.lower_bound_key_in(key, true);
        if idx >= l.len() || !l.key_is(idx, key) {
            return Ok(FingerRemove::Absent);
        }
        (idx, l.big_blobs(idx))
    };
    let Node::Leaf(l) = ns.get_mut(leaf_id)? else {
        unreachable!()
    };
    l.remove(idx);
    if !f.path.is_empty() && l.len() < t.min_items() {
        fix_underflow(ns.as_dyn(), t, f.path.clone(), leaf_id)?;
    }
    Ok(FingerRemove::Removed(blob))
}

/// One descent for a write of (key, id): its insertion position, and whether the
/// item there is the first with `key`. `None` when an item with `key` may lie
/// before the position or past the end of its leaf; the caller then searches by
/// key (`Target::KeyGe`). Items of a leaf lie in `[lo, hi)` for the nearest
/// separators above it, so a neighbour leaf can hold `key` only if that bounding
/// separator has `key` itself (never when the finger covered `key`: it lies
/// strictly between them).
pub fn put_position<N: NodeStore + ?Sized>(
    ns: &mut N,
    t: &Tree,
    key: &[u8],
    id: ItemId,
    f: &mut Finger,
    pos: &mut Pos,
) -> Result<Option<bool>> {
    let (inside, (before, here, len)) =
        descend_fingered_with(ns, t, Target::Item(key, id), key, pos, f, |l, i| {
            (
                i > 0 && l.key_is(i - 1, key),
                i < l.len() && l.key_is(i, key),
                l.len(),
            )
        })?;
    if before || (pos.idx == 0 && !inside && bounding_sep_has(ns, &pos.path, false, key)?) {
        return Ok(None);
    }
    if pos.idx < len {
        return Ok(Some(here));
    }
    if !inside && bounding_sep_has(ns, &pos.path, true, key)? {
        return Ok(None);
    }
    Ok(Some(false))
}

/// Whether the separator bounding the leaf at the end of `path` from above
/// (`upper`) or below has key `key` (false at the tree's edge).
fn bounding_sep_has<N: NodeStore + ?Sized>(
    ns: &mut N,
    path: &[(NodeId, usize)],
    upper: bool,
    key: &[u8],
) -> Result<bool> {
    for &(pid, c) in path.iter().rev() {
        let Node::Internal(p) = &**ns.node(pid)? else {
            unreachable!()
        };
        let s = if upper {
            p.seps().get(c)
        } else {
            c.checked_sub(1).and_then(|i| p.seps().get(i))
        };
        if let Some(s) = s {
            return Ok(&*s.key == key);
        }
    }
    Ok(false)
}

fn size_of(n: &Node) -> usize {
    match n {
        Node::Leaf(l) => l.len(),
        Node::Internal(i) => i.children.len(),
    }
}

/// Split overflowing nodes from `id` up. `split_at`: where to split the leaf `id`
/// (the middle if `None`, or if it would leave a side empty).
fn fix_overflow(
    ns: &mut dyn NodeStore,
    t: &Tree,
    mut path: Path,
    mut id: NodeId,
    mut split_at: Option<usize>,
) -> Result<()> {
    loop {
        // No reference to the node is kept: `get_mut` would copy it.
        let (size, is_leaf) = {
            let node = ns.get(id)?;
            (size_of(&node), matches!(*node, Node::Leaf(_)))
        };
        if size <= t.max {
            return Ok(());
        }
        let Some((pid, c)) = path.pop() else {
            // The root overflows: move its content into a new child and split that.
            let root = Node::Internal(Internal::default());
            let content = std::mem::replace(ns.get_mut(id)?, root);
            let child = ns.alloc(content);
            let Node::Internal(r) = ns.get_mut(id)? else {
                unreachable!()
            };
            r.children.push(child);
            path.push((id, 0));
            id = child;
            continue;
        };
        if t.balance && is_leaf && balance_leaf(ns, t, pid, c, id)? {
            return Ok(());
        }
        let (sep, right) = match ns.get_mut(id)? {
            Node::Leaf(l) => {
                let at = split_at
                    .take()
                    .filter(|a| (1..l.len()).contains(a))
                    .unwrap_or(l.len() / 2);
                let r = l.split_off(at);
                let it = r.item(0);
                (Sep::new(it.key, it.id), Node::Leaf(r))
            }
            Node::Internal(n) => {
                let (sep, right) = n.split_off(n.children.len() / 2);
                (sep, Node::Internal(right))
            }
        };
        let rid = ns.alloc(right);
        let Node::Internal(p) = ns.get_mut(pid)? else {
            unreachable!()
        };
        p.insert_child(c, sep, rid);
        id = pid;
    }
}

/// Fix an underflowing leaf, one of the siblings `lid` (child `li` of `pid`) and
/// `rid` (child `li + 1`): merge them if they fit in one leaf, else move items
/// from the fuller to the other. Each sibling is changed in place when this
/// transaction owns it already (copied once otherwise), never copied whole to be
/// replaced.
fn rebalance_leaves(
    ns: &mut dyn NodeStore,
    t: &Tree,
    pid: NodeId,
    li: usize,
    lid: NodeId,
    rid: NodeId,
) -> Result<()> {
    let right = ns.get(rid)?;
    let (llen, rlen) = (leaf(ns.node(lid)?).len(), leaf(&right).len());
    if llen + rlen <= t.max {
        let Node::Leaf(l) = ns.get_mut(lid)? else {
            unreachable!()
        };
        l.append(leaf(&right));
        drop(right);
        ns.free(rid);
        let Node::Internal(pm) = ns.get_mut(pid)? else {
            unreachable!()
        };
        pm.remove_child(li);
        return Ok(());
    }
    let sep = if llen < rlen {
        // The first k of the right leaf go to the end of the left one.
        let k = ((rlen - llen) / 2).max(1);
        let Node::Leaf(l) = ns.get_mut(lid)? else {
            unreachable!()
        };
        l.append_range(leaf(&right), 0, k);
        let rest = leaf(&right).slice(k, rlen);
        drop(right);
        let it = rest.item(0);
        let sep = Sep::new(it.key, it.id);
        ns.replace(rid, Node::Leaf(rest))?;
        sep
    } else {
        // The last k of the left leaf go to the front of the right one.
        let k = ((llen - rlen) / 2).max(1);
        let mut moved = leaf(ns.node(lid)?).slice(llen - k, llen);
        moved.append(leaf(&right));
        drop(right);
        let it = moved.item(0);
        let sep = Sep::new(it.key, it.id);
        ns.replace(rid, Node::Leaf(moved))?;
        let Node::Leaf(l) = ns.get_mut(lid)? else {
            unreachable!()
        };
        l.truncate(llen - k);
        sep
    };
    let Node::Internal(pm) = ns.get_mut(pid)? else {
        unreachable!()
    };
    pm.set_sep(li, sep);
    Ok(())
}

/// Leaf load balancing: shift items of overflowing leaf `id` (child `c` of `pid`)
/// into a sibling with room. True if that resolved the overflow.
fn balance_leaf(
    ns: &mut dyn NodeStore,
    t: &Tree,
    pid: NodeId,
    c: usize,
    id: NodeId,
) -> Result<bool> {
    let (left_id, right_id) = {
        let parent = ns.get(pid)?;
        let Node::Internal(p) = &*parent else {
            unreachable!()
        };
        (
            c.checked_sub(1).map(|i| p.children[i]),
            p.children.get(c + 1).copied(),
        )
    };
    let node = ns.get(id)?;
    let len = leaf(&node).len();
    if let Some(lid) = left_id {
        let ln = ns.get(lid)?;
        let llen = leaf(&ln).len();
        if llen < t.max {
            let k = ((len - llen) / 2).max(1).min(t.max - llen);
            let mut left = leaf(&ln).clone();
            let mut me = leaf(&node).clone();
            left.take_front(&mut me, k);
            let it = me.item(0);
            let sep = Sep::new(it.key, it.id);
            ns.replace(lid, Node::Leaf(left))?;
            ns.replace(id, Node::Leaf(me))?;
            let Node::Internal(pm) = ns.get_mut(pid)? else {
                unreachable!()
            };
            pm.set_sep(c - 1, sep);
            return Ok(len - k <= t.max);
        }
    }
    if let Some(rid) = right_id {
        let rn = ns.get(rid)?;
        let rlen = leaf(&rn).len();
        if rlen < t.max {
            let k = ((len - rlen) / 2).max(1).min(t.max - rlen);
            let mut right = leaf(&rn).clone();
            let mut me = leaf(&node).clone();
            right.take_back(&mut me, k);
            let it = right.item(0);
            let sep = Sep::new(it.key, it.id);
            ns.replace(rid, Node::Leaf(right))?;
            ns.replace(id, Node::Leaf(me))?;
            let Node::Internal(pm) = ns.get_mut(pid)? else {
                unreachable!()
            };
            pm.set_sep(c, sep);
            return Ok(len - k <= t.max);
        }
    }
    Ok(false)
}

/// Remove the item at `pos` (which must point at an item).
pub fn remove_at<N: NodeStore + ?Sized>(ns: &mut N, t: &Tree, pos: &Pos) -> Result<()> {
    let Node::Leaf(l) = ns.get_mut(pos.leaf)? else {
        unreachable!()
    };
    l.remove(pos.idx);
    if pos.path.is_empty() || l.len() >= t.min_items() {
        // Neither the root leaf nor a leaf still at least at its minimum needs fixing.
        return Ok(());
    }
    fix_underflow(ns.as_dyn(), t, pos.path.clone(), pos.leaf)
}

fn fix_underflow(ns: &mut dyn NodeStore, t: &Tree, mut path: Path, mut id: NodeId) -> Result<()> {
    loop {
        let node = ns.get(id)?;
        let Some((pid, c)) = path.pop() else {
            // The root: absorb a single child.
            if let Node::Internal(r) = &*node {
                if r.children.len() == 1 {
                    let child = r.children[0];
                    let content = (*ns.get(child)?).clone();
                    ns.replace(id, content)?;
                    ns.free(child);
                }
            }
            return Ok(());
        };
        let (size, min) = match &*node {
            Node::Leaf(l) => (l.len(), t.min_items()),
            Node::Internal(i) => (i.children.len(), t.min_children()),
        };
        if size >= min {
            return Ok(());
        }
        drop(node);
        let parent = ns.get(pid)?;
        let Node::Internal(p) = &*parent else {
            unreachable!()
        };
        if p.children.len() < 2 {
            id = pid;
            continue;
        }
        let (li, ri) = if c > 0 { (c - 1, c) } else { (c, c + 1) };
        let (lid, rid) = (p.children[li], p.children[ri]);
        let mut sep = p.seps()[li].clone();
        drop(parent);
        if matches!(&*ns.get(lid)?, Node::Leaf(_)) {
            rebalance_leaves(ns, t, pid, li, lid, rid)?;
            id = pid;
            continue;
        }
        let mut ln = (*ns.get(lid)?).clone();
        let mut rn = (*ns.get(rid)?).clone();
        let merged = size_of(&ln) + size_of(&rn) <= t.max;
        match (&mut ln, &mut rn) {
            (Node::Internal(l), Node::Internal(r)) => {
                if merged {
                    l.append(sep.clone(), r);
                } else if l.children.len() < r.children.len() {
                    let k = ((r.children.len() - l.children.len()) / 2).max(1);
                    l.take_front(r, k, &mut sep);
                } else {
                    let k = ((l.children.len() - r.children.len()) / 2).max(1);
                    r.take_back(l, k, &mut sep);
                }
            }
            _ => unreachable!("siblings are at the same level"),
        }
        ns.replace(lid, ln)?;
        if merged {
            ns.free(rid);
            let Node::Internal(pm) = ns.get_mut(pid)? else {
                unreachable!()
            };
            pm.remove_child(li);
        } else {
            ns.replace(rid, rn)?;
            let Node::Internal(pm) = ns.get_mut(pid)? else {
                unreachable!()
            };
            pm.set_sep(li, sep);
        }
        id = pid;
    }
}

/// Check the tree's invariants; returns the number of items. Used by tests and `check`.
pub fn check(ns: &mut dyn NodeRead, t: &Tree) -> std::result::Result<u64, String> {
    #[allow(clippy::too_many_arguments)]
    fn walk(
        ns: &mut dyn NodeRead,
        t: &Tree,
        id: NodeId,
        lo: Option<&Sep>,
        hi: Option<&Sep>,
        depth: usize,
        leaf_depth: &mut Option<usize>,
        is_root: bool,
        seen: &mut std::collections::HashSet<NodeId>,
    ) -> std::result::Result<u64, String> {
        if !seen.insert(id) {
            return Err(format!("node {id} reachable twice"));
        }
        let n = ns.node(id).map_err(|e| e.to_string())?.clone();
        let in_range = |k: &[u8], i: ItemId| {
            lo.is_none_or(|s| super::node::cmp_item(&s.key, s.id, k, i).is_le())
                && hi.is_none_or(|s| super::node::cmp_item(k, i, &s.key, s.id).is_lt())
        };
        match &*n {
            Node::Leaf(l) => {
                match leaf_depth {
                    Some(d) if *d != depth => {
                        return Err(format!("leaf {id} at depth {depth}, others at {d}"))
                    }
                    _ => *leaf_depth = Some(depth),
                }
                if l.len() > t.max {
                    return Err(format!("leaf {id} holds {} > {}", l.len(), t.max));
                }
                if !is_root && l.is_empty() {
                    return Err(format!("empty non-root leaf {id}"));
                }
                for i in 0..l.len() {
                    let it = l.item(i);
                    if !in_range(it.key, it.id) {
                        return Err(format!("leaf {id} item {i} outside its separators"));
                    }
                    if i > 0
                        && super::node::cmp_item(l.key(i - 1), l.id(i - 1), it.key, it.id).is_ge()
                    {
                        return Err(format!("leaf {id} out of order at {i}"));
                    }
                }
                Ok(l.len() as u64)
            }
            Node::Internal(p) => {
                if p.children.len() != p.seps().len() + 1
                    || p.children.len() > t.max
                    || (p.children.len() < 2)
                {
                    return Err(format!(
                        "internal {id} has {} children, {} separators",
                        p.children.len(),
                        p.seps().len()
                    ));
                }
                for s in p.seps() {
                    if !in_range(&s.key, s.id) {
                        return Err(format!("internal {id} separator outside its range"));
                    }
                }
                let mut total = 0;
                for (i, c) in p.children.iter().enumerate() {
                    let clo = if i == 0 { lo } else { Some(&p.seps()[i - 1]) };
                    let chi = if i == p.seps().len() {
                        hi
                    } else {
                        Some(&p.seps()[i])
                    };
                    total += walk(ns, t, *c, clo, chi, depth + 1, leaf_depth, false, seen)?;
                }
                Ok(total)
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    walk(ns, t, t.root, None, None, 0, &mut None, true, &mut seen)
}

/// Every logical node ID reachable from the root.
pub fn reachable(ns: &mut dyn NodeRead, root: NodeId) -> Result<Vec<NodeId>> {
    let mut out = vec![];
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        out.push(id);
        if let Node::Internal(p) = &**ns.node(id)? {
            stack.extend(p.children.iter().copied());
        }
    }
    Ok(out)
}
