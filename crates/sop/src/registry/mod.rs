//! The registry: for every store, the map from a node's logical ID to its handle
//! (the immutable blob that currently holds it), plus the store catalog and counts.
//!
//! The durable registry is the commit log (each record carries a delta) plus
//! checkpoints; in memory it is a [`DbState`] of persistent maps, so a snapshot
//! for a new transaction is an `Arc` clone and applying a commit copies only
//! the paths it touches.

pub mod checkpoint;

use crate::btree::node::NodeId;
use crate::codec::json_key::IndexSpec;
use crate::codec::wire::{put_u32, put_u64, Reader};
use crate::error::CodecError;
use crate::log::record::Record;
use crate::options::StoreOptions;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where a node's current image lives: commit segment `seq`, bytes `off..off+len`.
/// `seq` doubles as the node's version: it changes on every rewrite.
///
/// A leaf's image may be a *delta* (`btree::node` delta format): the items that
/// differ from an earlier full image of the same leaf, `base`. Reading the node
/// reads both; a base is always a full image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    pub seq: u64,
    pub off: u64,
    pub len: u32,
    pub checksum: u64,
    pub base: Option<Image>,
}

/// A full node image: commit segment `seq`, bytes `off..off+len`, their xxh3-64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    pub seq: u64,
    pub off: u64,
    pub len: u32,
    pub checksum: u64,
}

impl Handle {
    /// The handle of a full image.
    pub fn full(i: Image) -> Handle {
        Handle {
            seq: i.seq,
            off: i.off,
            len: i.len,
            checksum: i.checksum,
            base: None,
        }
    }
    /// The image this handle's bytes are (a delta if `base` is set).
    pub fn image(&self) -> Image {
        Image {
            seq: self.seq,
            off: self.off,
            len: self.len,
            checksum: self.checksum,
        }
    }
    /// The full image a delta is taken against, or this one if it is full.
    pub fn full_image(&self) -> Image {
        self.base.unwrap_or_else(|| self.image())
    }
    /// Every image the node's content is read from (one or two).
    pub fn images(&self) -> impl Iterator<Item = Image> {
        std::iter::once(self.image()).chain(self.base)
    }
}

impl Image {
    /// `seq u64, off u64, len u32, xxh3-64 u64` (28 bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.seq);
        put_u64(out, self.off);
        put_u32(out, self.len);
        put_u64(out, self.checksum);
    }
    pub fn decode(r: &mut Reader<'_>) -> Result<Image, CodecError> {
        Ok(Image {
            seq: r.u64()?,
            off: r.u64()?,
            len: r.u32()?,
            checksum: r.u64()?,
        })
    }
}

/// A delta's base as stored with its handle: `00` (none) or `01` and the image.
pub fn encode_base(out: &mut Vec<u8>, base: Option<Image>) {
    match base {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            b.encode(out);
        }
    }
}

pub fn decode_base(r: &mut Reader<'_>) -> Result<Option<Image>, CodecError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(Image::decode(r)?)),
        t => Err(CodecError::new(format!("unknown base tag {t}"))),
    }
}

/// What is saved about a store when it is created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// The store's identity, unique in the database and never reused.
    pub id: u64,
    /// The store's name.
    pub name: String,
    /// The options it was created with.
    pub options: StoreOptions,
    /// Identity of the key encoding (see `Key::type_name`).
    pub key_type: String,
    /// The root's logical ID; it never changes.
    pub root: NodeId,
    /// JSON stores (`key_type` "json"): the index specification that orders object
    /// keys; absent for primitive JSON keys and for typed stores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<IndexSpec>,
}

/// A persistent map keyed by logical ids (random 64-bit numbers, so a cheap hash
/// suffices; the default SipHash cost as much as the rest of a node lookup).
pub type IdMap<V> =
    imbl::GenericHashMap<u64, V, rustc_hash::FxBuildHasher, imbl::shared_ptr::DefaultSharedPtr>;

#[derive(Clone, Debug)]
pub struct StoreState {
    pub info: Arc<StoreInfo>,
    /// Sequence of the commit that created the store.
    pub created_seq: u64,
    pub count: u64,
    pub nodes: IdMap<Handle>,
}

/// The whole registry as of commit `seq`.
#[derive(Clone, Debug, Default)]
pub struct DbState {
    pub seq: u64,
    pub stores: IdMap<Arc<StoreState>>,
    pub names: imbl::HashMap<String, u64>,
    /// Transactions recovery declared dead: their commits are refused.
    pub aborted: imbl::HashSet<u128>,
    /// The transaction id of record `seq` (0 for the empty database, or a state
    /// loaded from a checkpoint of an older format): a checkpoint saves it, so
    /// that it is never taken for the state of another record at `seq`.
    pub head_txn: u128,
}

impl DbState {
    pub fn store_by_name(&self, name: &str) -> Option<&Arc<StoreState>> {
        self.names.get(name).and_then(|id| self.stores.get(id))
    }

    /// Apply commit record `seq`. Records are applied strictly in order.
    pub fn apply(&mut self, seq: u64, rec: &Record) {
        debug_assert_eq!(seq, self.seq + 1);
        self.head_txn = rec.txn;
        for t in &rec.aborts {
            self.aborted.insert(*t);
        }
        for id in &rec.dropped {
            if let Some(st) = self.stores.remove(id) {
                self.names.remove(&st.info.name);
            }
        }
        for info in &rec.created {
            self.names.insert(info.name.clone(), info.id);
            self.stores.insert(
                info.id,
                Arc::new(StoreState {
                    info: Arc::new(info.clone()),
                    created_seq: seq,
                    count: 0,
                    nodes: Default::default(),
                }),
            );
        }
        for d in &rec.deltas {
            let Some(st) = self.stores.get_mut(&d.store) else {
                continue;
            };
            let st = Arc::make_mut(st);
            st.count = (st.count as i64 + d.count_delta).max(0) as u64;
            for (id, p, base) in &d.puts {
                st.nodes.insert(
                    *id,
                    Handle {
                        seq,
                        off: p.off,
                        len: p.len,
                        checksum: p.checksum,
                        base: *base,
                    },
                );
            }
            for id in &d.deletes {
                st.nodes.remove(id);
            }
        }
        self.seq = seq;
    }
}
