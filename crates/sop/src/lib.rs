//! SOP: Scalable Objects Persistence.

pub mod codec;
pub mod error;
pub mod io;

pub use codec::key::Key;
pub use error::{CodecError, Error, Result};

/// How a transaction may use the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    ForWriting,
    ForReading,
    NoCheck,
}
