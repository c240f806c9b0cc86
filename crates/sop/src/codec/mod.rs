//! Byte encodings: keys, values, nodes and log records.

pub mod key;
pub mod value;
pub mod wire;
