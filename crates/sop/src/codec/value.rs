//! Value encoding: any serde type, as postcard bytes.

use crate::error::CodecError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value type. Implemented for every serde type.
pub trait Value: Sized {
    /// The bytes stored for `self`.
    fn encode_value(&self) -> Result<Vec<u8>, CodecError>;
    /// Decode a value from the bytes [`Value::encode_value`] produced.
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError>;
}

impl<T: Serialize + DeserializeOwned> Value for T {
    fn encode_value(&self) -> Result<Vec<u8>, CodecError> {
        postcard::to_allocvec(self)
            .map_err(|e| CodecError::new(format!("cannot encode value: {e}")))
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, CodecError> {
        postcard::from_bytes(bytes)
            .map_err(|e| CodecError::new(format!("cannot decode value: {e}")))
    }
}
