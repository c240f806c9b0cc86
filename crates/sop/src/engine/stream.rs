//! Values written as streams (`RawStore::put_stream`): their chunk blobs.
//!
//! A streamed value is cut into chunks of a fixed size (the last one shorter),
//! each an immutable blob of its own, written through the `BlobStore` like any
//! big value, so a value never has to fit in memory: writing holds one chunk,
//! reading holds one chunk. The leaf keeps the whole description
//! (`ValueRef::Stream`: chunk 0's blob, the length, the chunk size, the
//! XXH3-64 of the whole value); chunk `i` lives in blob `chunk_blob(first, i)`,
//! so every chunk is known from the leaf alone, without a manifest to read. Each
//! chunk blob ends with the XXH3-64 of its bytes seeded with the lower 64 bits
//! of its own blob id: a chunk is verified alone (a byte range reads one or two
//! chunks, not the value), and a chunk found under another chunk's name fails.

use super::{DbInner, MISSING_BLOB};
use crate::btree::node::{chunk_blob, StreamRef};
use crate::codec::wire::checksum_seeded;
use crate::error::{Error, Result};

/// Bytes after a chunk's data: its checksum.
pub(crate) const CHUNK_TRAILER: usize = 8;

/// The checksum chunk blob `blob` ends with, of its bytes `data`.
pub(crate) fn chunk_sum(data: &[u8], blob: u128) -> u64 {
    checksum_seeded(data, blob as u64)
}

impl DbInner {
    /// Write one chunk: `buf` holds its bytes; their checksum is appended (and
    /// stays in `buf`). Not durable until the commit syncs it.
    pub(crate) fn write_chunk(&self, sid: u64, blob: u128, buf: &mut Vec<u8>) -> Result<()> {
        let sum = chunk_sum(buf, blob);
        buf.extend_from_slice(&sum.to_le_bytes());
        self.blobs.put(sid, blob, buf)
    }

    /// Chunk `i` of stream `s` of store `sid`: its bytes, verified (length and
    /// checksum). A missing chunk is `Corrupt` with detail `MISSING_BLOB` (the
    /// caller, knowing its snapshot, may turn that into `SnapshotTooOld`).
    pub(crate) fn read_chunk(&self, sid: u64, s: &StreamRef, i: u64) -> Result<Vec<u8>> {
        let blob = chunk_blob(s.first, i);
        let (_, want) = s.chunk_span(i);
        // Chunks of a bucket's streams are kept in the disk cache whole (data
        // and trailer), and checked below as if fetched.
        let name = format!("c-{sid:016x}-{blob:032x}");
        let cached = self.disk_get(&name, |b| {
            b.len() == want + CHUNK_TRAILER
                && chunk_sum(&b[..want], blob).to_le_bytes() == b[want..]
        });
        let fetched = cached.is_none();
        let Some(mut buf) = cached.map_or_else(|| self.blobs.get(sid, blob), |b| Ok(Some(b)))?
        else {
            return Err(Error::corrupt(self.blobs.location(sid, blob), MISSING_BLOB));
        };
        let bad = |why: String| Error::corrupt(self.blobs.location(sid, blob), why);
        if buf.len() != want + CHUNK_TRAILER {
            return Err(bad(format!(
                "chunk {i} of a streamed value holds {} bytes, not {}",
                buf.len(),
                want + CHUNK_TRAILER
            )));
        }
        let sum = u64::from_le_bytes(buf[want..].try_into().expect("8 bytes"));
        if chunk_sum(&buf[..want], blob) != sum {
            return Err(bad(format!(
                "chunk {i} of a streamed value fails its checksum"
            )));
        }
        if fetched {
            self.disk_put(&name, &buf);
        }
        buf.truncate(want);
        Ok(buf)
    }

    /// The whole value of stream `s`, every chunk verified, and the whole
    /// against the value's checksum. `chunk` reads chunk `i` (`read_chunk`, or a
    /// caller's wrapper of it).
    pub(crate) fn read_stream_whole(
        &self,
        sid: u64,
        s: &StreamRef,
        mut chunk: impl FnMut(u64) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let len = usize::try_from(s.len)
            .map_err(|_| Error::InvalidOption("the value does not fit in memory".into()))?;
        let mut out = Vec::with_capacity(len);
        for i in 0..s.blobs().count {
            out.extend_from_slice(&chunk(i)?);
        }
        if crate::codec::wire::checksum(&out) != s.checksum {
            return Err(Error::corrupt(
                self.blobs.location(sid, s.first),
                "streamed value fails its checksum (its chunks pass theirs)",
            ));
        }
        Ok(out)
    }
}
