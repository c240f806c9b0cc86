//! Transactions: optimistic, staged in memory, validated and merged at commit.

pub(crate) mod commit;
mod memo;
mod oplog;
pub(crate) mod ops;
pub(crate) mod snapshot;
pub(crate) mod view;

use crate::btree::node::BigBlobs;
use crate::btree::node::{ItemId, Node, ValueRef, MAX_KEY_LEN};
use crate::btree::tree::{self, Pos, Target, Tree};
use crate::codec::wire::checksum;
use crate::engine::DbInner;
use crate::error::{Error, Result};
use crate::options::{StoreOptions, ValuePlacement};
use crate::registry::{DbState, StoreInfo};
use crate::TxMode;
use bytes::Bytes;
use ops::{error_hash, ItemOut, Move, Op, OpOut, OwnedValue, PutMode, StreamRef};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use view::{SlotState, StoreTx, View};

/// Largest value kept inside a leaf.
pub const MAX_INLINE_VALUE: usize = 1 << 20;

/// What the snapshot said about a store name, and what it means in this transaction now.
#[derive(Clone, Debug)]
pub(crate) struct NameObs {
    pub seen: Option<(u64, u64)>,
    pub now: Option<u64>,
}

#[derive(Clone)]
pub(crate) struct CursorState {
    pub h: u32,
    pub pos: Option<Pos>,
    pub cur: Option<(Bytes, ItemId)>,
    pub modcount: u64,
}

pub(crate) struct TxState {
    pub id: u128,
    pub snap: Arc<DbState>,
    pub stores: FxHashMap<u64, StoreTx>,
    pub names: HashMap<String, NameObs>,
    pub created: Vec<u64>,
    pub dropped: Vec<u64>,
    pub handles: Vec<u64>,
    pub cursors: Vec<CursorState>,
    /// The transaction listed the stores: validation then also fails on a store
    /// created since (every name it saw is in `names`).
    pub listed: bool,
    pub ops: oplog::OpLog,
    /// False once the op log was dropped for size: a conflict then fails outright.
    pub mergeable: bool,
    pub recording: bool,
    pub staged: usize,
    pub ended: bool,
    pub item_base: u128,
    pub next_item: u128,
    /// Big-value blobs written by earlier attempts (replays): deleted unless adopted.
    pub old_big: Vec<(u64, u128)>,
    /// Values this transaction wrote as streams (store id, stream), in every
    /// attempt: a replay places the same chunks again. Those the commit does not
    /// adopt are deleted when the transaction ends.
    pub streams: Vec<(u64, StreamRef)>,
    /// The snapshot registered with the database at begin (released at the end).
    pub first_snap: u64,
}

/// A transaction. Not `Sync`: use it from one thread. Dropping it uncommitted rolls it back.
///
/// A transaction reads a snapshot and stages its writes; [`Transaction::commit`]
/// validates what it read against commits made meanwhile, merges, and publishes.
/// A [`TxMode::ForWriting`] transaction whose reads were changed fails with an
/// error of kind [`ErrorKind::Retry`](crate::ErrorKind::Retry): run it again.
///
/// ```
/// use sop::{Database, DbOptions, StoreOptions, TxMode};
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path().join("db"), DbOptions::default())?;
/// let tx = db.begin(TxMode::ForWriting)?;
/// let accounts = tx.create_store::<String, i64>("accounts", StoreOptions::default())?;
/// accounts.add(&"alice".into(), &100)?;
/// accounts.add(&"bob".into(), &0)?;
/// drop(accounts);
/// tx.commit()?;
///
/// // Move 30 from alice to bob, retrying if another commit got in the way.
/// loop {
///     let tx = db.begin(TxMode::ForWriting)?;
///     let accounts = tx.open_store::<String, i64>("accounts")?;
///     let alice = accounts.get(&"alice".into())?.unwrap_or(0);
///     let bob = accounts.get(&"bob".into())?.unwrap_or(0);
///     accounts.update(&"alice".into(), &(alice - 30))?;
///     accounts.update(&"bob".into(), &(bob + 30))?;
///     drop(accounts);
///     match tx.commit() {
///         Ok(()) => break,
///         Err(e) if e.is_conflict() => continue,
///         Err(e) => return Err(e),
///     }
/// }
/// let tx = db.begin(TxMode::NoCheck)?;
/// assert_eq!(tx.list_stores()?, ["accounts"]);
/// tx.rollback(); // a read-only transaction may end either way
/// # Ok::<(), sop::Error>(())
/// ```
pub struct Transaction {
    pub(crate) db: Arc<DbInner>,
    pub(crate) mode: TxMode,
    pub(crate) max_commit_time: Duration,
    pub(crate) st: RefCell<TxState>,
}

impl Transaction {
    pub(crate) fn new(
        db: Arc<DbInner>,
        mode: TxMode,
        snap: Arc<DbState>,
        max_commit_time: Duration,
    ) -> Self {
        let id = uuid::Uuid::now_v7().as_u128();
        let item_base = next_item_base();
        let snap_seq = snap.seq;
        db.register_snapshot(snap_seq);
        db.add_user();
        Transaction {
            db,
            mode,
            max_commit_time,
            st: RefCell::new(TxState {
                id,
                snap,
                stores: FxHashMap::default(),
                names: HashMap::new(),
                created: vec![],
                dropped: vec![],
                handles: vec![],
                cursors: vec![],
                listed: false,
                ops: oplog::OpLog::default(),
                mergeable: mode != TxMode::NoCheck,
                recording: mode != TxMode::NoCheck,
                staged: 0,
                ended: false,
                item_base,
                next_item: item_base,
                old_big: vec![],
                streams: vec![],
                first_snap: snap_seq,
            }),
        }
    }

    /// The mode the transaction was begun in.
    pub fn mode(&self) -> TxMode {
        self.mode
    }
    /// The transaction's id (as recorded in its commit record).
    pub fn id(&self) -> u128 {
        self.st.borrow().id
    }
    /// The commit sequence this transaction reads as of.
    pub fn snapshot_seq(&self) -> u64 {
        self.st.borrow().snap.seq
    }

    /// Run one op: check, execute, record.
    #[inline]
    pub(crate) fn run(&self, op: Op<'_>) -> Result<OpOut> {
        let mut st = self.st.borrow_mut();
        if st.ended {
            return Err(Error::TxEnded);
        }
        if op.is_write() && self.mode != TxMode::ForWriting {
            return Err(Error::ReadOnly(self.mode));
        }
        if op.is_write() {
            let w = op.weight();
            let budget = self.db.opts.txn_memory_budget;
            if st.staged + w > budget {
                return Err(Error::TooLarge {
                    budget,
                    staged: st.staged + w,
                });
            }
            st.staged += w;
        }
        // Puts and removes, nearly every op of a large transaction, go straight to
        // their code (`run` is inlined into each store method, so this match is
        // settled where the op is made).
        let res = match op {
            Op::Put {
                h,
                mode,
                key,
                value,
            } => st.exec_put(&self.db, h, mode, key, PutValue::Bytes(value)),
            Op::Remove { h, key } => st.exec_remove(&self.db, h, key),
            _ => st.exec(&self.db, self.mode, &op),
        };
        if st.recording {
            let outcome = match &res {
                Ok(out) => Some(oplog::Outcome::of(out)),
                Err(e) => deterministic_error(e).map(|k| oplog::Outcome::Hash(error_hash(k))),
            };
            if let Some(outcome) = outcome {
                // Consecutive steps of one cursor in one direction fold into one entry.
                if let Op::Move {
                    c,
                    mv: mv @ (Move::Next | Move::Prev),
                } = &op
                {
                    let forward = matches!(mv, Move::Next);
                    if let Some((last, lh)) = st.ops.last_kept_mut() {
                        let folded = match last {
                            Op::Steps {
                                c: lc,
                                forward: lf,
                                n,
                            } if *lc == *c && *lf == forward => {
                                *n += 1;
                                true
                            }
                            Op::Move { c: lc, mv: lmv }
                                if *lc == *c
                                    && matches!(lmv, Move::Next) == forward
                                    && matches!(lmv, Move::Next | Move::Prev) =>
                            {
                                *last = Op::Steps {
                                    c: *c,
                                    forward,
                                    n: 2,
                                };
                                true
                            }
                            _ => false,
                        };
                        if folded {
                            *lh = ops::chain(*lh, outcome.hash());
                            return res;
                        }
                    }
                }
                st.ops.push(op, outcome);
                if st.ops.mem_size() > self.db.opts.txn_memory_budget / 4 {
                    st.ops = oplog::OpLog::default();
                    st.recording = false;
                    st.mergeable = false;
                }
            }
        }
        res
    }

    /// Take the bytes of a value returned by an op (no copy for inline values).
    pub(crate) fn take_value(&self, h: u32, v: OwnedValue) -> Result<Bytes> {
        match v {
            OwnedValue::Inline(b) => Ok(b),
            other => self.value_bytes(h, &other),
        }
    }

    /// Fetch the bytes of a value returned by an op.
    pub(crate) fn value_bytes(&self, h: u32, v: &OwnedValue) -> Result<Bytes> {
        if let OwnedValue::Inline(b) = v {
            return Ok(b.clone());
        }
        let st = self.st.borrow();
        let sid = st.handles[h as usize];
        let s = st.stores.get(&sid).ok_or(Error::TxEnded)?;
        match v {
            OwnedValue::Inline(b) => Ok(b.clone()),
            OwnedValue::Pending(i) => Ok(s.pending[*i as usize].clone()),
            other => snapshot::Fetch {
                db: &self.db,
                sid,
                cache: s.info.options.cache_values,
                snap_seq: st.snap.seq,
            }
            .bytes(&other.as_ref()),
        }
    }

    pub(crate) fn handle_info(&self, h: u32) -> Result<Arc<StoreInfo>> {
        let st = self.st.borrow();
        let sid = st.handles[h as usize];
        st.stores
            .get(&sid)
            .map(|s| s.info.clone())
            .ok_or_else(|| Error::StoreNotFound(format!("#{h}")))
    }

    /// Names of all stores visible to this transaction, sorted. Recorded as a read:
    /// a store created or dropped by a commit after the snapshot makes this
    /// transaction's commit fail with `Conflict`.
    pub fn list_stores(&self) -> Result<Vec<String>> {
        match self.run(Op::ListStores)? {
            OpOut::Names(names) => Ok(names),
            _ => unreachable!(),
        }
    }

    /// Commit: durable when it returns Ok.
    pub fn commit(self) -> Result<()> {
        commit::commit(&self)
    }

    /// Discard all changes.
    pub fn rollback(self) {
        self.abandon();
    }

    fn abandon(&self) {
        let Ok(mut st) = self.st.try_borrow_mut() else {
            return;
        };
        if st.ended {
            return;
        }
        st.ended = true;
        let mut blobs = std::mem::take(&mut st.old_big);
        for (sid, s) in &st.stores {
            blobs.extend(s.big.iter().map(|b| (*sid, *b)));
        }
        for (sid, s) in std::mem::take(&mut st.streams) {
            blobs.extend(s.blobs().iter().map(|b| (sid, b)));
        }
        drop(st);
        for (sid, b) in blobs {
            let _ = self.db.blobs.remove(&self.db.blobs.location(sid, b));
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.abandon();
        let seq = self.st.get_mut().first_snap;
        self.db.release_snapshot(seq);
        self.db.release_user();
    }
}

/// Item ids: time-ordered (UUIDv7-like) and increasing within a process, so equal
/// keys in a duplicate store keep their insertion order. Each transaction takes a
/// base and counts up by 2 from it; bases are 2^40 apart.
fn next_item_base() -> u128 {
    static LAST: parking_lot::Mutex<u128> = parking_lot::Mutex::new(0);
    let now = uuid::Uuid::now_v7().as_u128();
    let mut last = LAST.lock();
    let base = now.max(*last + (1 << 40)) | 1;
    *last = base;
    base
}

/// Errors that follow from what the transaction read (recorded for replay).
fn deterministic_error(e: &Error) -> Option<&'static str> {
    match e {
        Error::StoreNotFound(_) => Some("store-not-found"),
        Error::StoreExists(_) => Some("store-exists"),
        Error::StoreMismatch { .. } => Some("store-mismatch"),
        Error::InvalidOption(_) => Some("invalid"),
        Error::KeyTooLong { .. } => Some("key-too-long"),
        _ => None,
    }
}

impl TxState {
    /// The store a name refers to in this transaction, remembering what the snapshot said.
    pub(crate) fn resolve(&mut self, name: &str) -> Option<u64> {
        if let Some(o) = self.names.get(name) {
            return o.now;
        }
        let seen = self
            .snap
            .store_by_name(name)
            .map(|s| (s.info.id, s.created_seq));
        self.names.insert(
            name.to_string(),
            NameObs {
                seen,
                now: seen.map(|s| s.0),
            },
        );
        seen.map(|s| s.0)
    }

    fn store_tx(&mut self, sid: u64) -> Result<&mut StoreTx> {
        if !self.stores.contains_key(&sid) {
            let s = self
                .snap
                .stores
                .get(&sid)
                .ok_or_else(|| Error::StoreNotFound(format!("id {sid:#x}")))?;
            let stx = StoreTx::new(s.info.clone(), s.created_seq, s.count);
            self.stores.insert(sid, stx);
        }
        Ok(self.stores.get_mut(&sid).unwrap())
    }

    fn handle_store(&self, h: u32) -> Result<u64> {
        let sid = *self
            .handles
            .get(h as usize)
            .ok_or_else(|| Error::StoreNotFound(format!("handle {h}")))?;
        if self.dropped.contains(&sid) || !self.stores.contains_key(&sid) {
            return Err(Error::StoreNotFound(format!(
                "store was dropped in this transaction (handle {h})"
            )));
        }
        Ok(sid)
    }

    fn view<'a>(&'a mut self, db: &'a DbInner, sid: u64, track: bool) -> (View<'a>, Tree) {
        let snap = self.snap.stores.get(&sid).map(|a| &**a);
        let st = self.stores.get_mut(&sid).expect("store loaded");
        let o = &st.info.options;
        let t = Tree {
            root: st.info.root,
            max: o.slot_length,
            balance: o.leaf_load_balancing,
        };
        (
            View {
                db,
                snap,
                st,
                track,
                uncached: false,
            },
            t,
        )
    }

    fn new_item_id(&mut self) -> ItemId {
        let id = self.next_item;
        self.next_item = self.next_item.wrapping_add(2);
        id
    }

    /// A put (`Op::Put`).
    fn exec_put(
        &mut self,
        db: &DbInner,
        h: u32,
        mode: PutMode,
        key: &[u8],
        value: PutValue<'_>,
    ) -> Result<OpOut> {
        let sid = self.handle_store(h)?;
        if key.len() > MAX_KEY_LEN {
            return Err(Error::KeyTooLong {
                len: key.len(),
                max: MAX_KEY_LEN,
            });
        }
        let id = self.new_item_id();
        let (mut v, t) = self.view(db, sid, true);
        let unique = v.st.info.options.unique;
        let inline = match value {
            PutValue::Bytes(value) => inline_placement(&v.st.info.options, value).then_some(value),
            PutValue::Stream(_) => None,
        };
        // One loan of the finger for the whole put.
        v.with_finger(|v, f| {
            // An upsert of a new key into the finger's leaf, the common
            // case of a load: one lookup of the leaf, nothing else.
            if let Some(value) = inline.filter(|_| mode == PutMode::Upsert) {
                if tree::insert_new_fingered(v, &t, key, id, &ValueRef::Inline(value), f)? {
                    v.st.count_delta += 1;
                    return Ok(OpOut::Bool(true));
                }
            }
            // Usually one descent finds both the insertion point and the first
            // item with the key; otherwise search by key, then insert by (key, id).
            let mut pos = Pos::default();
            let (found, exact) = match tree::put_position(v, &t, key, id, f, &mut pos)? {
                Some(found) => (found, true),
                None => {
                    tree::descend_into(v, &t, Target::KeyGe(key), &mut pos)?;
                    let found = tree::settle_forward(v, &mut pos)? && key_at_is(v, &pos, key)?;
                    (found, false)
                }
            };
            let insert = match mode {
                PutMode::Add => !(unique && found),
                PutMode::AddIfAbsent => !found,
                PutMode::Update | PutMode::Upsert => !found && mode == PutMode::Upsert,
            };
            if insert {
                let staged = stage_put(db, v.st, sid, value)?;
                if exact {
                    tree::insert_at_fingered(v, &t, &pos, key, id, &staged, Some(f))?;
                } else {
                    tree::insert(v, &t, key, id, &staged)?;
                }
                v.st.count_delta += 1;
                Ok(OpOut::Bool(true))
            } else if found && matches!(mode, PutMode::Update | PutMode::Upsert) {
                let staged = stage_put(db, v.st, sid, value)?;
                release_value(v, &pos)?;
                set_value(v, &pos, &staged)?;
                Ok(OpOut::Bool(mode == PutMode::Update))
            } else {
                Ok(OpOut::Bool(false))
            }
        })
    }

    /// A removal (`Op::Remove`).
    fn exec_remove(&mut self, db: &DbInner, h: u32, key: &[u8]) -> Result<OpOut> {
        let sid = self.handle_store(h)?;
        let (mut v, t) = self.view(db, sid, true);
        // A key the finger covers: one look at its leaf.
        match v.with_finger(|v, f| tree::remove_fingered(v, &t, key, f))? {
            tree::FingerRemove::NotCovered => {}
            tree::FingerRemove::Absent => return Ok(OpOut::Bool(false)),
            tree::FingerRemove::Removed(blobs) => {
                if let Some(b) = blobs {
                    release_blobs(v.st, b);
                }
                v.st.count_delta -= 1;
                return Ok(OpOut::Bool(true));
            }
        }
        let mut pos = Pos::default();
        // Whether the item the descent reached has the key, looked at in the
        // same lookup of the leaf (`None`: past the leaf's end).
        let (_, here) = v.with_finger(|v, f| {
            tree::descend_fingered_with(v, &t, Target::KeyGe(key), key, &mut pos, f, |l, i| {
                (i < l.len()).then(|| l.key_is(i, key))
            })
        })?;
        let found = match here {
            Some(found) => found,
            None => tree::settle_forward(&mut v, &mut pos)? && key_at_is(&mut v, &pos, key)?,
        };
        if found {
            release_value(&mut v, &pos)?;
            tree::remove_at(&mut v, &t, &pos)?;
            v.st.count_delta -= 1;
            Ok(OpOut::Bool(true))
        } else {
            Ok(OpOut::Bool(false))
        }
    }

    pub(crate) fn exec(&mut self, db: &DbInner, mode: TxMode, op: &Op<'_>) -> Result<OpOut> {
        let track = mode != TxMode::NoCheck;
        match op {
            Op::OpenStore(o) => self.open_store(db, o),
            Op::ListStores => Ok(OpOut::Names(self.list_stores())),
            Op::DropStore { name } => {
                let sid = self
                    .resolve(name)
                    .ok_or_else(|| Error::StoreNotFound(name.clone()))?;
                if let Some(i) = self.created.iter().position(|s| *s == sid) {
                    self.created.remove(i);
                    self.stores.remove(&sid);
                } else {
                    self.store_tx(sid)?;
                    self.dropped.push(sid);
                }
                self.names.get_mut(name).unwrap().now = None;
                Ok(OpOut::Unit)
            }
            Op::Put {
                h,
                mode,
                key,
                value,
            } => self.exec_put(db, *h, *mode, key, PutValue::Bytes(value)),
            Op::PutStream(p) => self.exec_put(db, p.h, p.mode, &p.key, PutValue::Stream(&p.stream)),
            Op::Remove { h, key } => self.exec_remove(db, *h, key),
            Op::Get { h, key } => {
                use crate::btree::tree::NodeStore;
                let key = *key;
                let sid = self.handle_store(*h)?;
                let (mut v, t) = self.view(db, sid, track);
                let mut pos = Pos::default();
                v.with_finger(|v, f| {
                    tree::descend_fingered(v, &t, Target::KeyGe(key), key, &mut pos, f)
                })?;
                // Fast path: the key is in the leaf the descent reached.
                let leaf = v.get(pos.leaf)?;
                if let Node::Leaf(l) = &*leaf {
                    if pos.idx < l.len() {
                        if l.key(pos.idx) != key {
                            return Ok(OpOut::Item(None));
                        }
                        let it = l.item(pos.idx);
                        // The key is the one asked for: no need to copy it.
                        return Ok(OpOut::Item(Some(ItemOut {
                            key: Bytes::new(),
                            id: it.id,
                            value: OwnedValue::from_ref(&it.value),
                        })));
                    }
                }
                if tree::settle_forward(&mut v, &mut pos)? {
                    let mut it = item_out(&mut v, &pos)?;
                    if it.key == key[..] {
                        it.key = Bytes::new();
                        return Ok(OpOut::Item(Some(it)));
                    }
                }
                Ok(OpOut::Item(None))
            }
            Op::Count { h } => {
                let sid = self.handle_store(*h)?;
                let st = self.stores.get_mut(&sid).unwrap();
                st.count_read = true;
                Ok(OpOut::Count(st.count()))
            }
            Op::NewCursor { h } => {
                self.handle_store(*h)?;
                self.cursors.push(CursorState {
                    h: *h,
                    pos: None,
                    cur: None,
                    modcount: 0,
                });
                Ok(OpOut::Handle(self.cursors.len() as u32 - 1))
            }
            Op::Move { c, mv } => self.move_cursor(db, track, *c, mv),
            Op::RemoveCurrent { c } => {
                let pos = self.current_pos(db, *c)?;
                let sid = self.handle_store(self.cursors[*c as usize].h)?;
                let (mut v, t) = self.view(db, sid, true);
                release_value(&mut v, &pos)?;
                tree::remove_at(&mut v, &t, &pos)?;
                v.st.count_delta -= 1;
                Ok(OpOut::Bool(true))
            }
            Op::Steps { .. } => unreachable!("steps are replayed by the commit, not executed"),
            Op::SetCurrentValue { c, value } => {
                let pos = self.current_pos(db, *c)?;
                let sid = self.handle_store(self.cursors[*c as usize].h)?;
                let (mut v, _) = self.view(db, sid, true);
                let staged = stage_value(db, v.st, sid, value)?;
                release_value(&mut v, &pos)?;
                set_value(&mut v, &pos, &staged)?;
                Ok(OpOut::Bool(true))
            }
        }
    }

    /// The names of the stores this transaction sees, sorted; each one is
    /// resolved, so validation checks that it still means the same store.
    fn list_stores(&mut self) -> Vec<String> {
        self.listed = true;
        let mut names: Vec<String> = self.snap.names.keys().cloned().collect();
        for (n, o) in &self.names {
            if o.now.is_some() && !names.contains(n) {
                names.push(n.clone());
            }
        }
        names.sort();
        names.dedup();
        names.retain(|n| self.resolve(n).is_some());
        names
    }

    fn open_store(&mut self, db: &DbInner, o: &ops::OpenStore) -> Result<OpOut> {
        let (name, key_type) = (&o.name[..], &o.key_type[..]);
        let (create, key_spec) = (o.create.as_ref(), o.key_spec.as_ref());
        let existing = self.resolve(name);
        let sid = match (existing, create) {
            (Some(_), Some(_)) => return Err(Error::StoreExists(name.to_string())),
            (None, None) => return Err(Error::StoreNotFound(name.to_string())),
            (Some(sid), None) => {
                let st = self.store_tx(sid)?;
                if !o.any_key_type && st.info.key_type != key_type {
                    return Err(Error::StoreMismatch {
                        name: name.to_string(),
                        detail: format!(
                            "created with key type {}, opened with {key_type}",
                            st.info.key_type
                        ),
                    });
                }
                sid
            }
            (None, Some(opts)) => {
                opts.validate()?;
                if let Some(spec) = key_spec {
                    if key_type != crate::codec::json_key::JSON_KEY_TYPE {
                        return Err(Error::InvalidOption(format!(
                            "an index spec needs key type json, not {key_type}"
                        )));
                    }
                    spec.validate().map_err(|e| Error::InvalidOption(e.0))?;
                }
                if name.is_empty() || name.len() > 255 {
                    return Err(Error::InvalidOption(format!(
                        "store name {name:?} must be 1 to 255 bytes"
                    )));
                }
                let fresh = || (db.vfs.random() as u64).max(1);
                let mut sid = fresh();
                while self.snap.stores.contains_key(&sid) || self.stores.contains_key(&sid) {
                    sid = fresh();
                }
                let root = fresh();
                let info = StoreInfo {
                    id: sid,
                    name: name.to_string(),
                    options: opts.clone(),
                    key_type: key_type.to_string(),
                    root,
                    key_spec: key_spec.cloned(),
                };
                let mut st = StoreTx::new(Arc::new(info), 0, 0);
                st.nodes.insert(
                    root,
                    view::Slot {
                        node: Arc::new(Node::Leaf(Default::default())),
                        seen: 0,
                        state: SlotState::Dirty,
                    },
                );
                st.dirty = true;
                self.stores.insert(sid, st);
                self.created.push(sid);
                self.names.get_mut(name).unwrap().now = Some(sid);
                let _ = db;
                sid
            }
        };
        self.handles.push(sid);
        let created_seq = self.stores.get(&sid).map_or(0, |s| s.created_seq);
        Ok(OpOut::Store {
            h: self.handles.len() as u32 - 1,
            id: if created_seq == 0 { 0 } else { sid },
            created_seq,
        })
    }

    /// The cursor's position, re-found after structural changes. Errors if it is not on an item.
    fn current_pos(&mut self, db: &DbInner, c: u32) -> Result<Pos> {
        let cs = self
            .cursors
            .get(c as usize)
            .cloned()
            .ok_or(Error::TxEnded)?;
        let sid = self.handle_store(cs.h)?;
        let (key, id) = cs
            .cur
            .clone()
            .ok_or_else(|| Error::InvalidOption("the cursor is not on an item".into()))?;
        let (mut v, t) = self.view(db, sid, true);
        let mut pos = match cs.pos {
            Some(p) if cs.modcount == v.st.modcount => p,
            _ => tree::descend(&mut v, &t, Target::Item(&key, id))?,
        };
        if !tree::settle_forward(&mut v, &mut pos)?
            || leaf_key(&mut v, &pos)? != key[..]
            || leaf_id(&mut v, &pos)? != id
        {
            return Err(Error::InvalidOption("the cursor's item was removed".into()));
        }
        Ok(pos)
    }

    fn move_cursor(&mut self, db: &DbInner, track: bool, c: u32, mv: &Move) -> Result<OpOut> {
        // Take the cursor's position out (no copies); it is put back at the end (an
        // error on the way leaves the cursor unpositioned).
        let (h, cs_cur, cs_pos, cs_modcount) = {
            let cs = self.cursors.get_mut(c as usize).ok_or(Error::TxEnded)?;
            (cs.h, cs.cur.take(), cs.pos.take(), cs.modcount)
        };
        let sid = self.handle_store(h)?;
        let (mut v, t) = self.view(db, sid, track);
        let modcount = v.st.modcount;
        let mut pos;
        let ok = match mv {
            Move::First => {
                pos = tree::descend(&mut v, &t, Target::First)?;
                tree::settle_forward(&mut v, &mut pos)?
            }
            Move::Last => {
                pos = tree::descend(&mut v, &t, Target::End)?;
                tree::step_back(&mut v, &mut pos)?
            }
            Move::SeekGe(k) | Move::Find(k) => {
                pos = tree::descend(&mut v, &t, Target::KeyGe(k))?;
                tree::settle_forward(&mut v, &mut pos)?
            }
            Move::SeekLe(k) => {
                pos = tree::descend(&mut v, &t, Target::KeyGt(k))?;
                tree::step_back(&mut v, &mut pos)?
            }
            Move::FindWithId(f) => {
                pos = tree::descend(&mut v, &t, Target::Item(&f.0, f.1))?;
                tree::settle_forward(&mut v, &mut pos)?
            }
            Move::Next | Move::Prev => {
                let Some((key, id)) = cs_cur else {
                    // An unpositioned cursor starts at the matching end.
                    let start = if matches!(mv, Move::Next) {
                        Move::First
                    } else {
                        Move::Last
                    };
                    return self.move_cursor(db, track, c, &start);
                };
                let fresh = cs_modcount == modcount && cs_pos.is_some();
                pos = match cs_pos {
                    Some(p) if fresh => p,
                    _ => tree::descend(&mut v, &t, Target::Item(&key, id))?,
                };
                if matches!(mv, Move::Next) {
                    let on_cur = fresh
                        || (tree::settle_forward(&mut v, &mut pos)?
                            && leaf_key(&mut v, &pos)? == key[..]
                            && leaf_id(&mut v, &pos)? == id);
                    if on_cur {
                        tree::step_forward(&mut v, &mut pos)?
                    } else {
                        tree::settle_forward(&mut v, &mut pos)?
                    }
                } else {
                    tree::step_back(&mut v, &mut pos)?
                }
            }
        };
        let out = if ok {
            Some(item_out(&mut v, &pos)?)
        } else {
            None
        };
        let out = match (mv, out) {
            (Move::Find(k), Some(it)) if it.key != k[..] => {
                // Leave the cursor at the neighbour, report a miss.
                let cs = &mut self.cursors[c as usize];
                cs.cur = Some((it.key.clone(), it.id));
                cs.pos = Some(pos);
                cs.modcount = modcount;
                return Ok(OpOut::Item(None));
            }
            (Move::FindWithId(f), Some(it)) if it.key != f.0[..] || it.id != f.1 => None,
            (_, o) => o,
        };
        let cs = &mut self.cursors[c as usize];
        match &out {
            Some(it) => {
                cs.cur = Some((it.key.clone(), it.id));
                cs.pos = Some(pos);
                cs.modcount = modcount;
            }
            None => {
                cs.cur = None;
                cs.pos = None;
            }
        }
        Ok(OpOut::Item(out))
    }
}

fn leaf_of(v: &mut View<'_>, pos: &Pos) -> Result<Arc<Node>> {
    use crate::btree::tree::NodeStore;
    v.get(pos.leaf)
}

fn leaf_key(v: &mut View<'_>, pos: &Pos) -> Result<Bytes> {
    let n = leaf_of(v, pos)?;
    let Node::Leaf(l) = &*n else { unreachable!() };
    Ok(Bytes::copy_from_slice(l.key(pos.idx)))
}

/// Whether the item at `pos` has key `key` (compared in place).
fn key_at_is(v: &mut View<'_>, pos: &Pos, key: &[u8]) -> Result<bool> {
    use crate::btree::tree::NodeRead;
    let Node::Leaf(l) = &**v.node(pos.leaf)? else {
        unreachable!()
    };
    Ok(l.key_is(pos.idx, key))
}

fn leaf_id(v: &mut View<'_>, pos: &Pos) -> Result<ItemId> {
    let n = leaf_of(v, pos)?;
    let Node::Leaf(l) = &*n else { unreachable!() };
    Ok(l.id(pos.idx))
}

fn item_out(v: &mut View<'_>, pos: &Pos) -> Result<ItemOut> {
    let n = leaf_of(v, pos)?;
    let Node::Leaf(l) = &*n else { unreachable!() };
    let it = l.item(pos.idx);
    Ok(ItemOut {
        key: Bytes::copy_from_slice(it.key),
        id: it.id,
        value: OwnedValue::from_ref(&it.value),
    })
}

/// Note that the item at `pos` is losing its value: a committed big-value blob
/// becomes garbage once this transaction commits.
fn release_value(v: &mut View<'_>, pos: &Pos) -> Result<()> {
    use crate::btree::tree::NodeRead;
    let Node::Leaf(l) = &**v.node(pos.leaf)? else {
        unreachable!()
    };
    if let Some(blobs) = l.big_blobs(pos.idx) {
        release_blobs(v.st, blobs);
    }
    Ok(())
}

/// Note that a big value (its file, or its stream's chunks) lost its item:
/// garbage once the transaction commits, unless the transaction wrote it itself
/// (then it is simply not adopted).
fn release_blobs(st: &mut StoreTx, blobs: BigBlobs) {
    if !st.big.contains(&blobs.first) && !st.streams.contains(&blobs.first) {
        st.released.extend(blobs.iter());
    }
}

/// The value of a put: bytes the caller gave, or a stream written already.
#[derive(Clone, Copy)]
pub(crate) enum PutValue<'v> {
    Bytes(&'v [u8]),
    Stream(&'v StreamRef),
}

/// Place a put's value: bytes by the store's options (`stage_value`); a stream
/// as it was written (the store's placement was checked before its chunks were).
fn stage_put<'v>(
    db: &DbInner,
    st: &mut StoreTx,
    sid: u64,
    value: PutValue<'v>,
) -> Result<ValueRef<'v>> {
    match value {
        PutValue::Bytes(b) => stage_value(db, st, sid, b),
        PutValue::Stream(s) => {
            st.streams.push(s.first);
            Ok(ValueRef::Stream(*s))
        }
    }
}

fn set_value(v: &mut View<'_>, pos: &Pos, value: &ValueRef<'_>) -> Result<()> {
    use crate::btree::tree::NodeStore;
    let Node::Leaf(l) = v.get_mut(pos.leaf)? else {
        unreachable!()
    };
    l.set_value(pos.idx, value);
    Ok(())
}

/// Whether `stage_value` keeps `value` inside the leaf (and fails for nothing).
fn inline_placement(o: &StoreOptions, value: &[u8]) -> bool {
    match o.values {
        ValuePlacement::Auto => value.len() <= crate::options::AUTO_INLINE_MAX,
        ValuePlacement::Inline => value.len() <= MAX_INLINE_VALUE,
        ValuePlacement::Separate | ValuePlacement::Big => false,
    }
}

/// Place a value according to the store's options; the reference the leaf keeps.
fn stage_value<'v>(
    db: &DbInner,
    st: &mut StoreTx,
    sid: u64,
    value: &'v [u8],
) -> Result<ValueRef<'v>> {
    let placement = match st.info.options.values {
        ValuePlacement::Auto if value.len() <= crate::options::AUTO_INLINE_MAX => {
            ValuePlacement::Inline
        }
        ValuePlacement::Auto => ValuePlacement::Separate,
        p => p,
    };
    match placement {
        ValuePlacement::Auto => unreachable!("resolved above"),
        ValuePlacement::Inline => {
            if value.len() > MAX_INLINE_VALUE {
                return Err(Error::InvalidOption(format!(
                    "value of {} bytes is too big to keep in the node (max {MAX_INLINE_VALUE}); create the store with values Separate or Big",
                    value.len()
                )));
            }
            Ok(ValueRef::Inline(value))
        }
        ValuePlacement::Separate => {
            if value.len() > u32::MAX as usize {
                return Err(Error::InvalidOption(
                    "separate values are limited to 4 GiB; use Big".into(),
                ));
            }
            st.pending.push(Bytes::copy_from_slice(value));
            Ok(ValueRef::Pending(st.pending.len() as u32 - 1))
        }
        ValuePlacement::Big => {
            // A fresh blob per write: a committed blob is never overwritten. Its
            // name starts with this process's id so recovery can find it if we die.
            let blob = (db.proc_id >> 64) << 64 | u128::from(db.vfs.random() as u64);
            // Listed first: a failed write's leftovers go with the transaction's.
            st.big.push(blob);
            db.blobs.put(sid, blob, value)?;
            Ok(ValueRef::File {
                blob,
                len: value.len() as u64,
                checksum: checksum(value),
            })
        }
    }
}
