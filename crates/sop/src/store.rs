//! Stores inside a transaction: a raw byte-level store and a typed wrapper.

use crate::btree::node::ItemId;
use crate::codec::json_key::IndexSpec;
use crate::codec::key::Key;
use crate::codec::value::Value;
use crate::error::{Error, Result};
use crate::options::StoreOptions;
use crate::registry::StoreInfo;
use crate::txn::ops::{ItemOut, Move, Op, OpOut, PutMode};
use crate::txn::snapshot::SnapWalk;
use crate::txn::Transaction;
use bytes::Bytes;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

/// What `Transaction::store_info` reports.
#[derive(Clone, Debug)]
pub struct StoreStats {
    /// What was saved about the store when it was created.
    pub info: StoreInfo,
    /// Items, as the transaction sees them.
    pub count: u64,
}

impl Transaction {
    fn open_handle(&self, name: &str, key_type: &str, create: Option<StoreOptions>) -> Result<u32> {
        self.open_handle_spec(name, key_type, create, None)
    }
    /// Open an existing store whatever its key type (recorded as an op, so its
    /// absence is validated and replayed like any other read).
    fn open_handle_any(&self, name: &str) -> Result<u32> {
        let op = Op::OpenStore(Box::new(crate::txn::ops::OpenStore {
            name: name.to_string(),
            key_type: String::new(),
            any_key_type: true,
            create: None,
            key_spec: None,
        }));
        match self.run(op)? {
            OpOut::Store { h, .. } => Ok(h),
            _ => unreachable!(),
        }
    }
    /// Open a store, or create it with `create` and (JSON stores) an index spec.
    pub(crate) fn open_handle_spec(
        &self,
        name: &str,
        key_type: &str,
        create: Option<StoreOptions>,
        key_spec: Option<IndexSpec>,
    ) -> Result<u32> {
        let op = Op::OpenStore(Box::new(crate::txn::ops::OpenStore {
            name: name.to_string(),
            key_type: key_type.to_string(),
            any_key_type: false,
            create,
            key_spec,
        }));
        match self.run(op)? {
            OpOut::Store { h, .. } => Ok(h),
            _ => unreachable!(),
        }
    }
    pub(crate) fn raw_store(&self, h: u32) -> RawStore<'_> {
        RawStore { tx: self, h }
    }
    /// Create a store with typed keys and values.
    pub fn create_store<K: Key, V: Value>(
        &self,
        name: &str,
        opts: StoreOptions,
    ) -> Result<Store<'_, K, V>> {
        let h = self.open_handle(name, &K::type_name(), Some(opts))?;
        Ok(Store {
            raw: RawStore { tx: self, h },
            _p: PhantomData,
        })
    }
    /// Open an existing typed store; its key type must match the one it was created with.
    pub fn open_store<K: Key, V: Value>(&self, name: &str) -> Result<Store<'_, K, V>> {
        let h = self.open_handle(name, &K::type_name(), None)?;
        Ok(Store {
            raw: RawStore { tx: self, h },
            _p: PhantomData,
        })
    }
    /// Open the store, creating it with `opts` if it does not exist. An existing
    /// store created with other options is an error.
    pub fn open_or_create_store<K: Key, V: Value>(
        &self,
        name: &str,
        opts: StoreOptions,
    ) -> Result<Store<'_, K, V>> {
        match self.open_store::<K, V>(name) {
            Err(Error::StoreNotFound(_)) => self.create_store(name, opts),
            Ok(s) => {
                let have = &s.info()?.options;
                if *have != opts {
                    return Err(Error::StoreMismatch {
                        name: name.to_string(),
                        detail: format!("created with options {have:?}, opened with {opts:?}"),
                    });
                }
                Ok(s)
            }
            Err(e) => Err(e),
        }
    }
    /// Create a store whose keys and values are raw bytes; `key_type` names the
    /// encoding of its keys, checked when it is opened again. JSON stores (key type
    /// `"json"`) have a format of their own: create them with `create_json_store`.
    pub fn create_raw_store(
        &self,
        name: &str,
        key_type: &str,
        opts: StoreOptions,
    ) -> Result<RawStore<'_>> {
        if key_type == crate::codec::json_key::JSON_KEY_TYPE {
            return Err(Error::InvalidOption(format!(
                "key type {key_type:?} is reserved for JSON stores; use Transaction::create_json_store"
            )));
        }
        Ok(RawStore {
            tx: self,
            h: self.open_handle(name, key_type, Some(opts))?,
        })
    }
    /// Open any store at the byte level, whatever its key type.
    pub fn open_raw_store(&self, name: &str) -> Result<RawStore<'_>> {
        Ok(RawStore {
            tx: self,
            h: self.open_handle_any(name)?,
        })
    }
    /// Remove a store and everything in it (durable with the commit).
    pub fn drop_store(&self, name: &str) -> Result<()> {
        self.run(Op::DropStore {
            name: name.to_string(),
        })
        .map(|_| ())
    }
    /// A store's saved info and its item count as this transaction sees it.
    pub fn store_info(&self, name: &str) -> Result<StoreStats> {
        let s = self.open_raw_store(name)?;
        Ok(StoreStats {
            info: (*s.info()?).clone(),
            count: s.count()?,
        })
    }
}

/// A store at the byte level: keys are compared as bytes.
#[derive(Clone, Copy)]
pub struct RawStore<'t> {
    pub(crate) tx: &'t Transaction,
    pub(crate) h: u32,
}

fn as_bool(o: OpOut) -> bool {
    matches!(o, OpOut::Bool(true))
}

impl<'t> RawStore<'t> {
    /// What was saved about the store when it was created.
    pub fn info(&self) -> Result<Arc<StoreInfo>> {
        self.tx.handle_info(self.h)
    }
    fn put(&self, key: &[u8], value: &[u8], mode: PutMode) -> Result<bool> {
        let op = Op::Put {
            h: self.h,
            mode,
            key,
            value,
        };
        Ok(as_bool(self.tx.run(op)?))
    }
    pub(crate) fn put_owned(&self, key: Bytes, value: Vec<u8>, mode: PutMode) -> Result<bool> {
        self.put(&key, &value, mode)
    }
    /// Insert. On a unique store an existing key leaves the store unchanged and returns false.
    pub fn add(&self, key: &[u8], value: impl AsRef<[u8]>) -> Result<bool> {
        self.put(key, value.as_ref(), PutMode::Add)
    }
    /// Insert only if no item has this key.
    pub fn add_if_absent(&self, key: &[u8], value: impl AsRef<[u8]>) -> Result<bool> {
        self.put(key, value.as_ref(), PutMode::AddIfAbsent)
    }
    /// Replace the value of the (first) item with this key; false if there is none.
    pub fn update(&self, key: &[u8], value: impl AsRef<[u8]>) -> Result<bool> {
        self.put(key, value.as_ref(), PutMode::Update)
    }
    /// Update or insert; true if it inserted.
    pub fn upsert(&self, key: &[u8], value: impl AsRef<[u8]>) -> Result<bool> {
        self.put(key, value.as_ref(), PutMode::Upsert)
    }
    /// Remove the (first) item with this key; false if there is none.
    pub fn remove(&self, key: &[u8]) -> Result<bool> {
        Ok(as_bool(self.tx.run(Op::Remove { h: self.h, key })?))
    }
    pub(crate) fn get_item(&self, key: &[u8]) -> Result<Option<ItemOut>> {
        match self.tx.run(Op::Get { h: self.h, key })? {
            OpOut::Item(i) => Ok(i),
            _ => unreachable!(),
        }
    }
    /// The value of the (first) item with this key.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        if self.tx.reads_snapshot() {
            return self.tx.snap_get(self.h, key, |v| v.into_bytes());
        }
        match self.get_item(key)? {
            Some(it) => Ok(Some(self.tx.take_value(self.h, it.value)?)),
            None => Ok(None),
        }
    }
    /// Call `f` with the value of the (first) item with this key, and return what it
    /// returns; `None` if there is no such item. Like [`RawStore::get`], but in a
    /// `NoCheck` transaction an inline value is lent straight from the node, not
    /// copied (other modes record the read as `get` does, then lend its result).
    ///
    /// ```no_run
    /// # fn f(s: &sop::RawStore<'_>) -> sop::Result<()> {
    /// let mut out = Vec::new();
    /// let found = s.get_with(b"key", |v| out.extend_from_slice(v))?.is_some();
    /// # Ok(()) }
    /// ```
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        if self.tx.reads_snapshot() {
            return self.tx.snap_get(self.h, key, |v| f(v.bytes()));
        }
        Ok(self.get(key)?.map(|v| f(&v)))
    }
    /// Whether an item with this key exists.
    pub fn contains(&self, key: &[u8]) -> Result<bool> {
        if self.tx.reads_snapshot() {
            return Ok(self.tx.snap_find(self.h, key)?.is_some());
        }
        Ok(self.get_item(key)?.is_some())
    }
    /// Number of items, as this transaction sees it.
    pub fn count(&self) -> Result<u64> {
        match self.tx.run(Op::Count { h: self.h })? {
            OpOut::Count(n) => Ok(n),
            _ => unreachable!(),
        }
    }
    /// A cursor, not yet positioned.
    pub fn cursor(&self) -> Result<RawCursor<'t>> {
        match self.tx.run(Op::NewCursor { h: self.h })? {
            OpOut::Handle(c) => Ok(RawCursor {
                tx: self.tx,
                h: self.h,
                c,
                cur: None,
            }),
            _ => unreachable!(),
        }
    }
    /// Items with keys in `lo..hi` (bytes), ascending or descending.
    pub fn range(
        &self,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        desc: bool,
    ) -> Result<RawRange<'t>> {
        let by = if self.tx.reads_snapshot() {
            RangeBy::Snapshot {
                tx: self.tx,
                h: self.h,
                walk: SnapWalk::default(),
            }
        } else {
            RangeBy::Cursor {
                cur: self.cursor()?,
                started: false,
            }
        };
        Ok(RawRange {
            by,
            lo,
            hi,
            desc,
            done: false,
        })
    }
    /// Call `f` with the key and value of each item with a key in `lo..hi`, in
    /// ascending order (descending if `desc`), until it returns false; returns how
    /// many items it was given. The same items as [`RawStore::range`], but in a
    /// `NoCheck` transaction keys and inline values are lent straight from the
    /// nodes instead of copied. In other modes the scan is recorded exactly as the
    /// `range` iteration it performs (it stops as soon as `f` returns false).
    ///
    /// ```no_run
    /// # use std::ops::Bound;
    /// # fn f(s: &sop::RawStore<'_>) -> sop::Result<()> {
    /// // The first ten items from "m" on.
    /// let mut n = 0;
    /// s.scan(Bound::Included(&b"m"[..]), Bound::Unbounded, false, |k, v| {
    ///     println!("{k:?}: {} bytes", v.len());
    ///     n += 1;
    ///     n < 10
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn scan(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        desc: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64> {
        let mut n = 0;
        if self.tx.reads_snapshot() {
            return SnapWalk::default().scan(self.tx, self.h, lo, hi, desc, f);
        }
        let owned = |b: Bound<&[u8]>| b.map(<[u8]>::to_vec);
        for item in self.range(owned(lo), owned(hi), desc)? {
            let (k, v) = item?;
            n += 1;
            if !f(&k, &v) {
                break;
            }
        }
        Ok(n)
    }
}

/// A position in a store. Moving returns whether it landed on an item.
pub struct RawCursor<'t> {
    tx: &'t Transaction,
    h: u32,
    c: u32,
    cur: Option<ItemOut>,
}

impl RawCursor<'_> {
    fn mv(&mut self, mv: Move) -> Result<bool> {
        match self.tx.run(Op::Move { c: self.c, mv })? {
            OpOut::Item(i) => {
                let found = i.is_some();
                self.cur = i;
                Ok(found)
            }
            _ => unreachable!(),
        }
    }
    /// Position at the first item.
    pub fn first(&mut self) -> Result<bool> {
        self.mv(Move::First)
    }
    /// Position at the last item.
    pub fn last(&mut self) -> Result<bool> {
        self.mv(Move::Last)
    }
    /// The next item (the first one if the cursor is not positioned).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<bool> {
        self.mv(Move::Next)
    }
    /// The previous item (the last one if the cursor is not positioned).
    pub fn prev(&mut self) -> Result<bool> {
        self.mv(Move::Prev)
    }
    /// Position at the first item with key >= `key`.
    pub fn seek_ge(&mut self, key: &[u8]) -> Result<bool> {
        self.mv(Move::SeekGe(Bytes::copy_from_slice(key)))
    }
    /// Position at the last item with key <= `key`.
    pub fn seek_le(&mut self, key: &[u8]) -> Result<bool> {
        self.mv(Move::SeekLe(Bytes::copy_from_slice(key)))
    }
    /// Position at the first item with exactly this key. On a miss the cursor stays
    /// at the first item with a greater key (so `next` continues from there).
    pub fn find(&mut self, key: &[u8]) -> Result<bool> {
        self.mv(Move::Find(Bytes::copy_from_slice(key)))
    }
    /// Position at the item with this key and item id (one of several duplicates).
    pub fn find_with_id(&mut self, key: &[u8], id: ItemId) -> Result<bool> {
        self.mv(Move::FindWithId(Box::new((
            Bytes::copy_from_slice(key),
            id,
        ))))
    }
    /// The current item's key (None when not positioned).
    pub fn key(&self) -> Option<&[u8]> {
        self.cur.as_ref().map(|i| &i.key[..])
    }
    /// The current key and value, moved out (the cursor keeps its position).
    fn take_current(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        match self.cur.take() {
            Some(i) => Ok(Some((i.key, self.tx.take_value(self.h, i.value)?))),
            None => Ok(None),
        }
    }
    /// The current item's id (None when not positioned).
    pub fn id(&self) -> Option<ItemId> {
        self.cur.as_ref().map(|i| i.id)
    }
    /// The current item's value (None when not positioned).
    pub fn value(&self) -> Result<Option<Bytes>> {
        match &self.cur {
            Some(i) => Ok(Some(self.tx.value_bytes(self.h, &i.value)?)),
            None => Ok(None),
        }
    }
    /// Remove the current item; `next` then moves to the item after it.
    pub fn remove_current(&mut self) -> Result<()> {
        self.tx.run(Op::RemoveCurrent { c: self.c }).map(|_| ())
    }
    /// Replace the current item's value.
    pub fn update_current_value(&mut self, value: Vec<u8>) -> Result<()> {
        let r = self.tx.run(Op::SetCurrentValue {
            c: self.c,
            value: Bytes::from(value),
        });
        r.map(|_| ())
    }
}

/// An iterator over a key range.
pub struct RawRange<'t> {
    by: RangeBy<'t>,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    desc: bool,
    done: bool,
}

enum RangeBy<'t> {
    /// Through a cursor's recorded moves (transactions that validate).
    Cursor { cur: RawCursor<'t>, started: bool },
    /// Straight from the snapshot (NoCheck transactions).
    Snapshot {
        tx: &'t Transaction,
        h: u32,
        walk: SnapWalk,
    },
}

fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}

impl RawRange<'_> {
    fn step(&mut self) -> Result<bool> {
        let RangeBy::Cursor { cur, started } = &mut self.by else {
            unreachable!("only cursor ranges step a cursor")
        };
        let moved = if !*started {
            *started = true;
            if !self.desc {
                match &self.lo {
                    Bound::Unbounded => cur.first()?,
                    Bound::Included(k) | Bound::Excluded(k) => cur.seek_ge(k)?,
                }
            } else {
                match &self.hi {
                    Bound::Unbounded => cur.last()?,
                    Bound::Included(k) | Bound::Excluded(k) => cur.seek_le(k)?,
                }
            }
        } else if self.desc {
            cur.prev()?
        } else {
            cur.next()?
        };
        if !moved {
            return Ok(false);
        }
        // Skip items equal to an excluded starting bound.
        loop {
            let k = cur.key().unwrap();
            let skip = match (self.desc, &self.lo, &self.hi) {
                (false, Bound::Excluded(lo), _) => k == &lo[..],
                (true, _, Bound::Excluded(hi)) => k == &hi[..],
                _ => false,
            };
            if !skip {
                break;
            }
            let more = if self.desc { cur.prev()? } else { cur.next()? };
            if !more {
                return Ok(false);
            }
        }
        let k = cur.key().unwrap();
        let within = if self.desc {
            match &self.lo {
                Bound::Unbounded => true,
                Bound::Included(lo) => k >= &lo[..],
                Bound::Excluded(lo) => k > &lo[..],
            }
        } else {
            match &self.hi {
                Bound::Unbounded => true,
                Bound::Included(hi) => k <= &hi[..],
                Bound::Excluded(hi) => k < &hi[..],
            }
        };
        Ok(within)
    }

    fn next_item(&mut self) -> Result<Option<(Bytes, Bytes)>> {
        match &mut self.by {
            RangeBy::Snapshot { tx, h, walk } => {
                if !walk.advance(tx, *h, bound_ref(&self.lo), bound_ref(&self.hi), self.desc)? {
                    return Ok(None);
                }
                let (k, v) = walk.item(tx, *h)?;
                Ok(Some((Bytes::copy_from_slice(k), v.into_bytes())))
            }
            RangeBy::Cursor { .. } => {
                if !self.step()? {
                    return Ok(None);
                }
                let RangeBy::Cursor { cur, .. } = &mut self.by else {
                    unreachable!()
                };
                Ok(Some(cur.take_current()?.expect("positioned")))
            }
        }
    }
}

impl Iterator for RawRange<'_> {
    type Item = Result<(Bytes, Bytes)>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_item() {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A store with typed keys and values, ordered by key ([`Key`] encodes keys so
/// that their bytes sort in the keys' natural order). Its lifetime is the
/// transaction's: open the store again in the next transaction.
///
/// ```
/// use sop::{Database, DbOptions, StoreOptions, TxMode};
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path().join("db"), DbOptions::default())?;
/// let tx = db.begin(TxMode::ForWriting)?;
/// let scores = tx.create_store::<(String, u32), f64>("scores", StoreOptions::default())?;
/// scores.add(&("ada".into(), 2), &9.5)?;
/// scores.add(&("ada".into(), 1), &7.0)?;
/// scores.add(&("bob".into(), 1), &8.0)?;
/// assert!(!scores.add(&("bob".into(), 1), &1.0)?, "unique keys: the second add is refused");
/// scores.upsert(&("bob".into(), 1), &8.5)?;
///
/// // Ada's rounds, in key order.
/// let ada: Vec<(u32, f64)> = scores
///     .range(("ada".to_string(), 0)..("ada".to_string(), u32::MAX))?
///     .map(|item| item.map(|((_, round), score)| (round, score)))
///     .collect::<sop::Result<_>>()?;
/// assert_eq!(ada, [(1, 7.0), (2, 9.5)]);
///
/// // A cursor moves both ways.
/// let mut c = scores.cursor()?;
/// assert!(c.last()?);
/// assert_eq!(c.item()?, Some((("bob".to_string(), 1), 8.5)));
/// assert!(c.prev()?);
/// assert_eq!(c.value()?, Some(9.5));
/// drop((c, scores));
/// tx.commit()?;
/// # Ok::<(), sop::Error>(())
/// ```
pub struct Store<'t, K, V> {
    raw: RawStore<'t>,
    _p: PhantomData<fn() -> (K, V)>,
}

fn enc<V: Value>(v: &V) -> Result<Vec<u8>> {
    Ok(v.encode_value()?)
}

impl<'t, K: Key, V: Value> Store<'t, K, V> {
    /// The same store, with byte keys and values.
    pub fn raw(&self) -> RawStore<'t> {
        self.raw
    }
    /// What was saved about the store when it was created.
    pub fn info(&self) -> Result<Arc<StoreInfo>> {
        self.raw.info()
    }
    fn k(key: &K) -> Bytes {
        Bytes::from(key.to_key_bytes())
    }
    /// Insert. On a unique store an existing key leaves the store unchanged and returns false.
    pub fn add(&self, key: &K, value: &V) -> Result<bool> {
        self.raw.put_owned(Self::k(key), enc(value)?, PutMode::Add)
    }
    /// Insert only if no item has this key.
    pub fn add_if_absent(&self, key: &K, value: &V) -> Result<bool> {
        self.raw
            .put_owned(Self::k(key), enc(value)?, PutMode::AddIfAbsent)
    }
    /// Replace the value of the (first) item with this key; false if there is none.
    pub fn update(&self, key: &K, value: &V) -> Result<bool> {
        self.raw
            .put_owned(Self::k(key), enc(value)?, PutMode::Update)
    }
    /// Update or insert; true if it inserted.
    pub fn upsert(&self, key: &K, value: &V) -> Result<bool> {
        self.raw
            .put_owned(Self::k(key), enc(value)?, PutMode::Upsert)
    }
    /// Remove the (first) item with this key; false if there is none.
    pub fn remove(&self, key: &K) -> Result<bool> {
        self.raw.remove(&Self::k(key))
    }
    /// The value of the (first) item with this key.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        match self.raw.get(&Self::k(key))? {
            Some(b) => Ok(Some(V::decode_value(&b)?)),
            None => Ok(None),
        }
    }
    /// Whether an item with this key exists.
    pub fn contains(&self, key: &K) -> Result<bool> {
        self.raw.contains(&key.to_key_bytes())
    }
    /// Number of items, as this transaction sees it.
    pub fn count(&self) -> Result<u64> {
        self.raw.count()
    }
    /// A cursor, not yet positioned.
    pub fn cursor(&self) -> Result<Cursor<'t, K, V>> {
        Ok(Cursor {
            raw: self.raw.cursor()?,
            _p: PhantomData,
        })
    }
    fn bounds<R: RangeBounds<K>>(r: &R) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let b = |x: Bound<&K>| match x {
            Bound::Included(k) => Bound::Included(k.to_key_bytes()),
            Bound::Excluded(k) => Bound::Excluded(k.to_key_bytes()),
            Bound::Unbounded => Bound::Unbounded,
        };
        (b(r.start_bound()), b(r.end_bound()))
    }
    /// Items with keys in `r`, ascending.
    pub fn range<R: RangeBounds<K>>(&self, r: R) -> Result<Range<'t, K, V>> {
        let (lo, hi) = Self::bounds(&r);
        Ok(Range {
            raw: self.raw.range(lo, hi, false)?,
            _p: PhantomData,
        })
    }
    /// Items with keys in `r`, descending.
    pub fn range_desc<R: RangeBounds<K>>(&self, r: R) -> Result<Range<'t, K, V>> {
        let (lo, hi) = Self::bounds(&r);
        Ok(Range {
            raw: self.raw.range(lo, hi, true)?,
            _p: PhantomData,
        })
    }
    /// All items, ascending.
    pub fn iter(&self) -> Result<Range<'t, K, V>> {
        self.range(..)
    }
}

/// A typed cursor.
pub struct Cursor<'t, K, V> {
    raw: RawCursor<'t>,
    _p: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Value> Cursor<'_, K, V> {
    /// Position at the first item.
    pub fn first(&mut self) -> Result<bool> {
        self.raw.first()
    }
    /// Position at the last item.
    pub fn last(&mut self) -> Result<bool> {
        self.raw.last()
    }
    /// The next item (the first one if the cursor is not positioned).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<bool> {
        self.raw.next()
    }
    /// The previous item (the last one if the cursor is not positioned).
    pub fn prev(&mut self) -> Result<bool> {
        self.raw.prev()
    }
    /// Position at the first item with key >= `key`.
    pub fn seek_ge(&mut self, key: &K) -> Result<bool> {
        self.raw.seek_ge(&key.to_key_bytes())
    }
    /// Position at the last item with key <= `key`.
    pub fn seek_le(&mut self, key: &K) -> Result<bool> {
        self.raw.seek_le(&key.to_key_bytes())
    }
    /// Position at the first item with exactly this key. On a miss the cursor stays
    /// at the first item with a greater key (so `next` continues from there).
    pub fn find(&mut self, key: &K) -> Result<bool> {
        self.raw.find(&key.to_key_bytes())
    }
    /// Position at the item with this key and item id (one of several duplicates).
    pub fn find_with_id(&mut self, key: &K, id: ItemId) -> Result<bool> {
        self.raw.find_with_id(&key.to_key_bytes(), id)
    }
    /// The current item's key (None when not positioned).
    pub fn key(&self) -> Result<Option<K>> {
        self.raw
            .key()
            .map(|b| K::from_key_bytes(b).map_err(Error::from))
            .transpose()
    }
    /// The current item's id (None when not positioned).
    pub fn id(&self) -> Option<ItemId> {
        self.raw.id()
    }
    /// The current item's value (None when not positioned).
    pub fn value(&self) -> Result<Option<V>> {
        match self.raw.value()? {
            Some(b) => Ok(Some(V::decode_value(&b)?)),
            None => Ok(None),
        }
    }
    /// The current item's key and value (None when not positioned).
    pub fn item(&self) -> Result<Option<(K, V)>> {
        match (self.key()?, self.value()?) {
            (Some(k), Some(v)) => Ok(Some((k, v))),
            _ => Ok(None),
        }
    }
    /// Remove the current item; `next` then moves to the item after it.
    pub fn remove_current(&mut self) -> Result<()> {
        self.raw.remove_current()
    }
    /// Replace the current item's value.
    pub fn update_current_value(&mut self, value: &V) -> Result<()> {
        self.raw.update_current_value(enc(value)?)
    }
}

/// A typed range iterator.
pub struct Range<'t, K, V> {
    raw: RawRange<'t>,
    _p: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Value> Iterator for Range<'_, K, V> {
    type Item = Result<(K, V)>;
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.raw.next()?;
        Some(r.and_then(|(k, v)| Ok((K::from_key_bytes(&k)?, V::decode_value(&v)?))))
    }
}
