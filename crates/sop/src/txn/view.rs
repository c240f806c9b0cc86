//! A transaction's copy-on-write view of one store's nodes. Every node it loads
//! from the snapshot is remembered with the version (commit sequence) it had:
//! that is the read set validated at commit.

use crate::btree::node::{Node, NodeId};
use crate::btree::tree::{self, Finger, NodeRead, NodeStore, Pos, Target, Tree};
use crate::db::DbInner;
use crate::error::{Error, Result};
use crate::registry::{StoreInfo, StoreState};
use bytes::Bytes;
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotState {
    Clean,
    Dirty,
    Deleted,
}

#[derive(Clone)]
pub(crate) struct Slot {
    pub node: Arc<Node>,
    /// Version seen in the snapshot; 0 for a node this transaction created.
    pub seen: u64,
    pub state: SlotState,
}

/// Per-store state of a transaction.
#[derive(Clone)]
pub(crate) struct StoreTx {
    pub info: Arc<StoreInfo>,
    /// Sequence of the commit that created the store; 0 if created by this transaction.
    pub created_seq: u64,
    pub base_count: u64,
    pub count_delta: i64,
    pub count_read: bool,
    pub nodes: FxHashMap<NodeId, Slot>,
    /// Separate values staged by this transaction, referenced as `ValueRef::Pending(i)`.
    pub pending: Vec<Bytes>,
    /// Where the last record written put `pending` (set at commit).
    pub placed: Vec<crate::log::record::Placement>,
    /// Big-value blobs this transaction wrote.
    pub big: Vec<u128>,
    /// Committed big-value blobs this transaction stopped referencing.
    pub released: Vec<u128>,
    pub dirty: bool,
    /// Bumped on every structural change, so cursors know to re-seek.
    pub modcount: u64,
    /// Bumped whenever the tree's shape may change (see `NodeStore::shape`); never 0.
    pub shape: u64,
    /// Where the last write's descent ended (see `tree::Finger`).
    pub finger: Option<Box<crate::btree::tree::Finger>>,
    /// Nodes recently read by an untracked (NoCheck) view, so a descent or a cursor
    /// step does not look each one up in the registry and the node cache again.
    pub memo: Memo,
}

/// The snapshot nodes an untracked (NoCheck) view has read, for the life of the
/// transaction: the snapshot never changes and an untracked view never writes, so an
/// entry is never stale (the memo is cleared anyway if such a view is asked to write).
///
/// Each internal node keeps its children resolved, as they are first taken, to their
/// entries here: a descent then goes from node to node by index, without looking the
/// logical ids up in the registry and the node cache at every level. Cursor steps,
/// which name nodes by id, find them through `index`. The nodes held are bounded by
/// a byte budget (a fraction of the node cache): past it, a leaf loaded takes the
/// slot of the leaf held longest, so the internal nodes (every descent passes through
/// them, and they are a small share of the bytes) stay and the leaves held keep
/// serving. A resolved child is followed only while its slot still holds it. Should
/// the internal nodes alone pass twice the budget, the next descent starts over.
#[derive(Default)]
pub(crate) struct Memo {
    nodes: Vec<MemoNode>,
    index: FxHashMap<NodeId, u32>,
    /// `MemoNode::size` of the nodes held.
    bytes: usize,
    /// The slots of `nodes` holding leaves, in the order a full memo reuses them.
    leaves: Vec<u32>,
    /// The entry of `leaves` to reuse next.
    hand: usize,
}

struct MemoNode {
    id: NodeId,
    node: Arc<Node>,
    /// Per child of an internal node: its slot in `Memo::nodes` plus one, 0 while
    /// not resolved (empty for a leaf). The slot may hold another leaf since.
    kids: Box<[u32]>,
}

impl MemoNode {
    fn size(&self) -> usize {
        self.node.mem_size() + std::mem::size_of_val(&*self.kids)
    }
}

/// A copy of a memo is empty: it would belong to whatever snapshot the copy reads.
impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::default()
    }
}

impl Memo {
    /// The slot of node `id`, from the memo or else from `load` (then remembered,
    /// in a leaf's slot if the memo is full and `id` is a leaf). Internal nodes
    /// never leave their slots.
    fn find_or_load(
        &mut self,
        id: NodeId,
        budget: usize,
        load: &mut dyn FnMut(NodeId) -> Result<Arc<Node>>,
    ) -> Result<usize> {
        if let Some(&i) = self.index.get(&id) {
            return Ok(i as usize);
        }
        let node = load(id)?;
        let kids = match &*node {
            Node::Internal(n) => vec![0u32; n.children.len()].into_boxed_slice(),
            Node::Leaf(_) => Box::default(),
        };
        let is_leaf = matches!(&*node, Node::Leaf(_));
        let m = MemoNode { id, node, kids };
        let size = m.size();
        if is_leaf && self.bytes + size > budget && !self.leaves.is_empty() {
            let i = self.leaves[self.hand] as usize;
            self.hand = (self.hand + 1) % self.leaves.len();
            let old = std::mem::replace(&mut self.nodes[i], m);
            self.index.remove(&old.id);
            self.bytes = self.bytes - old.size() + size;
            self.index.insert(id, i as u32);
            return Ok(i);
        }
        let i = self.nodes.len();
        if is_leaf {
            self.leaves.push(i as u32);
        }
        self.bytes += size;
        self.nodes.push(m);
        self.index.insert(id, i as u32);
        Ok(i)
    }

    /// Start over if the internal nodes alone passed twice `budget` (only leaves
    /// are replaced when the memo is full).
    fn bound(&mut self, budget: usize) {
        if self.bytes > budget.saturating_mul(2) {
            self.clear();
        }
    }

    /// The node `id`, from the memo or else from `load` (then remembered).
    #[inline]
    pub fn get_or_load(
        &mut self,
        id: NodeId,
        budget: usize,
        load: &mut dyn FnMut(NodeId) -> Result<Arc<Node>>,
    ) -> Result<&Arc<Node>> {
        self.bound(budget);
        let i = self.find_or_load(id, budget, load)?;
        Ok(&self.nodes[i].node)
    }

    /// `tree::descend_into` through the memo: the same choices at every node, with
    /// children followed through their resolved slots. The slot of the leaf reached.
    pub fn descend(
        &mut self,
        root: NodeId,
        target: Target<'_>,
        pos: &mut Pos,
        budget: usize,
        load: &mut dyn FnMut(NodeId) -> Result<Arc<Node>>,
    ) -> Result<usize> {
        self.bound(budget);
        let mut at = match self.nodes.first() {
            Some(m) if m.id == root => 0,
            _ => self.find_or_load(root, budget, load)?,
        };
        pos.path.clear();
        loop {
            let m = &self.nodes[at];
            let (c, child) = match &*m.node {
                Node::Internal(n) => {
                    let c = tree::child_index(n, target);
                    let child = n.children[c];
                    pos.path.push((m.id, c));
                    match m.kids.get(c) {
                        Some(&k) if k != 0 && self.nodes[k as usize - 1].id == child => {
                            at = k as usize - 1;
                            continue;
                        }
                        _ => (c, child),
                    }
                }
                Node::Leaf(l) => {
                    pos.leaf = m.id;
                    pos.idx = tree::leaf_index(l, target);
                    return Ok(at);
                }
            };
            let i = self.find_or_load(child, budget, load)?;
            if let Some(k) = self.nodes[at].kids.get_mut(c) {
                *k = i as u32 + 1;
            }
            at = i;
        }
    }

    pub fn clear(&mut self) {
        if !self.nodes.is_empty() {
            *self = Memo::default();
        }
    }
}

impl StoreTx {
    pub fn new(info: Arc<StoreInfo>, created_seq: u64, base_count: u64) -> Self {
        StoreTx {
            info,
            created_seq,
            base_count,
            count_delta: 0,
            count_read: false,
            nodes: FxHashMap::default(),
            pending: Vec::new(),
            placed: Vec::new(),
            big: Vec::new(),
            released: Vec::new(),
            dirty: false,
            modcount: 0,
            shape: 1,
            finger: None,
            memo: Memo::default(),
        }
    }
    pub fn count(&self) -> u64 {
        (self.base_count as i64 + self.count_delta).max(0) as u64
    }
}

pub(crate) struct View<'a> {
    pub db: &'a DbInner,
    pub snap: Option<&'a StoreState>,
    pub st: &'a mut StoreTx,
    /// Remember loaded nodes (ForWriting / ForReading); NoCheck reads straight through.
    pub track: bool,
    /// Read nodes from disk even if cached (integrity checks).
    pub uncached: bool,
}

/// Read, verify and decode node `id` of the store as of `snap`; with its version.
fn load(
    db: &DbInner,
    snap: Option<&StoreState>,
    name: &str,
    uncached: bool,
    id: NodeId,
) -> Result<(Arc<Node>, u64)> {
    let h = snap.and_then(|s| s.nodes.get(&id)).ok_or_else(|| {
        Error::corrupt(
            db.path.join("log"),
            format!("store {name:?}: node {id:#x} is referenced but not in the registry"),
        )
    })?;
    let n = if uncached {
        db.read_node_uncached(h)?
    } else {
        db.read_node(h)?
    };
    Ok((n, h.seq))
}

impl NodeRead for View<'_> {
    fn node(&mut self, id: NodeId) -> Result<&Arc<Node>> {
        let (db, snap, uncached) = (self.db, self.snap, self.uncached);
        let st = &mut *self.st;
        if self.track {
            let slot = match st.nodes.entry(id) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => {
                    let (node, seen) = load(db, snap, &st.info.name, uncached, id)?;
                    v.insert(Slot {
                        node,
                        seen,
                        state: SlotState::Clean,
                    })
                }
            };
            if slot.state == SlotState::Deleted {
                return Err(Error::corrupt(
                    db.path.join("log"),
                    format!("node {id:#x} used after delete"),
                ));
            }
            return Ok(&slot.node);
        }
        // Untracked: the transaction's own nodes (a NoCheck transaction has none),
        // then the snapshot through the memo.
        if let Some(s) = st.nodes.get(&id) {
            if s.state == SlotState::Deleted {
                return Err(Error::corrupt(
                    db.path.join("log"),
                    format!("node {id:#x} used after delete"),
                ));
            }
            return Ok(&s.node);
        }
        let name = &st.info.name;
        st.memo.get_or_load(id, memo_budget(db), &mut |id| {
            Ok(load(db, snap, name, uncached, id)?.0)
        })
    }
}

/// The bytes a memo may hold: it may pin nodes the cache has let go, so at most a
/// quarter of the cache's size.
fn memo_budget(db: &DbInner) -> usize {
    db.opts.node_cache_bytes / 4
}

impl View<'_> {
    /// `tree::descend_into` for a reader: through the memo when the view is untracked
    /// and the transaction has no nodes of its own (a NoCheck transaction never has).
    /// The leaf reached, when it went through the memo.
    pub fn descend_into(
        &mut self,
        t: &Tree,
        target: Target<'_>,
        pos: &mut Pos,
    ) -> Result<Option<&Arc<Node>>> {
        if self.track || !self.st.nodes.is_empty() {
            tree::descend_into(self, t, target, pos)?;
            return Ok(None);
        }
        let (db, snap, uncached) = (self.db, self.snap, self.uncached);
        let st = &mut *self.st;
        let name = &st.info.name;
        let at = st
            .memo
            .descend(t.root, target, pos, memo_budget(db), &mut |id| {
                Ok(load(db, snap, name, uncached, id)?.0)
            })?;
        Ok(Some(&st.memo.nodes[at].node))
    }
}

impl View<'_> {
    /// Run `f` with the store's finger (`tree::Finger`) lent out of the view, so
    /// that the view can be lent alongside it.
    pub fn with_finger<R>(&mut self, f: impl FnOnce(&mut Self, &mut Finger) -> R) -> R {
        let mut finger = self.st.finger.take().unwrap_or_default();
        let r = f(self, &mut finger);
        self.st.finger = Some(finger);
        r
    }
}

impl<'a> NodeStore for View<'a> {
    fn as_dyn(&mut self) -> &mut dyn NodeStore {
        self
    }

    fn get_mut(&mut self, id: NodeId) -> Result<&mut Node> {
        self.st.memo.clear();
        let (db, snap, uncached) = (self.db, self.snap, self.uncached);
        let st = &mut *self.st;
        let s = match st.nodes.entry(id) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                let (node, seen) = load(db, snap, &st.info.name, uncached, id)?;
                v.insert(Slot {
                    node,
                    seen,
                    state: SlotState::Clean,
                })
            }
        };
        s.state = SlotState::Dirty;
        st.dirty = true;
        st.modcount += 1;
        if matches!(*s.node, Node::Internal(_)) {
            st.shape += 1;
        }
        Ok(Arc::make_mut(&mut s.node))
    }

    /// An untracked view (NoCheck) records no read set, so a finger it left must not
    /// let a tracked one skip nodes: it has none.
    fn shape(&self) -> u64 {
        if self.track {
            self.st.shape
        } else {
            0
        }
    }

    fn replace(&mut self, id: NodeId, node: Node) -> Result<()> {
        match self.st.nodes.get_mut(&id) {
            Some(s) => {
                match Arc::get_mut(&mut s.node) {
                    Some(n) => *n = node,
                    None => s.node = Arc::new(node),
                }
                s.state = SlotState::Dirty;
            }
            None => {
                // Only the version the snapshot had is needed (the read set).
                let seen = self.snap.and_then(|s| s.nodes.get(&id)).ok_or_else(|| {
                    Error::corrupt(
                        self.db.path.join("log"),
                        format!(
                            "store {:?}: node {id:#x} is referenced but not in the registry",
                            self.st.info.name
                        ),
                    )
                })?;
                let seen = seen.seq;
                self.st.nodes.insert(
                    id,
                    Slot {
                        node: Arc::new(node),
                        seen,
                        state: SlotState::Dirty,
                    },
                );
            }
        }
        self.st.dirty = true;
        self.st.modcount += 1;
        self.st.shape += 1;
        Ok(())
    }

    fn alloc(&mut self, node: Node) -> NodeId {
        self.st.memo.clear();
        self.st.shape += 1;
        loop {
            let id = fastrand::u64(1..);
            let taken = self.st.nodes.contains_key(&id)
                || self.snap.is_some_and(|s| s.nodes.contains_key(&id));
            if !taken {
                self.st.nodes.insert(
                    id,
                    Slot {
                        node: Arc::new(node),
                        seen: 0,
                        state: SlotState::Dirty,
                    },
                );
                self.st.dirty = true;
                self.st.modcount += 1;
                return id;
            }
        }
    }

    fn free(&mut self, id: NodeId) {
        self.st.memo.clear();
        self.st.modcount += 1;
        self.st.shape += 1;
        self.st.dirty = true;
        match self.st.nodes.get_mut(&id) {
            Some(s) if s.seen == 0 => {
                self.st.nodes.remove(&id);
            }
            Some(s) => s.state = SlotState::Deleted,
            None => {
                let seen = self
                    .snap
                    .and_then(|s| s.nodes.get(&id))
                    .map(|h| h.seq)
                    .unwrap_or(0);
                if seen != 0 {
                    self.st.nodes.insert(
                        id,
                        Slot {
                            node: Arc::new(Node::Leaf(Default::default())),
                            seen,
                            state: SlotState::Deleted,
                        },
                    );
                }
            }
        }
    }
}

/// Call `f` with the value reference of every item of the committed store `st`
/// (walks the whole tree as of that state; used by recovery and reclaim).
pub(crate) fn for_each_value(
    db: &DbInner,
    st: &StoreState,
    mut f: impl FnMut(&crate::btree::node::ValueRef<'_>),
) -> Result<()> {
    let mut stx = StoreTx::new(st.info.clone(), st.created_seq, st.count);
    let mut v = View {
        db,
        snap: Some(st),
        st: &mut stx,
        track: false,
        uncached: false,
    };
    for id in crate::btree::tree::reachable(&mut v, st.info.root)? {
        if let Node::Leaf(l) = &*v.get(id)? {
            for i in 0..l.len() {
                f(&l.item(i).value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::node::{Internal, Leaf, Sep, ValueRef};
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// Root 1 over internals 2 and 3, over leaves 4–7 holding a..h, two keys each.
    fn tree() -> HashMap<NodeId, Arc<Node>> {
        let leaf = |keys: &[&[u8]]| {
            let mut l = Leaf::default();
            for k in keys {
                l.push(k, 0, &ValueRef::Inline(&[7u8; 1000]));
            }
            Arc::new(Node::Leaf(l))
        };
        let internal = |sep: &[u8], kids: Vec<NodeId>| {
            Arc::new(Node::Internal(Internal::new(vec![Sep::new(sep, 0)], kids)))
        };
        HashMap::from([
            (1, internal(b"e", vec![2, 3])),
            (2, internal(b"c", vec![4, 5])),
            (3, internal(b"g", vec![6, 7])),
            (4, leaf(&[b"a", b"b"])),
            (5, leaf(&[b"c", b"d"])),
            (6, leaf(&[b"e", b"f"])),
            (7, leaf(&[b"g", b"h"])),
        ])
    }

    /// Descend for each key; the leaves reached and the ids loaded on the way.
    fn run(memo: &mut Memo, budget: usize, keys: &[&[u8]]) -> (Vec<NodeId>, Vec<NodeId>) {
        let nodes = tree();
        let loaded = RefCell::new(Vec::new());
        let mut load = |id: NodeId| {
            loaded.borrow_mut().push(id);
            Ok(nodes[&id].clone())
        };
        let mut reached = Vec::new();
        for k in keys {
            let mut pos = Pos::default();
            memo.descend(1, Target::KeyGe(k), &mut pos, budget, &mut load)
                .unwrap();
            reached.push(pos.leaf);
        }
        (reached, loaded.into_inner())
    }

    /// Memo bytes of (the internal nodes, one leaf).
    fn sizes() -> (usize, usize) {
        let nodes = tree();
        let kids = |id: NodeId| {
            if id <= 3 {
                2 * std::mem::size_of::<u32>()
            } else {
                0
            }
        };
        let size = |id: NodeId| nodes[&id].mem_size() + kids(id);
        let internal: usize = (1..=3).map(size).sum();
        assert!(
            (5..=7).all(|id| size(id) == size(4)),
            "the leaves weigh the same"
        );
        // The tests rely on leaves outweighing internal nodes, as they do in a store.
        assert!(size(4) > internal, "leaf {} internal {internal}", size(4));
        (internal, size(4))
    }

    #[test]
    fn a_full_memo_keeps_its_internal_nodes_and_turns_its_leaf_slots_over() {
        let mut memo = Memo::default();
        let (internal, leaf) = sizes();
        // Room for the internal nodes and two of the four leaves.
        let budget = internal + 2 * leaf + leaf / 2;
        let (reached, loaded) = run(&mut memo, budget, &[b"b", b"d", b"f", b"h"]);
        assert_eq!(reached, [4, 5, 6, 7]);
        // 6 and 7 took the slots of 4 and 5.
        assert_eq!(loaded, [1, 2, 4, 5, 3, 6, 7]);
        assert_eq!((memo.nodes.len(), memo.bytes), (5, internal + 2 * leaf));
        // 6 and 7 are held; 4 takes 6's slot, so 6 (its parent's resolved slot now
        // holding 4) is loaded again, into 7's slot; then 7 into 4's, 4 into 6's.
        let (reached, loaded) = run(&mut memo, budget, &[b"f", b"h", b"a", b"f", b"h", b"b"]);
        assert_eq!(reached, [6, 7, 4, 6, 7, 4]);
        assert_eq!(loaded, [4, 6, 7, 4]);
        assert_eq!((memo.nodes.len(), memo.bytes), (5, internal + 2 * leaf));
    }

    #[test]
    fn internal_nodes_past_twice_the_budget_start_the_memo_over() {
        let mut memo = Memo::default();
        let (internal, _) = sizes();
        let budget = internal / 4;
        run(&mut memo, budget, &[b"b", b"d"]);
        let (reached, loaded) = run(&mut memo, budget, &[b"f"]);
        assert_eq!(reached, [6]);
        assert_eq!(loaded, [1, 3, 6]);
    }
}
