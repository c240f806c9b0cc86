//! Byte encodings: keys, values, nodes and log records.

pub mod json_key;
pub mod key;
pub mod value;
pub mod wire;
