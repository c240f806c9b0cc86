//! The live handles. A handle given to C is the address of a reference-counted
//! Rust object that the registry keeps alive; every call looks the address up
//! (under the registry's lock) before it uses the object, so a null, closed,
//! freed or mistyped handle is reported as `SOP_ERR_BAD_HANDLE` instead of being
//! dereferenced. The C pointer itself is never dereferenced.

use crate::error::{FfiError, FfiResult};
use parking_lot::{Mutex, RwLock};
use sop::{Database, JsonStore, RawCursor, RawStore, Transaction};
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, LazyLock};

/// An open database (opaque to C).
pub struct SopDb {
    /// Calls share it (read); `sop_close` takes it (write, after calls in flight).
    pub(crate) db: RwLock<Option<Database>>,
}

/// A transaction (opaque to C). Its stores and cursors hold it alive; once it is
/// committed, rolled back or freed, the slot is empty and they report
/// `SOP_ERR_TX_ENDED`.
pub struct SopTx {
    pub(crate) slot: Mutex<TxSlot>,
    pub(crate) id: u128,
    pub(crate) snapshot_seq: u64,
}

/// A store opened in a transaction (opaque to C): a key of its transaction's
/// `TxSlot::stores`.
pub struct SopStore {
    pub(crate) tx: Arc<SopTx>,
    pub(crate) key: u64,
}

/// A cursor over a store's range (opaque to C): a key of its transaction's
/// `TxSlot::cursors`.
pub struct SopCursor {
    pub(crate) tx: Arc<SopTx>,
    pub(crate) key: u64,
}

pub(crate) enum StoreKind {
    Json(JsonStore<'static>),
    Raw(RawStore<'static>),
}

pub(crate) struct CursorState {
    pub raw: RawCursor<'static>,
    pub json: bool,
    pub spec: Option<sop::IndexSpec>,
    pub lo: Bound<Vec<u8>>,
    pub hi: Bound<Vec<u8>>,
    pub desc: bool,
    pub on_item: bool,
}

/// A transaction and the engine's store and cursor objects that borrow it (the
/// `'static` lifetime of those stands for "while `tx` is `Some`").
///
/// Soundness: the `Transaction` is boxed, so its address does not change while
/// the slot holds it; the stores and cursors that borrow it live in this slot
/// only and are dropped before it ([`TxSlot::end`]); every use of any of them
/// happens under the slot's mutex, which serializes them (the engine's
/// `Transaction` is `Send` but not `Sync`).
pub(crate) struct TxSlot {
    tx: Option<Box<Transaction>>,
    pub stores: HashMap<u64, StoreKind>,
    pub cursors: HashMap<u64, CursorState>,
    next: u64,
}
// SAFETY: see the type's documentation: the slot is only reached through its
// mutex, and what borrows the transaction never outlives it.
unsafe impl Send for TxSlot {}

impl TxSlot {
    pub(crate) fn new(tx: Transaction) -> Self {
        TxSlot {
            tx: Some(Box::new(tx)),
            stores: HashMap::new(),
            cursors: HashMap::new(),
            next: 0,
        }
    }
    /// The live transaction.
    pub(crate) fn tx(&self) -> FfiResult<&Transaction> {
        self.tx.as_deref().ok_or_else(FfiError::ended)
    }
    /// End the slot: drop what borrows the transaction, then hand it over.
    pub(crate) fn end(&mut self) -> Option<Box<Transaction>> {
        self.cursors.clear();
        self.stores.clear();
        self.tx.take()
    }
    /// A key for a new store or cursor.
    pub(crate) fn next_key(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
    pub(crate) fn store(&self, key: u64) -> FfiResult<&StoreKind> {
        self.tx()?;
        self.stores
            .get(&key)
            .ok_or_else(|| FfiError::handle("store"))
    }
    pub(crate) fn cursor(&mut self, key: u64) -> FfiResult<&mut CursorState> {
        self.tx()?;
        self.cursors
            .get_mut(&key)
            .ok_or_else(|| FfiError::handle("cursor"))
    }
}

impl SopTx {
    /// Run `f` with the live transaction, holding its lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Transaction) -> FfiResult<R>) -> FfiResult<R> {
        let g = self.slot.lock();
        f(g.tx()?)
    }
}

impl SopStore {
    /// Run `f` with the store, holding its transaction's lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&StoreKind) -> FfiResult<R>) -> FfiResult<R> {
        let g = self.tx.slot.lock();
        f(g.store(self.key)?)
    }
}

impl SopCursor {
    /// Run `f` with the cursor, holding its transaction's lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut CursorState) -> FfiResult<R>) -> FfiResult<R> {
        let mut g = self.tx.slot.lock();
        f(g.cursor(self.key)?)
    }
}

impl Drop for SopTx {
    fn drop(&mut self) {
        let t = self.slot.get_mut().end();
        drop(t);
    }
}
impl Drop for SopStore {
    fn drop(&mut self) {
        self.tx.slot.lock().stores.remove(&self.key);
    }
}
impl Drop for SopCursor {
    fn drop(&mut self) {
        self.tx.slot.lock().cursors.remove(&self.key);
    }
}

/// Give a borrow of a boxed transaction the `'static` lifetime.
///
/// # Safety
/// The result must go into the `TxSlot` of the transaction it borrows (see
/// [`TxSlot`]).
pub(crate) unsafe fn extend_json(s: JsonStore<'_>) -> JsonStore<'static> {
    // SAFETY: only the lifetime changes; see above.
    unsafe { std::mem::transmute::<JsonStore<'_>, JsonStore<'static>>(s) }
}
/// As [`extend_json`].
///
/// # Safety
/// As [`extend_json`].
pub(crate) unsafe fn extend_raw(s: RawStore<'_>) -> RawStore<'static> {
    // SAFETY: only the lifetime changes; see `extend_json`.
    unsafe { std::mem::transmute::<RawStore<'_>, RawStore<'static>>(s) }
}
/// As [`extend_json`].
///
/// # Safety
/// As [`extend_json`].
pub(crate) unsafe fn extend_cursor(c: RawCursor<'_>) -> RawCursor<'static> {
    // SAFETY: only the lifetime changes; see `extend_json`.
    unsafe { std::mem::transmute::<RawCursor<'_>, RawCursor<'static>>(c) }
}

enum Entry {
    Db(Arc<SopDb>),
    Tx(Arc<SopTx>),
    Store(Arc<SopStore>),
    Cursor(Arc<SopCursor>),
}

static LIVE: LazyLock<Mutex<HashMap<usize, Entry>>> = LazyLock::new(Default::default);

macro_rules! handle_kind {
    ($ty:ident, $variant:ident, $what:literal, $add:ident, $get:ident, $take:ident) => {
        /// Register a new handle and return its address for C.
        pub(crate) fn $add(h: $ty) -> *mut $ty {
            let a = Arc::new(h);
            let p = Arc::as_ptr(&a) as *mut $ty;
            LIVE.lock().insert(p as usize, Entry::$variant(a));
            p
        }
        /// The live handle at `p`.
        pub(crate) fn $get(p: *const $ty) -> FfiResult<Arc<$ty>> {
            match LIVE.lock().get(&(p as usize)) {
                Some(Entry::$variant(a)) if !p.is_null() => Ok(a.clone()),
                _ => Err(FfiError::handle($what)),
            }
        }
        /// Unregister the handle at `p` (it stays alive while a call uses it).
        pub(crate) fn $take(p: *const $ty) -> FfiResult<Arc<$ty>> {
            let mut live = LIVE.lock();
            match live.get(&(p as usize)) {
                Some(Entry::$variant(_)) if !p.is_null() => match live.remove(&(p as usize)) {
                    Some(Entry::$variant(a)) => Ok(a),
                    _ => Err(FfiError::handle($what)),
                },
                _ => Err(FfiError::handle($what)),
            }
        }
    };
}

handle_kind!(SopDb, Db, "database", add_db, get_db, take_db);
handle_kind!(SopTx, Tx, "transaction", add_tx, get_tx, take_tx);
handle_kind!(SopStore, Store, "store", add_store, get_store, take_store);
handle_kind!(
    SopCursor,
    Cursor,
    "cursor",
    add_cursor,
    get_cursor,
    take_cursor
);
