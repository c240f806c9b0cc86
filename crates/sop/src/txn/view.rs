//! A transaction's copy-on-write view of one store's nodes. Every node it loads
//! from the snapshot is remembered with the version (commit sequence) it had:
//! that is the read set validated at commit.

use crate::btree::node::{Node, NodeId};
use crate::btree::tree::NodeStore;
use crate::db::DbInner;
use crate::error::{Error, Result};
use crate::registry::{StoreInfo, StoreState};
use bytes::Bytes;
use rustc_hash::FxHashMap;
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
    /// Big-value blobs this transaction wrote.
    pub big: Vec<u128>,
    /// Committed big-value blobs this transaction stopped referencing.
    pub released: Vec<u128>,
    pub dirty: bool,
    /// Bumped on every structural change, so cursors know to re-seek.
    pub modcount: u64,
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
            big: Vec::new(),
            released: Vec::new(),
            dirty: false,
            modcount: 0,
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

impl View<'_> {
    fn load(&mut self, id: NodeId) -> Result<(Arc<Node>, u64)> {
        let h = self.snap.and_then(|s| s.nodes.get(&id)).ok_or_else(|| {
            Error::corrupt(
                self.db.path.join("log"),
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
        Ok((n, h.seq))
    }
}

impl NodeStore for View<'_> {
    fn get(&mut self, id: NodeId) -> Result<Arc<Node>> {
        if let Some(s) = self.st.nodes.get(&id) {
            if s.state == SlotState::Deleted {
                return Err(Error::corrupt(
                    self.db.path.join("log"),
                    format!("node {id:#x} used after delete"),
                ));
            }
            return Ok(s.node.clone());
        }
        let (n, seq) = self.load(id)?;
        if self.track {
            self.st.nodes.insert(
                id,
                Slot {
                    node: n.clone(),
                    seen: seq,
                    state: SlotState::Clean,
                },
            );
        }
        Ok(n)
    }

    fn get_mut(&mut self, id: NodeId) -> Result<&mut Node> {
        if !self.st.nodes.contains_key(&id) {
            let (n, seq) = self.load(id)?;
            self.st.nodes.insert(
                id,
                Slot {
                    node: n,
                    seen: seq,
                    state: SlotState::Clean,
                },
            );
        }
        let s = self.st.nodes.get_mut(&id).expect("just inserted");
        s.state = SlotState::Dirty;
        self.st.dirty = true;
        self.st.modcount += 1;
        Ok(Arc::make_mut(&mut s.node))
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
        Ok(())
    }

    fn alloc(&mut self, node: Node) -> NodeId {
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
        self.st.modcount += 1;
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
