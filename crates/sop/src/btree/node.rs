//! B+tree nodes in memory and their byte format: value references and item
//! records (here), leaves (`leaf.rs`), internal nodes (`internal.rs`), leaf deltas
//! (`delta.rs`) and the key helpers they share (`keys.rs`).
//!
//! A leaf is a slotted page: item records live in an arena in any order, and two
//! sorted arrays give their order (per item, its key's search prefix and its
//! record's place), so an insert moves sixteen bytes per later item instead of
//! whole records. Items are ordered by (key bytes, item id).

use crate::codec::wire::{put_u128, put_u32, put_u64, put_varint, Reader};
use crate::error::CodecError;
use std::cmp::Ordering;

mod delta;
mod internal;
mod keys;
mod leaf;
#[cfg(test)]
mod tests;

pub use delta::{image_values, KIND_DELTA};
pub use internal::{Internal, Sep};
use keys::*;
pub use keys::{cmp_bytes, cmp_item};
pub use leaf::Leaf;

/// A node's logical ID within its store.
pub type NodeId = u64;
/// The identity of one item: unique in its store, kept when the item's value
/// changes. Tells apart items of equal keys in a store that allows duplicates.
pub type ItemId = u128;

/// Largest key, in bytes.
pub const MAX_KEY_LEN: usize = 32 * 1024;

const TAG_INLINE: u8 = 0;
const TAG_SEGMENT: u8 = 1;
const TAG_FILE: u8 = 2;
const TAG_PENDING: u8 = 3;
const TAG_STREAM: u8 = 4;

const KIND_LEAF: u8 = 1;
const KIND_INTERNAL: u8 = 2;

/// Where an item's value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef<'a> {
    /// Inside the leaf.
    Inline(&'a [u8]),
    /// A separate blob inside commit segment `seq` (0 on disk = the node's own segment).
    Segment {
        seq: u64,
        off: u64,
        len: u32,
        checksum: u64,
    },
    /// Its own file `blob` (big values, written at the time of the add).
    File { blob: u128, len: u64, checksum: u64 },
    /// A value written as a stream (`RawStore::put_stream`), in chunk blobs.
    Stream(StreamRef),
    /// Staged in the writing transaction's memory (index into its pending values).
    Pending(u32),
}

impl ValueRef<'_> {
    /// A hash identifying this value for read validation: equal hashes mean the
    /// same value bytes (inline and separate values: their xxh3-64) or the same
    /// immutable blob (big values).
    pub fn identity_hash(&self) -> u64 {
        use xxhash_rust::xxh3::xxh3_64;
        match *self {
            ValueRef::Inline(b) => xxh3_64(b),
            // By content, like inline values, so a value moved by compaction keeps its identity.
            ValueRef::Segment { checksum, .. } => checksum,
            ValueRef::File { checksum, len, .. } => checksum ^ len,
            // By content as well: the same bytes as a stream or as one blob are
            // the same value.
            ValueRef::Stream(s) => s.checksum ^ s.len,
            ValueRef::Pending(i) => 0x9e37_79b9_7f4a_7c15 ^ i as u64,
        }
    }

    /// The blobs a big value lives in (its file, or its stream's chunks); `None`
    /// for a value kept in a node or a record.
    #[inline]
    pub fn big_blobs(&self) -> Option<BigBlobs> {
        match *self {
            ValueRef::File { blob, .. } => Some(BigBlobs {
                first: blob,
                count: 1,
            }),
            ValueRef::Stream(s) => Some(s.blobs()),
            _ => None,
        }
    }
}

/// A value written as a stream: `len` bytes in chunks of `chunk` bytes (the
/// last one shorter), chunk `i` in blob `chunk_blob(first, i)`; `checksum` is
/// the XXH3-64 of the whole value. Each chunk blob holds its bytes and then
/// their XXH3-64 seeded with the lower 64 bits of the chunk's blob id (u64 LE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRef {
    /// Chunk 0's blob.
    pub first: u128,
    /// Bytes of the value.
    pub len: u64,
    /// Bytes per chunk (never 0).
    pub chunk: u32,
    /// XXH3-64 of the whole value.
    pub checksum: u64,
}

impl StreamRef {
    /// Its chunks' blobs.
    pub fn blobs(&self) -> BigBlobs {
        BigBlobs {
            first: self.first,
            count: chunk_count(self.len, self.chunk),
        }
    }
    /// Where chunk `i` starts in the value, and its length.
    pub fn chunk_span(&self, i: u64) -> (u64, usize) {
        let start = i * u64::from(self.chunk);
        (
            start,
            (self.len - start).min(u64::from(self.chunk)) as usize,
        )
    }
}

/// The blobs of one big value: `count` blobs, the i-th being
/// `chunk_blob(first, i)` (a value in one file: that file alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigBlobs {
    /// The first blob (the value's file, or its stream's chunk 0).
    pub first: u128,
    /// How many.
    pub count: u64,
}

impl BigBlobs {
    /// Every blob id, in chunk order.
    pub fn iter(self) -> impl Iterator<Item = u128> {
        (0..self.count).map(move |i| chunk_blob(self.first, i))
    }
}

/// The blob holding chunk `i` of a stream whose chunk 0 is blob `first`: the
/// same upper 64 bits (the writer's process id prefix, which recovery reads
/// from a blob's name), the lower 64 bits counted up from `first`'s (mod 2^64).
#[inline]
pub fn chunk_blob(first: u128, i: u64) -> u128 {
    let hi = first >> 64 << 64;
    hi | u128::from((first as u64).wrapping_add(i))
}

/// How many chunks of `chunk` bytes a stream of `len` bytes takes (0 for an
/// empty one).
#[inline]
pub fn chunk_count(len: u64, chunk: u32) -> u64 {
    len.div_ceil(u64::from(chunk.max(1)))
}

fn encode_value(out: &mut Vec<u8>, v: &ValueRef<'_>) {
    match *v {
        ValueRef::Inline(b) => {
            out.push(TAG_INLINE);
            put_varint(out, b.len() as u64);
            out.extend_from_slice(b);
        }
        ValueRef::Segment {
            seq,
            off,
            len,
            checksum,
        } => {
            out.push(TAG_SEGMENT);
            put_u64(out, seq);
            put_u64(out, off);
            put_u32(out, len);
            put_u64(out, checksum);
        }
        ValueRef::File {
            blob,
            len,
            checksum,
        } => {
            out.push(TAG_FILE);
            put_u128(out, blob);
            put_u64(out, len);
            put_u64(out, checksum);
        }
        ValueRef::Stream(s) => {
            out.push(TAG_STREAM);
            put_u128(out, s.first);
            put_u64(out, s.len);
            put_u32(out, s.chunk);
            put_u64(out, s.checksum);
        }
        ValueRef::Pending(i) => {
            out.push(TAG_PENDING);
            put_u32(out, i);
        }
    }
}

/// One decoded item record.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub key: &'a [u8],
    pub id: ItemId,
    pub value: ValueRef<'a>,
}

fn decode_record<'a>(r: &mut Reader<'a>, allow_pending: bool) -> Result<Item<'a>, CodecError> {
    let klen = r.len_prefix()?;
    if klen > MAX_KEY_LEN {
        return Err(CodecError::new(format!(
            "key length {klen} exceeds the maximum"
        )));
    }
    let key = r.take(klen)?;
    let id = r.u128()?;
    let value = decode_value(r, allow_pending)?;
    Ok(Item { key, id, value })
}

#[inline]
fn decode_value<'a>(r: &mut Reader<'a>, allow_pending: bool) -> Result<ValueRef<'a>, CodecError> {
    Ok(match r.u8()? {
        TAG_INLINE => ValueRef::Inline(r.bytes()?),
        TAG_SEGMENT => ValueRef::Segment {
            seq: r.u64()?,
            off: r.u64()?,
            len: r.u32()?,
            checksum: r.u64()?,
        },
        TAG_FILE => ValueRef::File {
            blob: r.u128()?,
            len: r.u64()?,
            checksum: r.u64()?,
        },
        TAG_STREAM => {
            let (first, len, chunk, checksum) = (r.u128()?, r.u64()?, r.u32()?, r.u64()?);
            if chunk == 0 {
                return Err(CodecError::new("stream value with chunk size 0"));
            }
            ValueRef::Stream(StreamRef {
                first,
                len,
                chunk,
                checksum,
            })
        }
        TAG_PENDING if allow_pending => ValueRef::Pending(r.u32()?),
        t => return Err(CodecError::new(format!("unknown value tag {t}"))),
    })
}

#[derive(Clone, Debug)]
pub enum Node {
    Leaf(Leaf),
    Internal(Internal),
}

impl Node {
    pub fn mem_size(&self) -> usize {
        match self {
            Node::Leaf(l) => l.mem_size(),
            Node::Internal(n) => n.mem_size(),
        }
    }
    pub fn encode_with(
        &self,
        out: &mut Vec<u8>,
        resolve: &mut dyn FnMut(u32) -> ValueRef<'static>,
    ) {
        match self {
            Node::Leaf(l) => l.encode_with(out, resolve),
            Node::Internal(n) => {
                out.push(KIND_INTERNAL);
                put_varint(out, n.children.len() as u64);
                for c in &n.children {
                    put_u64(out, *c);
                }
                for s in &n.seps {
                    put_varint(out, s.key.len() as u64);
                    out.extend_from_slice(&s.key);
                    put_u128(out, s.id);
                }
            }
        }
    }
    /// Encode a node that holds no pending values.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_with(&mut out, &mut |_| ValueRef::Inline(&[]));
        out
    }

    /// Decode a node read from commit segment `seq`; segment value references with
    /// sequence 0 are resolved to `seq`. Never panics on arbitrary bytes.
    pub fn decode(bytes: &[u8], seq: u64) -> Result<Node, CodecError> {
        let mut r = Reader::new(bytes);
        let node = match r.u8()? {
            KIND_LEAF => {
                let n = r.count(19)?;
                let mut leaf = Leaf {
                    arena: Vec::with_capacity(r.remaining()),
                    prefixes: Vec::with_capacity(n),
                    locs: Vec::with_capacity(n),
                    dead: 0,
                    skip: 0,
                    common: 0,
                };
                let mut prev: Option<(&[u8], ItemId)> = None;
                for _ in 0..n {
                    let it = decode_record(&mut r, false)?;
                    if let Some((pk, pid)) = prev {
                        if cmp_item(pk, pid, it.key, it.id) != Ordering::Less {
                            return Err(CodecError::new("leaf items out of order"));
                        }
                    }
                    prev = Some((it.key, it.id));
                    let v = match it.value {
                        ValueRef::Segment {
                            seq: 0,
                            off,
                            len,
                            checksum,
                        } => ValueRef::Segment {
                            seq,
                            off,
                            len,
                            checksum,
                        },
                        v => v,
                    };
                    leaf.push(it.key, it.id, &v);
                }
                leaf.fit_skip();
                Node::Leaf(leaf)
            }
            KIND_INTERNAL => {
                let n = r.count(8)?;
                if n < 2 {
                    return Err(CodecError::new(
                        "internal node with fewer than two children",
                    ));
                }
                let mut children = Vec::with_capacity(n);
                for _ in 0..n {
                    children.push(r.u64()?);
                }
                let mut seps: Vec<Sep> = Vec::with_capacity(n - 1);
                for _ in 0..n - 1 {
                    let klen = r.len_prefix()?;
                    if klen > MAX_KEY_LEN {
                        return Err(CodecError::new("separator key too long"));
                    }
                    let key = r.take(klen)?;
                    let id = r.u128()?;
                    let s = Sep::new(key, id);
                    if let Some(p) = seps.last() {
                        if cmp_item(&p.key, p.id, &s.key, s.id) != Ordering::Less {
                            return Err(CodecError::new("separators out of order"));
                        }
                    }
                    seps.push(s);
                }
                Node::Internal(Internal::new(seps, children))
            }
            KIND_DELTA => {
                return Err(CodecError::new(
                    "a leaf delta where a full node image was expected",
                ))
            }
            k => return Err(CodecError::new(format!("unknown node kind {k}"))),
        };
        if !r.is_empty() {
            return Err(CodecError::new("trailing bytes after node"));
        }
        Ok(node)
    }
}
