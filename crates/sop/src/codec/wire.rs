//! Bounds-checked little helpers for the binary formats (little-endian, LEB128 varints).

use crate::error::CodecError;

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub fn put_u128(out: &mut Vec<u8>, v: u128) {
    out.extend_from_slice(&v.to_le_bytes());
}
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A cursor over a byte slice that never panics: every read is checked.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        // `pos` is public and may have been set past the end: that leaves nothing.
        self.buf.len().saturating_sub(self.pos)
    }
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        let Some(end) = end else {
            return Err(CodecError::new(format!(
                "truncated: need {n} bytes at offset {}, have {}",
                self.pos,
                self.remaining()
            )));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    #[inline]
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    #[inline]
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    #[inline]
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    #[inline]
    pub fn u128(&mut self) -> Result<u128, CodecError> {
        Ok(u128::from_le_bytes(self.take(16)?.try_into().unwrap()))
    }
    #[inline]
    pub fn varint(&mut self) -> Result<u64, CodecError> {
        // Most varints (lengths of keys and small values) take one or two bytes.
        match self.buf.get(self.pos..self.pos.saturating_add(2)) {
            Some(&[a, _]) if a < 0x80 => {
                self.pos += 1;
                return Ok(a as u64);
            }
            Some(&[a, b]) if b < 0x80 => {
                self.pos += 2;
                return Ok((a & 0x7f) as u64 | (b as u64) << 7);
            }
            _ => {}
        }
        self.varint_slow()
    }
    fn varint_slow(&mut self) -> Result<u64, CodecError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return Err(CodecError::new("varint overflow"));
            }
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::new("varint too long"))
    }
    /// A varint that must fit in `usize` and not exceed what is left in the buffer
    /// times `max_per_byte` (guards allocations sized by untrusted counts).
    #[inline]
    pub fn len_prefix(&mut self) -> Result<usize, CodecError> {
        let n = self.varint()?;
        if n > self.remaining() as u64 {
            return Err(CodecError::new(format!(
                "length {n} exceeds remaining {} bytes",
                self.remaining()
            )));
        }
        Ok(n as usize)
    }
    pub fn count(&mut self, min_bytes_each: usize) -> Result<usize, CodecError> {
        let n = self.varint()?;
        if n.saturating_mul(min_bytes_each.max(1) as u64) > self.remaining() as u64 {
            return Err(CodecError::new(format!(
                "count {n} impossible in {} bytes",
                self.remaining()
            )));
        }
        Ok(n as usize)
    }
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.len_prefix()?;
        self.take(n)
    }
}

pub fn checksum(b: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(b)
}

/// xxh3-64 with a seed (frames that must not pass for another file's).
pub fn checksum_seeded(b: &[u8], seed: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(b, seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn varint_round_trip_and_truncation() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(Reader::new(&b).varint().unwrap(), v);
            assert!(Reader::new(&b[..b.len() - 1]).varint().is_err());
        }
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    /// Found by the `wire_reader` fuzz target: with `pos` past the end,
    /// `remaining()` underflowed (a panic in debug builds; in release the check in
    /// `take` passed and the slice index panicked).
    #[test]
    fn reads_past_the_end_are_errors() {
        let buf = [1u8, 2, 3];
        for pos in [3usize, 4, 100, usize::MAX] {
            let mut r = Reader { buf: &buf, pos };
            assert_eq!(r.remaining(), 0);
            assert!(r.is_empty());
            assert!(r.u8().is_err());
            assert!(r.u64().is_err());
            assert!(r.varint().is_err());
            assert!(r.bytes().is_err());
            assert!(r.count(1).is_err());
            assert!(r.take(1).is_err());
            assert!(r.take(usize::MAX).is_err());
            assert_eq!(r.pos, pos, "failed reads do not move");
        }
        let mut r = Reader::new(&buf);
        assert!(r.take(usize::MAX).is_err());
        assert_eq!(r.take(0).unwrap(), &[] as &[u8]);
        assert_eq!(r.take(3).unwrap(), &buf);
    }
}
