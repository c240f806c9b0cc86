//! The memo of a NoCheck transaction: the snapshot nodes its reads went
//! through, held for the life of the transaction (see `Memo`).

use crate::btree::node::{Node, NodeId};
use crate::btree::tree::{self, Pos, Target};
use crate::error::Result;
use rustc_hash::FxHashMap;
use std::sync::Arc;

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
    /// Where the last descent ended.
    finger: ReadFinger,
}

/// A reader's finger (as a writer's, `tree::Finger`): the leaf the last descent
/// reached, its slot, the path to it and the keys of the separators bounding it.
/// A key strictly between those lands in that leaf whatever the target, so the
/// next descent for it starts there, as long as the slot still holds the leaf (the
/// snapshot never changes). Reads of nearby keys skip nearly every descent; after
/// a run of misses (random keys) the bounds are taken only now and then.
#[derive(Default)]
struct ReadFinger {
    /// Whether the fields below describe a leaf.
    set: bool,
    slot: usize,
    leaf: NodeId,
    path: tree::Path,
    bounds: tree::Bounds,
    /// Descents the finger saved (tests look).
    #[cfg(test)]
    hits: usize,
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
    /// children followed through their resolved slots, or none at all when the
    /// finger covers the target's key. The slot of the leaf reached.
    pub fn descend(
        &mut self,
        root: NodeId,
        target: Target<'_>,
        pos: &mut Pos,
        budget: usize,
        load: &mut dyn FnMut(NodeId) -> Result<Arc<Node>>,
    ) -> Result<usize> {
        self.bound(budget);
        let f = &mut self.finger;
        if let Some(key) = target.key() {
            if f.set
                && self.nodes.get(f.slot).is_some_and(|m| m.id == f.leaf)
                && f.bounds.covers(key)
            {
                f.bounds.hit();
                #[cfg(test)]
                {
                    f.hits += 1;
                }
                tree::copy_path(&mut pos.path, &f.path);
                pos.leaf = f.leaf;
                let Node::Leaf(l) = &*self.nodes[f.slot].node else {
                    unreachable!("the finger's slot holds its leaf")
                };
                pos.idx = tree::leaf_index_in(l, target, true);
                return Ok(f.slot);
            }
        }
        let track = f.bounds.miss() && target.key().is_some();
        f.set = false;
        if track {
            f.bounds.begin();
        }
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
                    if track {
                        self.finger.bounds.note(n, c);
                    }
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
                    if track {
                        let f = &mut self.finger;
                        f.bounds.end();
                        f.path.clone_from(&pos.path);
                        f.slot = at;
                        f.leaf = m.id;
                        f.set = true;
                    }
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

    /// The node in slot `at` (as `descend` returned it).
    pub fn node_at(&self, at: usize) -> &Arc<Node> {
        &self.nodes[at].node
    }

    pub fn clear(&mut self) {
        if !self.nodes.is_empty() {
            *self = Memo::default();
        }
    }
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

    /// Descend for `key`; the leaf, index and path reached.
    fn reach(memo: &mut Memo, budget: usize, key: &[u8]) -> (NodeId, usize, Vec<(NodeId, usize)>) {
        let nodes = tree();
        let mut pos = Pos::default();
        memo.descend(1, Target::KeyGe(key), &mut pos, budget, &mut |id| {
            Ok(nodes[&id].clone())
        })
        .unwrap();
        (pos.leaf, pos.idx, pos.path.to_vec())
    }

    /// A key strictly between the separators bounding the last leaf reached is
    /// found there without a descent; a key equal to a bound descends, and so
    /// does one whose leaf's slot now holds another leaf.
    #[test]
    fn the_finger_saves_descents_for_keys_inside_the_last_leaf() {
        let mut memo = Memo::default();
        let big = usize::MAX / 4;
        // "d" reaches leaf 5 (c, d): bounded by "c" below (node 2) and "e" above (root).
        assert_eq!(reach(&mut memo, big, b"d"), (5, 1, vec![(1, 0), (2, 1)]));
        assert_eq!(memo.finger.hits, 0);
        assert_eq!(reach(&mut memo, big, b"ca"), (5, 1, vec![(1, 0), (2, 1)]));
        assert_eq!(reach(&mut memo, big, b"dz"), (5, 2, vec![(1, 0), (2, 1)]));
        assert_eq!(
            reach(&mut memo, big, b"c\xff"),
            (5, 1, vec![(1, 0), (2, 1)])
        );
        assert_eq!(memo.finger.hits, 3);
        // The bounds themselves descend (and, being keys that may sit before the
        // leaf's first item, end at the end of the leaf before it).
        assert_eq!(reach(&mut memo, big, b"e"), (5, 2, vec![(1, 0), (2, 1)]));
        assert_eq!(reach(&mut memo, big, b"c"), (4, 2, vec![(1, 0), (2, 0)]));
        assert_eq!(memo.finger.hits, 3);
        // With room for two leaves, loads by id (as cursor steps do) turn the
        // finger's slot over to another leaf: the next descent checks and goes down.
        let (internal, leaf) = sizes();
        let budget = internal + 2 * leaf + leaf / 2;
        let mut memo = Memo::default();
        let nodes = tree();
        let mut load = |id: NodeId| Ok(nodes[&id].clone());
        assert_eq!(reach(&mut memo, budget, b"f"), (6, 1, vec![(1, 1), (3, 0)]));
        for id in [4, 5] {
            memo.get_or_load(id, budget, &mut load).unwrap();
        }
        assert!(memo.nodes.iter().all(|m| m.id != 6), "leaf 6 was let go");
        assert_eq!(
            reach(&mut memo, budget, b"ea"),
            (6, 1, vec![(1, 1), (3, 0)])
        );
        assert_eq!(memo.finger.hits, 0);
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
