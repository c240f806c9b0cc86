//! Reads of `NoCheck` transactions, straight from the snapshot.
//!
//! A NoCheck transaction is never validated and never replayed, so its reads need
//! neither a recorded op nor a read set: they run here instead of through
//! `Transaction::run`. They use the same tree algorithms over an untracked view
//! (nodes borrowed through the store's memo), and hand keys and values out as
//! slices borrowed from the leaf, so a caller that only looks at them copies
//! nothing. Results are the same as those of the recorded path by construction:
//! same descents, same steps, same bounds logic.

use super::view::View;
use super::{Transaction, TxState};
use crate::btree::node::{chunk_blob, Leaf, Node, StreamRef, ValueRef};
use crate::btree::tree::{self, NodeRead, Pos, Target, Tree};
use crate::engine::DbInner;
use crate::error::{Error, Result};
use bytes::Bytes;
use std::ops::Bound;
use std::sync::Arc;

/// Fetches the bytes of values kept outside the leaves (separate or big values).
pub(crate) struct Fetch<'a> {
    pub db: &'a DbInner,
    pub sid: u64,
    pub cache: bool,
    /// The sequence the transaction reads as of.
    pub snap_seq: u64,
}

impl Fetch<'_> {
    pub fn bytes(&self, v: &ValueRef<'_>) -> Result<Bytes> {
        match *v {
            ValueRef::Inline(b) => Ok(Bytes::copy_from_slice(b)),
            ValueRef::Pending(_) => Err(Error::InvalidOption(
                "a staged value was read outside its transaction".into(),
            )),
            ValueRef::Stream(s) => Ok(Bytes::from(self.db.read_stream_whole(
                self.sid,
                &s,
                |i| self.chunk(&s, i),
            )?)),
            ValueRef::File { blob, .. } => {
                let r = self.db.read_value(self.sid, v, self.cache);
                self.missing_as_too_old(r, blob)
            }
            _ => self.db.read_value(self.sid, v, self.cache),
        }
    }

    /// Chunk `i` of streamed value `s`, verified.
    pub fn chunk(&self, s: &StreamRef, i: u64) -> Result<Vec<u8>> {
        let r = self.db.read_chunk(self.sid, s, i);
        self.missing_as_too_old(r, chunk_blob(s.first, i))
    }

    /// A blob collected after a later commit released it (another process's
    /// snapshots past the grace period): retry with a newer snapshot. The log
    /// says which (engine/blobs.rs).
    fn missing_as_too_old<T>(&self, r: Result<T>, blob: u128) -> Result<T> {
        match r {
            Err(Error::Corrupt { detail, .. }) if detail == crate::engine::MISSING_BLOB => {
                Err(self.db.missing_blob(self.sid, blob, self.snap_seq))
            }
            r => r,
        }
    }
}

/// A value found by a snapshot read: borrowed from the leaf, or fetched.
pub(crate) enum Val<'a> {
    Borrowed(&'a [u8]),
    Fetched(Bytes),
}

impl Val<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Val::Borrowed(b) => b,
            Val::Fetched(b) => b,
        }
    }
    pub fn into_bytes(self) -> Bytes {
        match self {
            Val::Borrowed(b) => Bytes::copy_from_slice(b),
            Val::Fetched(b) => b,
        }
    }
}

fn as_leaf(n: &Node) -> Result<&Leaf> {
    match n {
        Node::Leaf(l) => Ok(l),
        Node::Internal(_) => Err(Error::InvalidOption(
            "a cursor position points at an internal node".into(),
        )),
    }
}

impl Transaction {
    /// Whether reads skip the op log and the read set (see this module).
    pub(crate) fn reads_snapshot(&self) -> bool {
        self.mode == crate::TxMode::NoCheck
    }

    /// Run `f` over an untracked view of the store behind handle `h`.
    fn snap_view<R>(
        &self,
        h: u32,
        f: impl FnOnce(&mut View<'_>, &Tree, &Fetch<'_>) -> Result<R>,
    ) -> Result<R> {
        let Ok(mut st) = self.st.try_borrow_mut() else {
            return Err(Error::InvalidOption(
                "the transaction was used from inside one of its own callbacks".into(),
            ));
        };
        if st.ended {
            return Err(Error::TxEnded);
        }
        let sid = st.handle_store(h)?;
        let snap_seq = st.snap.seq;
        let st: &mut TxState = &mut st;
        let (mut v, t) = st.view(&self.db, sid, false);
        let fetch = Fetch {
            db: &self.db,
            sid,
            cache: v.st.info.options.cache_values,
            snap_seq,
        };
        f(&mut v, &t, &fetch)
    }

    /// The leaf holding the first item with `key`, and its index (NoCheck only).
    pub(crate) fn snap_find(&self, h: u32, key: &[u8]) -> Result<Option<(Arc<Node>, usize)>> {
        self.snap_view(h, |v, t, _| {
            let mut pos = Pos::default();
            // Usually the descent ends on the item: no further lookup of the leaf.
            let hit = match v.descend_into(t, Target::KeyGe(key), &mut pos)? {
                Some(n) => {
                    let l = as_leaf(n)?;
                    (pos.idx < l.len()).then(|| l.key_is(pos.idx, key).then(|| n.clone()))
                }
                None => None,
            };
            if let Some(hit) = hit {
                return Ok(hit.map(|n| (n, pos.idx)));
            }
            let found = tree::settle_forward(v, &mut pos)?;
            if !found {
                return Ok(None);
            }
            let leaf = v.node(pos.leaf)?;
            if as_leaf(leaf)?.key(pos.idx) != key {
                return Ok(None);
            }
            Ok(Some((leaf.clone(), pos.idx)))
        })
    }

    /// The value of the first item with `key`, given to `f` (NoCheck only). `f`
    /// runs after the transaction's state is released, so it may use the
    /// transaction again.
    pub(crate) fn snap_get<R>(
        &self,
        h: u32,
        key: &[u8],
        f: impl FnOnce(Val<'_>) -> R,
    ) -> Result<Option<R>> {
        let Some((leaf, idx)) = self.snap_find(h, key)? else {
            return Ok(None);
        };
        let v = match as_leaf(&leaf)?.item(idx).value {
            ValueRef::Inline(b) => Val::Borrowed(b),
            other => Val::Fetched(self.snap_view(h, |_, _, fetch| fetch.bytes(&other))?),
        };
        Ok(Some(f(v)))
    }
}

/// Records a range walk asks the CPU for when it enters a leaf.
const PREFETCH_RECORDS: usize = 8;

/// A walk over a key range of a NoCheck transaction's snapshot. Steps inside the
/// current leaf touch nothing but the leaf it holds.
#[derive(Default)]
pub(crate) struct SnapWalk {
    pos: Pos,
    leaf: Option<Arc<Node>>,
    started: bool,
}

impl SnapWalk {
    /// Move within the current leaf, if the next item is in it.
    fn step_in_leaf(&mut self, desc: bool) -> bool {
        let Some(Node::Leaf(l)) = self.leaf.as_deref() else {
            return false;
        };
        let i = self.pos.idx;
        if desc {
            if i > 0 && i - 1 < l.len() {
                self.pos.idx = i - 1;
                return true;
            }
        } else if i + 1 < l.len() {
            self.pos.idx = i + 1;
            return true;
        }
        false
    }

    fn leaf(&self) -> Result<&Leaf> {
        match self.leaf.as_deref() {
            Some(n) => as_leaf(n),
            None => Err(Error::InvalidOption(
                "the range walk is not positioned".into(),
            )),
        }
    }

    /// Move to the next item within `lo..hi` (the first one on the first call).
    /// False when the range is exhausted; the walk must not be advanced after that.
    pub fn advance(
        &mut self,
        tx: &Transaction,
        h: u32,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        desc: bool,
    ) -> Result<bool> {
        loop {
            let moved = (self.started && self.step_in_leaf(desc)) || {
                let started = std::mem::replace(&mut self.started, true);
                let pos = &mut self.pos;
                let (moved, leaf) = tx.snap_view(h, |v, t, _| {
                    let moved = if !started {
                        // Where a cursor's first move would go (as `RawRange` does it).
                        let (target, back) = match (desc, lo, hi) {
                            (false, Bound::Unbounded, _) => (Target::First, false),
                            (false, Bound::Included(k) | Bound::Excluded(k), _) => {
                                (Target::KeyGe(k), false)
                            }
                            (true, _, Bound::Unbounded) => (Target::End, true),
                            (true, _, Bound::Included(k) | Bound::Excluded(k)) => {
                                (Target::KeyGt(k), true)
                            }
                        };
                        let leaf = v.descend_into(t, target, pos)?;
                        // Usually the first item is in the leaf reached: take it from
                        // the descent (what `settle_forward` or `step_back` would do).
                        let here = match leaf.map(|n| (n, &**n)) {
                            Some((n, Node::Leaf(l))) => {
                                if !back && pos.idx < l.len() {
                                    Some(n.clone())
                                } else if back && pos.idx > 0 && pos.idx <= l.len() {
                                    pos.idx -= 1;
                                    Some(n.clone())
                                } else {
                                    None
                                }
                            }
                            _ => None,
                        };
                        if here.is_some() {
                            return Ok((true, here));
                        }
                        if back {
                            tree::step_back(v, pos)?
                        } else {
                            tree::settle_forward(v, pos)?
                        }
                    } else if desc {
                        tree::step_back(v, pos)?
                    } else {
                        tree::step_forward(v, pos)?
                    };
                    let leaf = if moved {
                        Some(v.node(pos.leaf)?.clone())
                    } else {
                        None
                    };
                    Ok((moved, leaf))
                })?;
                if moved {
                    self.leaf = leaf;
                    // The walk reads the next records one after the other: ask for
                    // them all at once.
                    if let Some(Node::Leaf(l)) = self.leaf.as_deref() {
                        l.prefetch_records(self.pos.idx, desc, PREFETCH_RECORDS);
                    }
                }
                moved
            };
            if !moved {
                return Ok(false);
            }
            let k = self.key()?;
            // Skip items equal to an excluded starting bound.
            let skip = match (desc, lo, hi) {
                (false, Bound::Excluded(lo), _) => k == lo,
                (true, _, Bound::Excluded(hi)) => k == hi,
                _ => false,
            };
            if skip {
                continue;
            }
            return Ok(if desc {
                match lo {
                    Bound::Unbounded => true,
                    Bound::Included(lo) => k >= lo,
                    Bound::Excluded(lo) => k > lo,
                }
            } else {
                match hi {
                    Bound::Unbounded => true,
                    Bound::Included(hi) => k <= hi,
                    Bound::Excluded(hi) => k < hi,
                }
            });
        }
    }

    /// Call `f` with each item within `lo..hi` (descending if `desc`) until it
    /// returns false; the number of items given. The walk (`advance`) finds the
    /// first item and crosses leaves; items inside a leaf are taken straight from
    /// it, checked only against the far bound (items equal to an excluded near
    /// bound can only come first, and `advance` skipped them).
    pub fn scan(
        &mut self,
        tx: &Transaction,
        h: u32,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        desc: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64> {
        let far = if desc { lo } else { hi };
        let within = |k: &[u8]| match (desc, far) {
            (_, Bound::Unbounded) => true,
            (false, Bound::Included(b)) => k <= b,
            (false, Bound::Excluded(b)) => k < b,
            (true, Bound::Included(b)) => k >= b,
            (true, Bound::Excluded(b)) => k > b,
        };
        let mut n = 0;
        while self.advance(tx, h, lo, hi, desc)? {
            let l = self.leaf()?;
            let mut i = self.pos.idx;
            loop {
                if i >= l.len() {
                    return Err(Error::InvalidOption(
                        "the range walk is past its leaf".into(),
                    ));
                }
                let it = l.item(i);
                let v = match it.value {
                    ValueRef::Inline(b) => Val::Borrowed(b),
                    other => Val::Fetched(tx.snap_view(h, |_, _, fetch| fetch.bytes(&other))?),
                };
                n += 1;
                if !f(it.key, v.bytes()) {
                    return Ok(n);
                }
                let next = if desc { i.checked_sub(1) } else { Some(i + 1) };
                match next {
                    Some(j) if j < l.len() => {
                        if !within(l.key(j)) {
                            return Ok(n);
                        }
                        i = j;
                    }
                    // The leaf's last item in this direction: `advance` goes on.
                    _ => break,
                }
            }
            self.pos.idx = i;
        }
        Ok(n)
    }

    /// The key of the current item.
    pub fn key(&self) -> Result<&[u8]> {
        let l = self.leaf()?;
        if self.pos.idx >= l.len() {
            return Err(Error::InvalidOption(
                "the range walk is past its leaf".into(),
            ));
        }
        Ok(l.key(self.pos.idx))
    }

    /// The key and value of the current item.
    pub fn item<'w>(&'w self, tx: &Transaction, h: u32) -> Result<(&'w [u8], Val<'w>)> {
        let l = self.leaf()?;
        if self.pos.idx >= l.len() {
            return Err(Error::InvalidOption(
                "the range walk is past its leaf".into(),
            ));
        }
        let it = l.item(self.pos.idx);
        let v = match it.value {
            ValueRef::Inline(b) => Val::Borrowed(b),
            other => Val::Fetched(tx.snap_view(h, |_, _, fetch| fetch.bytes(&other))?),
        };
        Ok((it.key, v))
    }
}
