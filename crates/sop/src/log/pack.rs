//! Record packs: many commit records in one file, each record's name in the log a
//! hard link to it.
//!
//! An exclusive folder commits into its journal (`journal.rs`); when a journal
//! is sealed, its records must become part of the log proper. Writing each as a
//! file of its own costs a file creation per commit (on ext4 an inode allocation
//! that grows slow with many recent deletions: closing a folder after 20,000 small
//! commits took seconds). Instead the records are copied, in order, into one pack
//! file, which is synced once; then each record's name `log/…/<seq>.rec` is made a
//! hard link to the pack. A reader opening a record name that turns out to be a
//! pack reads the pack's index and sees only its record. Everything else is
//! unchanged: a name is still taken by exactly one record (so no later commit can
//! take its sequence), reclaim still retires a record by replacing its name, and
//! the pack's bytes are freed when its last name is gone.
//!
//! Layout (integers little-endian):
//! ```text
//! 0      magic "SOPPACK\x01" (8 bytes), format version u32 (= 1), reserved u32
//! 16     the records' bytes, each exactly as its own record file would hold it
//! X      index: per record in increasing sequence order, sequence u64, offset u64,
//!        length u64 (24 bytes each)
//! end-32 trailer: index offset X u64, record count u32, reserved u32,
//!        xxh3-64 of the index u64, magic "SOPPEND\x01"
//! ```

use crate::codec::wire::{checksum, put_u32, put_u64};
use crate::error::CodecError;

pub const MAGIC: &[u8; 8] = b"SOPPACK\x01";
pub const END_MAGIC: &[u8; 8] = b"SOPPEND\x01";
pub const VERSION: u32 = 1;
pub const HEADER_LEN: u64 = 16;
pub const TRAILER_LEN: u64 = 32;
const ENTRY_LEN: usize = 24;

/// Does a file starting with these bytes hold a pack?
pub fn is_pack(first: &[u8]) -> bool {
    first.len() >= 8 && &first[..8] == MAGIC
}

pub fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Where one record lies in its pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub off: u64,
    pub len: u64,
}

/// The index and trailer closing a pack whose records (`entries`, in increasing
/// sequence order) were written from `HEADER_LEN` on.
pub fn encode_tail(entries: &[Entry]) -> Vec<u8> {
    let index_off = entries.last().map_or(HEADER_LEN, |e| e.off + e.len);
    let mut out = Vec::with_capacity(entries.len() * ENTRY_LEN + TRAILER_LEN as usize);
    for e in entries {
        put_u64(&mut out, e.seq);
        put_u64(&mut out, e.off);
        put_u64(&mut out, e.len);
    }
    let sum = checksum(&out);
    put_u64(&mut out, index_off);
    put_u32(&mut out, entries.len() as u32);
    put_u32(&mut out, 0);
    put_u64(&mut out, sum);
    out.extend_from_slice(END_MAGIC);
    out
}

/// Parse a trailer of a pack of `file_len` bytes: (index offset, record count,
/// index checksum).
pub fn parse_trailer(t: &[u8], file_len: u64) -> Result<(u64, usize, u64), CodecError> {
    if t.len() != TRAILER_LEN as usize || &t[24..] != END_MAGIC {
        return Err(CodecError::new(
            "record pack trailer missing (bad end magic)",
        ));
    }
    let off = u64::from_le_bytes(t[..8].try_into().unwrap());
    let n = u32::from_le_bytes(t[8..12].try_into().unwrap()) as usize;
    let sum = u64::from_le_bytes(t[16..24].try_into().unwrap());
    let index_end = (n as u64)
        .checked_mul(ENTRY_LEN as u64)
        .and_then(|b| b.checked_add(off))
        .and_then(|e| e.checked_add(TRAILER_LEN));
    if off < HEADER_LEN || index_end != Some(file_len) {
        return Err(CodecError::new(
            "record pack trailer points outside the file",
        ));
    }
    Ok((off, n, sum))
}

/// Decode an index whose checksum is `sum`, of a pack whose index starts at
/// `index_off`: every record lies between the header and the index, in
/// increasing sequence order, without overlapping. Never panics.
pub fn decode_index(index: &[u8], sum: u64, index_off: u64) -> Result<Vec<Entry>, CodecError> {
    if checksum(index) != sum {
        return Err(CodecError::new("record pack index checksum mismatch"));
    }
    if !index.chunks_exact(ENTRY_LEN).remainder().is_empty() {
        return Err(CodecError::new("record pack index has a partial entry"));
    }
    let mut out: Vec<Entry> = Vec::with_capacity(index.len() / ENTRY_LEN);
    let mut end = HEADER_LEN;
    for c in index.chunks_exact(ENTRY_LEN) {
        let e = Entry {
            seq: u64::from_le_bytes(c[..8].try_into().unwrap()),
            off: u64::from_le_bytes(c[8..16].try_into().unwrap()),
            len: u64::from_le_bytes(c[16..].try_into().unwrap()),
        };
        let ordered = out.last().is_none_or(|p| p.seq < e.seq);
        let rec_end = e.off.checked_add(e.len);
        if !ordered || e.off < end || rec_end.is_none_or(|r| r > index_off) {
            return Err(CodecError::new(
                "record pack index out of order or out of bounds",
            ));
        }
        end = rec_end.unwrap_or(end);
        out.push(e);
    }
    Ok(out)
}

/// Record `seq`'s place in a decoded index.
pub fn find(index: &[Entry], seq: u64) -> Option<Entry> {
    index
        .binary_search_by_key(&seq, |e| e.seq)
        .ok()
        .map(|i| index[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack_of(records: &[(u64, Vec<u8>)]) -> (Vec<u8>, Vec<Entry>) {
        let mut file = header().to_vec();
        let mut entries = vec![];
        for (seq, r) in records {
            entries.push(Entry {
                seq: *seq,
                off: file.len() as u64,
                len: r.len() as u64,
            });
            file.extend_from_slice(r);
        }
        file.extend_from_slice(&encode_tail(&entries));
        (file, entries)
    }

    fn read(file: &[u8]) -> Result<Vec<Entry>, CodecError> {
        if !is_pack(file) || file.len() < (HEADER_LEN + TRAILER_LEN) as usize {
            return Err(CodecError::new("not a pack"));
        }
        let t = &file[file.len() - TRAILER_LEN as usize..];
        let (off, n, sum) = parse_trailer(t, file.len() as u64)?;
        let index = &file[off as usize..off as usize + n * ENTRY_LEN];
        decode_index(index, sum, off)
    }

    #[test]
    fn a_pack_round_trips_and_damage_is_refused() {
        let records: Vec<(u64, Vec<u8>)> = (5..40u64)
            .map(|s| (s, vec![s as u8; s as usize * 3]))
            .collect();
        let (file, entries) = pack_of(&records);
        assert_eq!(read(&file).unwrap(), entries);
        for (seq, r) in &records {
            let e = find(&entries, *seq).unwrap();
            assert_eq!(&file[e.off as usize..(e.off + e.len) as usize], &r[..]);
        }
        assert_eq!(find(&entries, 4), None);
        assert_eq!(find(&entries, 40), None);
        // Any flipped bit in the index or trailer, any truncation: refused, never a panic.
        let tail_start = entries.last().map(|e| (e.off + e.len) as usize).unwrap();
        for i in tail_start..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x04;
            let reserved = i >= file.len() - 20 && i < file.len() - 16;
            assert_eq!(read(&bad).is_err(), !reserved, "flip at {i}");
        }
        for cut in 0..file.len() {
            assert!(read(&file[..cut]).is_err(), "cut at {cut}");
        }
        // An empty pack is valid.
        let (empty, _) = pack_of(&[]);
        assert_eq!(read(&empty).unwrap(), vec![]);
    }
}
