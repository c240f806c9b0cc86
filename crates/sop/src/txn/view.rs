//! A transaction's copy-on-write view of one store's nodes. Every node it loads
//! from the snapshot is remembered with the version (commit sequence) it had:
//! that is the read set validated at commit.

use super::memo::Memo;
use crate::btree::node::{Node, NodeId};
use crate::btree::tree::{self, Finger, NodeRead, NodeStore, Pos, Target, Tree};
use crate::engine::DbInner;
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
    /// Streamed values this transaction placed in the store (their first chunk's
    /// blob; the chunks were written before, see `TxState::streams`).
    pub streams: Vec<u128>,
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
            streams: Vec::new(),
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
            db.layout.log(),
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

/// The transaction's slot of node `id` in `nodes`, loaded from the snapshot (and
/// remembered, with its version: the read set) when it has none yet.
#[inline(always)]
fn slot_in<'s>(
    nodes: &'s mut FxHashMap<NodeId, Slot>,
    db: &DbInner,
    snap: Option<&StoreState>,
    name: &str,
    uncached: bool,
    id: NodeId,
) -> Result<&'s mut Slot> {
    Ok(match nodes.entry(id) {
        Entry::Occupied(o) => o.into_mut(),
        Entry::Vacant(v) => {
            let (node, seen) = load(db, snap, name, uncached, id)?;
            v.insert(Slot {
                node,
                seen,
                state: SlotState::Clean,
            })
        }
    })
}

impl NodeRead for View<'_> {
    fn node(&mut self, id: NodeId) -> Result<&Arc<Node>> {
        let (db, snap, uncached) = (self.db, self.snap, self.uncached);
        let st = &mut *self.st;
        if self.track {
            let slot = slot_in(&mut st.nodes, db, snap, &st.info.name, uncached, id)?;
            if slot.state == SlotState::Deleted {
                return Err(Error::corrupt(
                    db.layout.log(),
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
                    db.layout.log(),
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

    fn prefetch(&mut self, ids: &[NodeId]) {
        let Some(snap) = self.snap else { return };
        if self.uncached || !self.db.fetches_are_round_trips() {
            return;
        }
        let st = &*self.st;
        let handles: Vec<_> = ids
            .iter()
            .filter(|id| !st.nodes.contains_key(id))
            .filter_map(|id| snap.nodes.get(id).copied())
            .collect();
        self.db.prefetch_nodes(&handles);
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
        Ok(Some(st.memo.node_at(at)))
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
        let s = slot_in(&mut st.nodes, db, snap, &st.info.name, uncached, id)?;
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
                        self.db.layout.log(),
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
