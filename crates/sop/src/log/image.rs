//! Where a node image lies in the log: record `seq`, bytes `off..off + len`, and
//! their checksum (as commit records and checkpoints store it).

use crate::codec::wire::{put_u32, put_u64, Reader};
use crate::error::CodecError;

/// A full node image: commit segment `seq`, bytes `off..off+len`, their xxh3-64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    pub seq: u64,
    pub off: u64,
    pub len: u32,
    pub checksum: u64,
}

impl Image {
    /// `seq u64, off u64, len u32, xxh3-64 u64` (28 bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.seq);
        put_u64(out, self.off);
        put_u32(out, self.len);
        put_u64(out, self.checksum);
    }
    pub fn decode(r: &mut Reader<'_>) -> Result<Image, CodecError> {
        Ok(Image {
            seq: r.u64()?,
            off: r.u64()?,
            len: r.u32()?,
            checksum: r.u64()?,
        })
    }
}

/// A delta's base as stored with its handle: `00` (none) or `01` and the image.
pub fn encode_base(out: &mut Vec<u8>, base: Option<Image>) {
    match base {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            b.encode(out);
        }
    }
}

pub fn decode_base(r: &mut Reader<'_>) -> Result<Option<Image>, CodecError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(Image::decode(r)?)),
        t => Err(CodecError::new(format!("unknown base tag {t}"))),
    }
}
