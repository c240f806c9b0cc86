//! Transactions, and the state that keeps the engine's stores and cursors alive
//! across calls from JavaScript.

use crate::error::{ended, invalid, OrThrow, Result};
use crate::job::job;
use crate::spec::{parse_spec, store_options};
use crate::store::NativeStore;
use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use parking_lot::{Mutex, MutexGuard};
use sop::{JsonStore, RawRange, RawStore, Transaction, TxMode};
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) enum StoreKind {
    Json(JsonStore<'static>),
    Raw(RawStore<'static>),
}

impl StoreKind {
    pub(crate) fn raw(&self) -> RawStore<'static> {
        match self {
            StoreKind::Json(j) => j.raw(),
            StoreKind::Raw(r) => *r,
        }
    }
}

/// An open range: the engine's iterator, and whether its values are JSON item frames.
pub(crate) struct RangeState {
    pub iter: RawRange<'static>,
    pub json: bool,
}

/// A transaction and the engine objects that borrow it (their `'static`
/// lifetime stands for "while `tx` is `Some`").
///
/// Soundness: the `Transaction` is boxed, so its address does not change while
/// the state holds it; what borrows it lives in this state only, and is dropped
/// before the transaction is taken out ([`TxState::end`]); every use of any of
/// them happens under [`TxCell::state`]'s mutex (the engine's `Transaction` is
/// `Send` but not `Sync`: one thread at a time).
pub(crate) struct TxState {
    tx: Option<Box<Transaction>>,
    pub stores: HashMap<u32, StoreKind>,
    pub ranges: HashMap<u32, RangeState>,
    next: u32,
}

// SAFETY: see `TxState`: reached only through its mutex, and what borrows the
// transaction never outlives it.
unsafe impl Send for TxState {}

/// Fields drop in declaration order, which would free the transaction before
/// what borrows it: end the state first.
impl Drop for TxState {
    fn drop(&mut self) {
        drop(self.end());
    }
}

impl TxState {
    pub(crate) fn tx(&self) -> Result<&Transaction> {
        self.tx.as_deref().ok_or_else(ended)
    }
    /// Drop what borrows the transaction, then hand the transaction over.
    fn end(&mut self) -> Option<Box<Transaction>> {
        self.ranges.clear();
        self.stores.clear();
        self.tx.take()
    }
    pub(crate) fn next_key(&mut self) -> u32 {
        self.next += 1;
        self.next
    }
}

/// What a JavaScript object dropped while the state was locked leaves to remove.
pub(crate) enum Garbage {
    Store(u32),
    Range(u32),
}

/// A transaction shared by its JavaScript objects and the jobs running for them.
pub(crate) struct TxCell {
    state: Mutex<TxState>,
    garbage: Mutex<Vec<Garbage>>,
    pub id: u128,
    pub snapshot_seq: u64,
    pub mode: TxMode,
}

impl TxCell {
    pub(crate) fn new(tx: Transaction) -> Arc<TxCell> {
        Arc::new(TxCell {
            id: tx.id(),
            snapshot_seq: tx.snapshot_seq(),
            mode: tx.mode(),
            state: Mutex::new(TxState {
                tx: Some(Box::new(tx)),
                stores: HashMap::new(),
                ranges: HashMap::new(),
                next: 0,
            }),
            garbage: Mutex::new(Vec::new()),
        })
    }

    /// The state, locked (a job of this transaction in flight finishes first).
    /// Never create JavaScript values while holding it: a collection could then
    /// run a finalizer that needs it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, TxState> {
        let mut g = self.state.lock();
        let gone = std::mem::take(&mut *self.garbage.lock());
        for x in gone {
            match x {
                Garbage::Store(k) => drop(g.stores.remove(&k)),
                Garbage::Range(k) => drop(g.ranges.remove(&k)),
            }
        }
        g
    }

    /// Forget a store or range whose JavaScript object went away.
    pub(crate) fn discard(&self, what: Garbage) {
        match self.state.try_lock() {
            Some(mut g) => {
                match what {
                    Garbage::Store(k) => drop(g.stores.remove(&k)),
                    Garbage::Range(k) => drop(g.ranges.remove(&k)),
                };
            }
            None => self.garbage.lock().push(what),
        }
    }

    /// End the transaction (its stores and ranges with it).
    pub(crate) fn end(&self) -> Option<Box<Transaction>> {
        self.lock().end()
    }

    pub(crate) fn commit(&self) -> Result<()> {
        let t = self.end().ok_or_else(ended)?;
        (*t).commit().or_throw()
    }

    pub(crate) fn ended(&self) -> bool {
        self.lock().tx.is_none()
    }
}

pub(crate) fn parse_mode(mode: &str) -> Result<TxMode> {
    match mode {
        "write" => Ok(TxMode::ForWriting),
        "read" => Ok(TxMode::ForReading),
        "snapshot" => Ok(TxMode::NoCheck),
        m => Err(invalid(format!(
            "unknown transaction mode {m:?}: \"write\", \"read\" or \"snapshot\""
        ))),
    }
}

/// A transaction (the package's `Transaction` wraps it).
#[napi]
pub struct NativeTx {
    pub(crate) cell: Arc<TxCell>,
}

#[napi]
impl NativeTx {
    /// Commit: durable when it returns. The transaction has ended afterwards,
    /// whatever the result.
    #[napi]
    pub fn commit(&self) -> Result<()> {
        self.cell.commit()
    }

    /// Commit on the thread pool.
    #[napi]
    pub fn commit_async(&self) -> AsyncTask<crate::job::Job<()>> {
        let cell = self.cell.clone();
        job(move || cell.commit())
    }

    /// Discard the changes; the transaction has ended afterwards.
    #[napi]
    pub fn rollback(&self) -> Result<()> {
        let t = self.cell.end().ok_or_else(ended)?;
        (*t).rollback();
        Ok(())
    }

    /// Whether the transaction was committed or rolled back.
    #[napi(getter)]
    pub fn ended(&self) -> bool {
        self.cell.ended()
    }

    /// "write", "read" or "snapshot".
    #[napi(getter)]
    pub fn mode(&self) -> String {
        match self.cell.mode {
            TxMode::ForWriting => "write",
            TxMode::ForReading => "read",
            _ => "snapshot",
        }
        .to_string()
    }

    /// The transaction's id, 32 hex digits (for `Database.commitOutcome`).
    #[napi(getter)]
    pub fn id(&self) -> String {
        format!("{:032x}", self.cell.id)
    }

    /// The sequence number of the commit the transaction's snapshot is at.
    #[napi(getter)]
    pub fn snapshot_seq(&self) -> f64 {
        self.cell.snapshot_seq as f64
    }

    /// Open the store `name`, a JSON store or a byte store as it was created.
    #[napi]
    pub fn open_store(&self, name: String) -> Result<NativeStore> {
        self.new_store(|t| match t.open_json_store(&name) {
            Ok(j) => Ok(StoreKind::Json(j)),
            Err(sop::Error::StoreMismatch { .. }) => {
                Ok(StoreKind::Raw(t.open_raw_store(&name).or_throw()?))
            }
            Err(e) => Err(crate::error::engine(e)),
        })
    }

    /// Create a store: a JSON store (`key_spec`: None for primitive keys, or
    /// `"last,age:desc"` / its JSON form), or a byte store when `bytes`.
    #[napi]
    pub fn create_store(
        &self,
        name: String,
        bytes: bool,
        key_spec: Option<String>,
        options_json: Option<String>,
    ) -> Result<NativeStore> {
        let opts = store_options(options_json.as_deref())?;
        if bytes && key_spec.is_some() {
            return Err(invalid("a byte store has no key spec"));
        }
        let spec = key_spec.as_deref().map(parse_spec).transpose()?;
        self.new_store(|t| {
            Ok(if bytes {
                StoreKind::Raw(t.create_raw_store(&name, "raw-bytes", opts).or_throw()?)
            } else {
                StoreKind::Json(t.create_json_store(&name, opts, spec).or_throw()?)
            })
        })
    }

    /// The names of the stores the transaction sees, sorted.
    #[napi]
    pub fn list_stores(&self) -> Result<Vec<String>> {
        self.cell.lock().tx()?.list_stores().or_throw()
    }

    /// Drop the store `name` and everything in it.
    #[napi]
    pub fn drop_store(&self, name: String) -> Result<()> {
        self.cell.lock().tx()?.drop_store(&name).or_throw()
    }

    fn new_store(
        &self,
        open: impl FnOnce(&'static Transaction) -> Result<StoreKind>,
    ) -> Result<NativeStore> {
        let mut g = self.cell.lock();
        let t: *const Transaction = g.tx()?;
        // SAFETY: what borrows the boxed transaction goes into its state right
        // below, and lives no longer than the transaction there (see `TxState`).
        let t: &'static Transaction = unsafe { &*t };
        let kind = open(t)?;
        let json = matches!(kind, StoreKind::Json(_));
        let key = g.next_key();
        g.stores.insert(key, kind);
        drop(g);
        Ok(NativeStore::new(self.cell.clone(), key, json))
    }
}
