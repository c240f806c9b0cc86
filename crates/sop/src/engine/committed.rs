//! Reading committed trees: one store's B-tree as of a committed state, read
//! only, for maintenance (the integrity check, recovery, reclaim, compaction).
//! Transactions have their own copy-on-write view (`txn/view.rs`); this reader
//! needs none of it.

use super::DbInner;
use crate::btree::node::{Node, NodeId, ValueRef};
use crate::btree::tree::{self, NodeRead};
use crate::error::{Error, Result};
use crate::registry::StoreState;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// One store's tree as of a committed state: loads each node it is asked for
/// (verified; through the cache, or from disk for `uncached` checks) and keeps
/// it for later reads.
pub(crate) struct CommittedTree<'a> {
    db: &'a DbInner,
    st: &'a StoreState,
    uncached: bool,
    loaded: FxHashMap<NodeId, Arc<Node>>,
}

impl<'a> CommittedTree<'a> {
    /// The tree of store `st`; `uncached` reads every node from its record.
    pub fn new(db: &'a DbInner, st: &'a StoreState, uncached: bool) -> Self {
        CommittedTree {
            db,
            st,
            uncached,
            loaded: FxHashMap::default(),
        }
    }

    /// Every node reachable from the root.
    pub fn reachable(&mut self) -> Result<Vec<NodeId>> {
        let root = self.st.info.root;
        tree::reachable(self, root)
    }
}

impl NodeRead for CommittedTree<'_> {
    fn node(&mut self, id: NodeId) -> Result<&Arc<Node>> {
        if !self.loaded.contains_key(&id) {
            let h = self.st.nodes.get(&id).ok_or_else(|| {
                Error::corrupt(
                    self.db.layout.log(),
                    format!(
                        "store {:?}: node {id:#x} is referenced but not in the registry",
                        self.st.info.name
                    ),
                )
            })?;
            let n = if self.uncached {
                self.db.read_node_uncached(h)?
            } else {
                self.db.read_node(h)?
            };
            self.loaded.insert(id, n);
        }
        Ok(&self.loaded[&id])
    }
}

/// Call `f` with the value reference of every item of the committed store `st`
/// (walks the whole tree as of that state).
pub(crate) fn for_each_value(
    db: &DbInner,
    st: &StoreState,
    mut f: impl FnMut(&ValueRef<'_>),
) -> Result<()> {
    let mut t = CommittedTree::new(db, st, false);
    for id in t.reachable()? {
        if let Node::Leaf(l) = &**t.node(id)? {
            for i in 0..l.len() {
                f(&l.item(i).value);
            }
        }
    }
    Ok(())
}
