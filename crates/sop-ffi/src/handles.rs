//! The live handles. A handle given to C is the address of a reference-counted
//! Rust object that the registry keeps alive; every call looks the address up
//! (under the registry's lock) before it uses the object, so a null, closed,
//! freed or mistyped handle is reported as `SOP_ERR_BAD_HANDLE` instead of being
//! dereferenced. The C pointer itself is never dereferenced.

use crate::error::{FfiError, FfiResult};
use parking_lot::Mutex;
use sop::{Database, JsonStore, RawCursor, RawStore, Transaction};
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, LazyLock};

/// An open database (opaque to C).
pub struct SopDb {
    pub(crate) db: Mutex<Option<Database>>,
}

/// A transaction (opaque to C). Its stores and cursors hold it alive; once it is
/// committed, rolled back or freed, the slot is empty and they report
/// `SOP_ERR_TX_ENDED`.
pub struct SopTx {
    pub(crate) slot: Mutex<Option<Box<Transaction>>>,
    pub(crate) id: u128,
    pub(crate) snapshot_seq: u64,
}

/// A store opened in a transaction (opaque to C).
pub struct SopStore {
    pub(crate) tx: Arc<SopTx>,
    pub(crate) kind: Option<TxBound<StoreKind>>,
}

/// A cursor over a store's range (opaque to C).
pub struct SopCursor {
    pub(crate) tx: Arc<SopTx>,
    pub(crate) state: Mutex<Option<TxBound<CursorState>>>,
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

/// A value that borrows the `Transaction` in its `SopTx` (the `'static` lifetime
/// stands for "as long as the transaction's slot is full").
///
/// Soundness: the `Transaction` is boxed, so its address does not change while
/// the slot holds it; values of this type are used only while the slot's mutex
/// is held and the slot is full (`SopTx::with`), so the transaction they borrow
/// is alive and no other thread uses it (the engine's `Transaction` is not
/// `Sync`; the mutex serializes every use of it and of what borrows it).
pub(crate) struct TxBound<T>(pub T);
// SAFETY: see the type's documentation: every use is serialized by the owning
// transaction's mutex, and the transaction outlives every use.
unsafe impl<T> Send for TxBound<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for TxBound<T> {}

impl SopTx {
    /// Run `f` with the live transaction, holding its lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Transaction) -> FfiResult<R>) -> FfiResult<R> {
        let g = self.slot.lock();
        match g.as_deref() {
            Some(tx) => f(tx),
            None => Err(FfiError::ended()),
        }
    }
}

impl SopStore {
    /// Run `f` with the store, holding its transaction's lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&StoreKind) -> FfiResult<R>) -> FfiResult<R> {
        self.tx.with(|_| match &self.kind {
            Some(k) => f(&k.0),
            None => Err(FfiError::handle("store")),
        })
    }
}

impl SopCursor {
    /// Run `f` with the cursor, holding its transaction's lock, then its own.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut CursorState) -> FfiResult<R>) -> FfiResult<R> {
        self.tx.with(|_| match self.state.lock().as_mut() {
            Some(c) => f(&mut c.0),
            None => Err(FfiError::handle("cursor")),
        })
    }
}

/// Give a borrow of a boxed transaction the `'static` lifetime.
///
/// # Safety
/// The result must go into a [`TxBound`] owned by a handle that keeps alive the
/// `SopTx` whose boxed transaction it borrows, and be used only through
/// `SopTx::with` (see [`TxBound`]).
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

// A store or cursor outliving its transaction must not run any drop code that
// could touch the (freed) transaction: drop them under the transaction's lock,
// and forget them if it has ended (what they own is a few small allocations).
impl Drop for SopStore {
    fn drop(&mut self) {
        let g = self.tx.slot.lock();
        if let Some(k) = self.kind.take() {
            if g.is_none() {
                std::mem::forget(k);
            }
        }
    }
}
impl Drop for SopCursor {
    fn drop(&mut self) {
        let g = self.tx.slot.lock();
        if let Some(c) = self.state.get_mut().take() {
            if g.is_none() {
                std::mem::forget(c);
            }
        }
    }
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
