//! Order-preserving key encoding: typed keys become bytes whose lexicographic
//! (memcmp) order equals the keys' natural order, so the B-tree compares bytes only.

use crate::error::CodecError;

/// A key type with a total order and an order-preserving, self-delimiting byte encoding.
pub trait Key: Sized {
    /// The identity of this encoding, saved with a store so that opening it with an
    /// incompatible key type fails (e.g. `"u64"`, `"str"`, `"(str,u64)"`).
    fn type_name() -> String;
    /// Append the encoding of `self` to `out`.
    fn encode_key(&self, out: &mut Vec<u8>);
    /// Decode one key from the front of `input`, advancing it.
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError>;

    fn to_key_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_key(&mut v);
        v
    }
    fn from_key_bytes(mut bytes: &[u8]) -> Result<Self, CodecError> {
        let k = Self::decode_key(&mut bytes)?;
        if !bytes.is_empty() {
            return Err(CodecError::new("trailing bytes after key"));
        }
        Ok(k)
    }
}

impl Key for u64 {
    fn type_name() -> String {
        "u64".into()
    }
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
        let (head, rest) = input.split_first_chunk::<8>().ok_or_else(|| CodecError::new("short u64 key"))?;
        *input = rest;
        Ok(u64::from_be_bytes(*head))
    }
}

/// Strings: bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x00.
impl Key for String {
    fn type_name() -> String {
        "str".into()
    }
    fn encode_key(&self, out: &mut Vec<u8>) {
        escape_bytes(self.as_bytes(), out);
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
        let raw = unescape_bytes(input)?;
        String::from_utf8(raw).map_err(|_| CodecError::new("string key is not UTF-8"))
    }
}

pub(crate) fn escape_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.reserve(b.len() + 2);
    for &c in b {
        out.push(c);
        if c == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

pub(crate) fn unescape_bytes(input: &mut &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let mut i = 0;
    let b = *input;
    loop {
        let c = *b.get(i).ok_or_else(|| CodecError::new("unterminated byte string in key"))?;
        if c == 0 {
            match b.get(i + 1) {
                Some(0xFF) => {
                    out.push(0);
                    i += 2;
                }
                Some(0) => {
                    *input = &b[i + 2..];
                    return Ok(out);
                }
                _ => return Err(CodecError::new("bad escape in key")),
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
}
