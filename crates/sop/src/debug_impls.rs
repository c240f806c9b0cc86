//! `Debug` for the public handles (database, transaction, stores, cursors and
//! ranges): what identifies each, never the data they reach.

use crate::json::{JsonRange, JsonStore};
use crate::store::{Cursor, Range, RawCursor, RawRange, RawStore, Store};
use crate::stream::ValueReader;
use crate::{Database, Transaction};
use std::fmt;

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `try_borrow`: never a panic, even if called while an operation runs.
        let snapshot_seq = self.st.try_borrow().map(|st| st.snap.seq).ok();
        f.debug_struct("Transaction")
            .field("id", &format_args!("{:032x}", self.id()))
            .field("mode", &self.mode())
            .field("snapshot_seq", &snapshot_seq)
            .finish_non_exhaustive()
    }
}

/// Handles that show only their type name.
macro_rules! opaque_debug {
    ($($ty:ident $(<$($p:tt),*>)?),* $(,)?) => {$(
        impl$(<$($p),*>)? fmt::Debug for $ty$(<$($p),*>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    )*};
}

opaque_debug!(
    RawStore<'t>,
    RawCursor<'t>,
    RawRange<'t>,
    Store<'t, K, V>,
    Cursor<'t, K, V>,
    Range<'t, K, V>,
    JsonStore<'t>,
    JsonRange<'t>,
);

impl fmt::Debug for ValueReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueReader")
            .field("len", &self.len())
            .field("position", &self.position())
            .field("chunk_size", &self.chunk_size())
            .finish_non_exhaustive()
    }
}
