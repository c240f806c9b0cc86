//! Item-level operations. Every public operation of a transaction is an [`Op`]
//! executed by `TxState::exec`; the transaction records each op with a hash of
//! its result. On a node-level conflict at commit, the ops are executed again
//! against the newest state (in-flight merge) and the commit fails only if some
//! result differs: an item the transaction read or wrote changed.

pub(crate) use crate::btree::node::StreamRef;
use crate::btree::node::{ItemId, ValueRef};
use crate::codec::json_key::IndexSpec;
use crate::options::StoreOptions;
use bytes::Bytes;
use xxhash_rust::xxh3::Xxh3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PutMode {
    /// Insert; on a unique store an existing key makes it a no-op returning false.
    Add,
    /// Insert only if no item has the key (also on duplicate stores).
    AddIfAbsent,
    /// Replace the value of the first item with the key; false if none.
    Update,
    /// Update or insert.
    Upsert,
}

#[derive(Clone, Debug)]
pub(crate) enum Move {
    First,
    Last,
    Next,
    Prev,
    /// First item with key >= k.
    SeekGe(Bytes),
    /// Last item with key <= k.
    SeekLe(Bytes),
    /// First item with key == k (cursor left at the first item >= k on a miss).
    Find(Bytes),
    /// The item with this key and id (boxed: it is rare, and the id would double
    /// the size of every op).
    FindWithId(Box<(Bytes, ItemId)>),
}

/// Open a store, or create it (`create`); `key_spec` is saved with a created
/// JSON store and ignored when opening. `any_key_type` opens an existing store
/// whatever its key type (`open_raw_store`, `store_info`).
#[derive(Clone, Debug)]
pub(crate) struct OpenStore {
    pub name: String,
    pub key_type: String,
    pub any_key_type: bool,
    pub create: Option<StoreOptions>,
    pub key_spec: Option<IndexSpec>,
}

/// A put of a value whose chunks were written already (`RawStore::put_stream`):
/// a replay places the same chunks again, it never reads the stream twice.
#[derive(Clone, Debug)]
pub(crate) struct PutStream {
    pub h: u32,
    pub mode: PutMode,
    pub key: Bytes,
    pub stream: StreamRef,
}

/// An operation. Puts, removes and gets borrow their key and value from the caller
/// (or, replayed, from the op log, which keeps its own copy: `OpLog`); every other
/// op owns what it holds.
#[derive(Clone, Debug)]
pub(crate) enum Op<'a> {
    OpenStore(Box<OpenStore>),
    DropStore {
        name: String,
    },
    /// The names of the stores visible to the transaction (`list_stores`).
    ListStores,
    Put {
        h: u32,
        mode: PutMode,
        key: &'a [u8],
        value: &'a [u8],
    },
    /// A put of a value written as a stream (boxed: it is rare).
    PutStream(Box<PutStream>),
    Remove {
        h: u32,
        key: &'a [u8],
    },
    Get {
        h: u32,
        key: &'a [u8],
    },
    Count {
        h: u32,
    },
    NewCursor {
        h: u32,
    },
    Move {
        c: u32,
        mv: Move,
    },
    RemoveCurrent {
        c: u32,
    },
    SetCurrentValue {
        c: u32,
        value: Bytes,
    },
    /// `n` consecutive `Next` (or `Prev`) moves of cursor `c`, recorded as one
    /// entry whose hash chains the moves' result hashes (see `chain`). Only the
    /// op log holds these; users never issue them.
    Steps {
        c: u32,
        forward: bool,
        n: u32,
    },
}

/// Fold the result hash of one more step into a chain of steps.
pub(crate) fn chain(prev: u64, next: u64) -> u64 {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&prev.to_le_bytes());
    b[8..].copy_from_slice(&next.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&b)
}

impl Op<'_> {
    /// The op, owning everything it holds: an op that borrows (a put, a remove, a
    /// get) is `None`.
    pub fn into_owned(self) -> Option<Op<'static>> {
        Some(match self {
            Op::OpenStore(o) => Op::OpenStore(o),
            Op::DropStore { name } => Op::DropStore { name },
            Op::ListStores => Op::ListStores,
            Op::Count { h } => Op::Count { h },
            Op::NewCursor { h } => Op::NewCursor { h },
            Op::Move { c, mv } => Op::Move { c, mv },
            Op::RemoveCurrent { c } => Op::RemoveCurrent { c },
            Op::SetCurrentValue { c, value } => Op::SetCurrentValue { c, value },
            Op::Steps { c, forward, n } => Op::Steps { c, forward, n },
            Op::PutStream(p) => Op::PutStream(p),
            Op::Put { .. } | Op::Remove { .. } | Op::Get { .. } => return None,
        })
    }
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Op::Put { .. }
                | Op::PutStream(_)
                | Op::Remove { .. }
                | Op::RemoveCurrent { .. }
                | Op::SetCurrentValue { .. }
                | Op::DropStore { .. }
        ) || matches!(self, Op::OpenStore(o) if o.create.is_some())
    }
    /// Approximate memory held by the op.
    pub fn weight(&self) -> usize {
        64 + match self {
            Op::Put { key, value, .. } => key.len() + value.len(),
            Op::Remove { key, .. } | Op::Get { key, .. } => key.len(),
            Op::PutStream(p) => p.key.len(),
            Op::SetCurrentValue { value, .. } => value.len(),
            Op::Move {
                mv: Move::SeekGe(k) | Move::SeekLe(k) | Move::Find(k),
                ..
            } => k.len(),
            Op::Move {
                mv: Move::FindWithId(f),
                ..
            } => f.0.len(),
            _ => 0,
        }
    }
}

/// A value as an owned reference (bytes fetched lazily).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OwnedValue {
    Inline(Bytes),
    Segment {
        seq: u64,
        off: u64,
        len: u32,
        checksum: u64,
    },
    File {
        blob: u128,
        len: u64,
        checksum: u64,
    },
    Stream(StreamRef),
    Pending(u32),
}

impl OwnedValue {
    pub fn from_ref(v: &ValueRef<'_>) -> Self {
        match *v {
            ValueRef::Inline(b) => OwnedValue::Inline(Bytes::copy_from_slice(b)),
            ValueRef::Segment {
                seq,
                off,
                len,
                checksum,
            } => OwnedValue::Segment {
                seq,
                off,
                len,
                checksum,
            },
            ValueRef::File {
                blob,
                len,
                checksum,
            } => OwnedValue::File {
                blob,
                len,
                checksum,
            },
            ValueRef::Stream(s) => OwnedValue::Stream(s),
            ValueRef::Pending(i) => OwnedValue::Pending(i),
        }
    }
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            OwnedValue::Inline(b) => ValueRef::Inline(b),
            OwnedValue::Segment {
                seq,
                off,
                len,
                checksum,
            } => ValueRef::Segment {
                seq: *seq,
                off: *off,
                len: *len,
                checksum: *checksum,
            },
            OwnedValue::File {
                blob,
                len,
                checksum,
            } => ValueRef::File {
                blob: *blob,
                len: *len,
                checksum: *checksum,
            },
            OwnedValue::Stream(s) => ValueRef::Stream(*s),
            OwnedValue::Pending(i) => ValueRef::Pending(*i),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ItemOut {
    pub key: Bytes,
    pub id: ItemId,
    pub value: OwnedValue,
}

#[derive(Clone, Debug)]
pub(crate) enum OpOut {
    Unit,
    Bool(bool),
    Handle(u32),
    /// A store opened or created: its handle, and which store the name meant (its
    /// id and creating commit; 0 and 0 for a store this transaction created, whose
    /// id is new in each attempt). A store dropped and created again under the
    /// same name is another store: the replay's open then differs.
    Store {
        h: u32,
        id: u64,
        created_seq: u64,
    },
    Count(u64),
    Item(Option<ItemOut>),
    /// Store names, sorted.
    Names(Vec<String>),
}

impl OpOut {
    /// A hash of the result, compared with the replay's at commit. Small results
    /// map to distinct values by a bijective mix per variant (no hashing for the
    /// `true` of each write); items hash their key, id and value identity.
    pub fn hash(&self) -> u64 {
        /// An odd multiplier: `x * K` is a bijection on u64.
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mix = |tag: u64, x: u64| (x ^ tag.rotate_left(56)).wrapping_mul(K);
        match self {
            OpOut::Unit => mix(1, 0),
            OpOut::Bool(b) => mix(2, *b as u64),
            OpOut::Handle(x) => mix(3, *x as u64),
            OpOut::Store { h, id, created_seq } => {
                let mut b = [0u8; 20];
                b[..4].copy_from_slice(&h.to_le_bytes());
                b[4..12].copy_from_slice(&id.to_le_bytes());
                b[12..].copy_from_slice(&created_seq.to_le_bytes());
                mix(7, xxhash_rust::xxh3::xxh3_64(&b))
            }
            OpOut::Count(n) => mix(4, *n),
            OpOut::Item(None) => mix(5, 0),
            OpOut::Names(names) => {
                let mut h = Xxh3::new();
                h.update(&[6]);
                for n in names {
                    h.update(&(n.len() as u64).to_le_bytes());
                    h.update(n.as_bytes());
                }
                h.digest()
            }
            OpOut::Item(Some(it)) => {
                let mut h = Xxh3::new();
                h.update(&[5]);
                h.update(&(it.key.len() as u64).to_le_bytes());
                h.update(&it.key);
                h.update(&it.id.to_le_bytes());
                h.update(&it.value.as_ref().identity_hash().to_le_bytes());
                h.digest()
            }
        }
    }
}

/// The hash recorded for an op that failed with a deterministic error.
pub(crate) fn error_hash(kind: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(kind.as_bytes()) ^ 0xe77
}

#[cfg(test)]
mod tests {
    /// Ops the log keeps as they are (every kind but puts, removes and gets)
    /// should stay small: a variant that grows every entry should be boxed.
    #[test]
    fn ops_stay_small() {
        assert!(std::mem::size_of::<super::Op<'static>>() <= 48);
    }
}
