//! The commit record: the one file whose appearance in the log is a commit.
//!
//! Layout (integers little-endian):
//! ```text
//! 0      magic "SOPREC\0\x01" (8 bytes), format version u32, reserved u32
//! 16     body: node images and separate values, addressed by absolute offsets
//! H      header (the registry delta, see `Record`)
//! end-32 trailer: header offset u64, header length u32, reserved u32,
//!        xxh3-64 of the header u64, magic "SOPEND\0\x01"
//! ```
//! The body is streamed first, so a bulk load never holds a second copy of it.
//! Every node image and value has its own checksum (in the header for nodes, in
//! the leaf that points at it for values), so one bad blob is reported on its own.

use super::image::{decode_base, encode_base, Image};
use crate::btree::node::{ItemId, NodeId};
use crate::catalog::StoreInfo;
use crate::codec::wire::{
    checksum, put_bytes, put_u128, put_u32, put_u64, put_varint, unzigzag, zigzag, Reader,
};
use crate::error::CodecError;

pub const MAGIC: &[u8; 8] = b"SOPREC\0\x01";
pub const END_MAGIC: &[u8; 8] = b"SOPEND\0\x01";
/// Version 2 gives every node put a base (a leaf delta's full image); version 1
/// (still read) has none.
pub const RECORD_VERSION: u32 = 2;
pub const PREFIX_LEN: usize = 16;
pub const TRAILER_LEN: usize = 32;

/// A node image placed in the record body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub off: u64,
    pub len: u32,
    pub checksum: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreDelta {
    pub store: u64,
    pub count_delta: i64,
    /// Node images placed in this record: logical id, where, and for a leaf delta
    /// the full image (in an earlier record) it applies to.
    pub puts: Vec<(NodeId, Placement, Option<Image>)>,
    pub deletes: Vec<NodeId>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// The transaction that wrote the record.
    pub txn: ItemId,
    /// The log sequence the writer validated against.
    pub base_seq: u64,
    pub created: Vec<StoreInfo>,
    pub dropped: Vec<u64>,
    pub deltas: Vec<StoreDelta>,
    /// Transactions declared dead by recovery: any later commit by them is refused.
    pub aborts: Vec<ItemId>,
    /// Big-value blobs (store, blob id) this commit makes live.
    pub adopted_files: Vec<(u64, ItemId)>,
    /// Big-value blobs this commit stops referencing (deleted once no snapshot needs them).
    pub released_files: Vec<(u64, ItemId)>,
    /// Read from a tombstone: the record was reclaimed after a checkpoint covered
    /// it; only `txn` is known. Never encoded.
    pub retired: bool,
}

/// A reclaimed record's file. Two layouts; in both the name stays taken, so no
/// later commit can ever be linked at a reclaimed sequence number.
///
/// Version 1 (40 bytes, one file per record): `"SOPRTRD\x01"`, its sequence u64,
/// its transaction id u128, xxh3-64 of those 32 bytes.
///
/// Version 2 (one file shared, by hard links, by every record one reclaim run
/// retires, up to [`TOMBSTONE_BATCH`]): `"SOPRTRD\x02"`, entry count u32,
/// reserved u32, then per record in increasing sequence order its sequence u64
/// and transaction id u128, then xxh3-64 of everything before it.
pub const TOMBSTONE_MAGIC: &[u8; 8] = b"SOPRTRD\x01";
pub const TOMBSTONE2_MAGIC: &[u8; 8] = b"SOPRTRD\x02";
/// Records retired under one shared tombstone file.
pub const TOMBSTONE_BATCH: usize = 4096;
/// The largest version-2 tombstone file.
pub const TOMBSTONE2_MAX_LEN: u64 = 16 + 24 * TOMBSTONE_BATCH as u64 + 8;

/// Does a file starting with these bytes hold a tombstone (of either version)?
pub fn is_tombstone(first: &[u8]) -> bool {
    first.len() >= 8 && (&first[..8] == TOMBSTONE_MAGIC || &first[..8] == TOMBSTONE2_MAGIC)
}

#[cfg(test)]
pub fn encode_tombstone(seq: u64, txn: ItemId) -> Vec<u8> {
    let mut t = TOMBSTONE_MAGIC.to_vec();
    put_u64(&mut t, seq);
    put_u128(&mut t, txn);
    let sum = checksum(&t);
    put_u64(&mut t, sum);
    t
}

/// A version-2 tombstone for `entries` (sequence, transaction id), sorted by sequence.
pub fn encode_tombstones(entries: &[(u64, ItemId)]) -> Vec<u8> {
    let mut t = TOMBSTONE2_MAGIC.to_vec();
    put_u32(&mut t, entries.len() as u32);
    put_u32(&mut t, 0);
    for (seq, txn) in entries {
        put_u64(&mut t, *seq);
        put_u128(&mut t, *txn);
    }
    let sum = checksum(&t);
    put_u64(&mut t, sum);
    t
}

/// The transaction id of record `seq` if `bytes` is a valid tombstone naming it.
pub fn decode_tombstone(bytes: &[u8], seq: u64) -> Option<ItemId> {
    if bytes.len() < 16 + 8 {
        return None;
    }
    let body = &bytes[..bytes.len() - 8];
    let sum = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().ok()?);
    if checksum(body) != sum {
        return None;
    }
    let mut r = Reader::new(body);
    let magic = r.take(8).ok()?;
    if magic == TOMBSTONE_MAGIC {
        let s = r.u64().ok()?;
        let txn = r.u128().ok()?;
        return (s == seq && r.remaining() == 0).then_some(txn);
    }
    if magic != TOMBSTONE2_MAGIC {
        return None;
    }
    let n = r.u32().ok()? as usize;
    r.u32().ok()?;
    if r.remaining() != n.checked_mul(24)? {
        return None;
    }
    let entries = &body[16..];
    let at = |i: usize| u64::from_le_bytes(entries[i * 24..i * 24 + 8].try_into().unwrap());
    let (mut i, mut hi) = (0, n);
    while i < hi {
        let mid = (i + hi) / 2;
        if at(mid) < seq {
            i = mid + 1;
        } else {
            hi = mid;
        }
    }
    if i < n && at(i) == seq {
        Some(u128::from_le_bytes(
            entries[i * 24 + 8..i * 24 + 24].try_into().unwrap(),
        ))
    } else {
        None
    }
}

impl Record {
    pub fn encode_header(&self) -> Vec<u8> {
        let mut h = Vec::new();
        put_u128(&mut h, self.txn);
        put_u64(&mut h, self.base_seq);
        put_varint(&mut h, self.created.len() as u64);
        for info in &self.created {
            put_bytes(
                &mut h,
                &serde_json::to_vec(info).expect("store info serializes"),
            );
        }
        put_varint(&mut h, self.dropped.len() as u64);
        for id in &self.dropped {
            put_u64(&mut h, *id);
        }
        put_varint(&mut h, self.deltas.len() as u64);
        for d in &self.deltas {
            put_u64(&mut h, d.store);
            put_varint(&mut h, zigzag(d.count_delta));
            put_varint(&mut h, d.puts.len() as u64);
            for (id, p, base) in &d.puts {
                put_u64(&mut h, *id);
                put_u64(&mut h, p.off);
                put_u32(&mut h, p.len);
                put_u64(&mut h, p.checksum);
                encode_base(&mut h, *base);
            }
            put_varint(&mut h, d.deletes.len() as u64);
            for id in &d.deletes {
                put_u64(&mut h, *id);
            }
        }
        put_varint(&mut h, self.aborts.len() as u64);
        for t in &self.aborts {
            put_u128(&mut h, *t);
        }
        put_varint(&mut h, self.adopted_files.len() as u64);
        for (s, id) in &self.adopted_files {
            put_u64(&mut h, *s);
            put_u128(&mut h, *id);
        }
        put_varint(&mut h, self.released_files.len() as u64);
        for (s, id) in &self.released_files {
            put_u64(&mut h, *s);
            put_u128(&mut h, *id);
        }
        h
    }

    pub fn prefix() -> [u8; PREFIX_LEN] {
        let mut p = [0u8; PREFIX_LEN];
        p[..8].copy_from_slice(MAGIC);
        p[8..12].copy_from_slice(&RECORD_VERSION.to_le_bytes());
        p
    }

    pub fn trailer(header_off: u64, header: &[u8]) -> [u8; TRAILER_LEN] {
        let mut t = [0u8; TRAILER_LEN];
        t[..8].copy_from_slice(&header_off.to_le_bytes());
        t[8..12].copy_from_slice(&(header.len() as u32).to_le_bytes());
        t[16..24].copy_from_slice(&checksum(header).to_le_bytes());
        t[24..].copy_from_slice(END_MAGIC);
        t
    }

    /// Check a record's first bytes; its format version.
    pub fn check_prefix(p: &[u8]) -> Result<u32, CodecError> {
        if p.len() < PREFIX_LEN || &p[..8] != MAGIC {
            return Err(CodecError::new("not a SOP commit record (bad magic)"));
        }
        let version = u32::from_le_bytes(p[8..12].try_into().unwrap());
        if version != RECORD_VERSION && version != 1 {
            return Err(CodecError::new(format!(
                "commit record version {version}, this build reads 1 to {RECORD_VERSION}"
            )));
        }
        Ok(version)
    }

    /// Parse a trailer of a file of `file_len` bytes: (header offset, length, checksum).
    pub fn parse_trailer(t: &[u8], file_len: u64) -> Result<(u64, usize, u64), CodecError> {
        if t.len() != TRAILER_LEN || &t[24..] != END_MAGIC {
            return Err(CodecError::new(
                "commit record trailer missing (bad end magic)",
            ));
        }
        let off = u64::from_le_bytes(t[..8].try_into().unwrap());
        let len = u32::from_le_bytes(t[8..12].try_into().unwrap()) as usize;
        let sum = u64::from_le_bytes(t[16..24].try_into().unwrap());
        if off < PREFIX_LEN as u64
            || off.checked_add(len as u64 + TRAILER_LEN as u64) != Some(file_len)
        {
            return Err(CodecError::new(
                "commit record trailer points outside the file",
            ));
        }
        Ok((off, len, sum))
    }

    /// Decode a header of the current version whose checksum is `sum`. Never panics.
    #[cfg(feature = "test-hooks")]
    pub fn decode_header(h: &[u8], sum: u64) -> Result<Record, CodecError> {
        Self::decode_header_of(h, sum, RECORD_VERSION)
    }

    /// Decode a header of format `version` whose checksum is `sum`. Never panics.
    pub fn decode_header_of(h: &[u8], sum: u64, version: u32) -> Result<Record, CodecError> {
        if checksum(h) != sum {
            return Err(CodecError::new("commit record header checksum mismatch"));
        }
        let mut r = Reader::new(h);
        let txn = r.u128()?;
        let base_seq = r.u64()?;
        let mut rec = Record {
            txn,
            base_seq,
            ..Default::default()
        };
        for _ in 0..r.count(1)? {
            let info: StoreInfo = serde_json::from_slice(r.bytes()?)
                .map_err(|e| CodecError::new(format!("bad store info: {e}")))?;
            info.options
                .validate()
                .map_err(|e| CodecError::new(format!("bad store info: {e}")))?;
            if let Some(spec) = &info.key_spec {
                spec.validate()
                    .map_err(|e| CodecError::new(format!("bad store info: {e}")))?;
            }
            rec.created.push(info);
        }
        for _ in 0..r.count(8)? {
            rec.dropped.push(r.u64()?);
        }
        for _ in 0..r.count(10)? {
            let store = r.u64()?;
            let count_delta = unzigzag(r.varint()?);
            let mut d = StoreDelta {
                store,
                count_delta,
                ..Default::default()
            };
            for _ in 0..r.count(28)? {
                let id = r.u64()?;
                let p = Placement {
                    off: r.u64()?,
                    len: r.u32()?,
                    checksum: r.u64()?,
                };
                let base = if version == 1 {
                    None
                } else {
                    decode_base(&mut r)?
                };
                d.puts.push((id, p, base));
            }
            for _ in 0..r.count(8)? {
                d.deletes.push(r.u64()?);
            }
            rec.deltas.push(d);
        }
        for _ in 0..r.count(16)? {
            rec.aborts.push(r.u128()?);
        }
        for _ in 0..r.count(24)? {
            rec.adopted_files.push((r.u64()?, r.u128()?));
        }
        for _ in 0..r.count(24)? {
            rec.released_files.push((r.u64()?, r.u128()?));
        }
        if !r.is_empty() {
            return Err(CodecError::new("trailing bytes in commit record header"));
        }
        Ok(rec)
    }

    /// Decode the header of a whole record file held in memory.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn decode_file(bytes: &[u8]) -> Result<Record, CodecError> {
        let version = Self::check_prefix(bytes)?;
        if bytes.len() < PREFIX_LEN + TRAILER_LEN {
            return Err(CodecError::new("commit record too short"));
        }
        let (off, len, sum) =
            Self::parse_trailer(&bytes[bytes.len() - TRAILER_LEN..], bytes.len() as u64)?;
        Self::decode_header_of(&bytes[off as usize..off as usize + len], sum, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::StoreOptions;

    #[test]
    fn tombstones_of_both_versions_name_their_records() {
        let v1 = encode_tombstone(5, 77);
        assert!(is_tombstone(&v1));
        assert_eq!(decode_tombstone(&v1, 5), Some(77));
        assert_eq!(decode_tombstone(&v1, 6), None);
        let entries: Vec<(u64, ItemId)> = (0..100u64).map(|i| (10 + 3 * i, i as u128)).collect();
        let v2 = encode_tombstones(&entries);
        assert!(is_tombstone(&v2));
        for (seq, txn) in &entries {
            assert_eq!(decode_tombstone(&v2, *seq), Some(*txn));
        }
        for absent in [0, 11, 12, 9, 10 + 3 * 100] {
            assert_eq!(decode_tombstone(&v2, absent), None, "seq {absent}");
        }
        // Any flipped bit, any truncation: refused, never a panic.
        for i in 0..v2.len() {
            let mut bad = v2.clone();
            bad[i] ^= 0x10;
            assert_eq!(decode_tombstone(&bad, 10), None, "bit flipped in byte {i}");
            assert_eq!(decode_tombstone(&v2[..i], 10), None, "cut at {i}");
        }
        assert!(!is_tombstone(&Record::prefix()));
    }

    #[test]
    fn header_round_trip_and_corruption() {
        let rec = Record {
            txn: 7,
            base_seq: 3,
            created: vec![StoreInfo {
                id: 9,
                name: "s".into(),
                options: StoreOptions::default(),
                key_type: "u64".into(),
                root: 1,
                key_spec: None,
            }],
            dropped: vec![4],
            deltas: vec![StoreDelta {
                store: 9,
                count_delta: -2,
                puts: vec![
                    (
                        1,
                        Placement {
                            off: 24,
                            len: 5,
                            checksum: 6,
                        },
                        None,
                    ),
                    (
                        2,
                        Placement {
                            off: 29,
                            len: 3,
                            checksum: 8,
                        },
                        Some(Image {
                            seq: 2,
                            off: 40,
                            len: 90,
                            checksum: 10,
                        }),
                    ),
                ],
                deletes: vec![3],
            }],
            aborts: vec![11],
            adopted_files: vec![(9, 12)],
            released_files: vec![(9, 13)],
            retired: false,
        };
        let h = rec.encode_header();
        let mut file = Record::prefix().to_vec();
        file.extend_from_slice(b"body");
        let off = file.len() as u64;
        file.extend_from_slice(&h);
        file.extend_from_slice(&Record::trailer(off, &h));
        assert_eq!(Record::decode_file(&file).unwrap(), rec);
        for i in (0..file.len())
            .filter(|i| !(12..16).contains(i) && !(PREFIX_LEN..PREFIX_LEN + 4).contains(i))
        {
            let mut bad = file.clone();
            bad[i] ^= 0x40;
            let reserved =
                (file.len() - TRAILER_LEN + 12..file.len() - TRAILER_LEN + 16).contains(&i);
            assert_eq!(Record::decode_file(&bad).is_err(), !reserved, "flip at {i}");
        }
        assert!(Record::decode_file(&file[..file.len() - 1]).is_err());
    }
}
