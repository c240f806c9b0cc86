//! The in-process node cache. Keys are physical locations, which are immutable,
//! so an entry is never stale; the cache is bounded in bytes.

use crate::btree::node::Node;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use std::sync::Arc;

/// Physical location of a node image: (commit segment, offset).
pub type Location = (u64, u64);

#[derive(Clone)]
struct NodeWeighter;
impl Weighter<Location, Arc<Node>> for NodeWeighter {
    fn weight(&self, _k: &Location, v: &Arc<Node>) -> u64 {
        v.mem_size() as u64
    }
}

#[derive(Clone)]
struct BytesWeighter;
impl Weighter<Location, bytes::Bytes> for BytesWeighter {
    fn weight(&self, _k: &Location, v: &bytes::Bytes) -> u64 {
        v.len() as u64 + 32
    }
}

pub struct NodeCache {
    nodes: Cache<Location, Arc<Node>, NodeWeighter>,
    values: Cache<Location, bytes::Bytes, BytesWeighter>,
}

impl NodeCache {
    pub fn new(bytes: usize) -> Self {
        let bytes = bytes.max(1 << 20) as u64;
        let est_items = (bytes / 16384).max(64) as usize;
        NodeCache {
            nodes: Cache::with_weighter(est_items, bytes * 7 / 8, NodeWeighter),
            values: Cache::with_weighter(est_items, bytes / 8, BytesWeighter),
        }
    }
    pub fn get(&self, loc: Location) -> Option<Arc<Node>> {
        self.nodes.get(&loc)
    }
    pub fn insert(&self, loc: Location, node: Arc<Node>) {
        self.nodes.insert(loc, node);
    }
    /// Forget the node at `loc` (replaced: no new transaction reads it).
    pub fn remove(&self, loc: Location) {
        self.nodes.remove(&loc);
    }
    pub fn get_value(&self, loc: Location) -> Option<bytes::Bytes> {
        self.values.get(&loc)
    }
    pub fn insert_value(&self, loc: Location, v: bytes::Bytes) {
        self.values.insert(loc, v);
    }
    pub fn weight(&self) -> u64 {
        self.nodes.weight() + self.values.weight()
    }
}
