//! The commit journal of an exclusively opened folder (`DbOptions::exclusive`).
//!
//! A process that owns the folder alone does not need the link of a record to be
//! durable at once: it appends the record's bytes to `journal-<base %016x>.wal`
//! and makes that one append durable (a single `fdatasync`), while the record file
//! is linked into the log without any sync. A commit is durable once its journal
//! frame is; the record files are synced in bulk when the journal is rotated or
//! closed, and rebuilt from their frames after a power cut.
//!
//! A journal file holds the frames of the commits after `base`, in order, with no
//! header (its name carries `base`). Past the last frame it may hold zeros (the
//! file is grown ahead of its frames, so that syncing a frame writes no inode) or
//! the frames of an older journal (a reused file); neither parses as the next
//! frame. A frame (integers little-endian):
//! ```text
//! 0   payload length u32, sequence u64, kind u8 (0 = the whole record, 1 = marker)
//! 13  payload (kind 0: the record file's bytes; kind 1: empty)
//! end xxh3-64 of the 13 header bytes and the payload, seeded with `base`
//! ```
//! A marker frame stands for a record too big to copy (over [`COPY_MAX`], or over
//! the journal's rotation size): that
//! record was synced, with its directory, before its frame was written. Parsing
//! stops at the first frame that is short, fails its checksum or does not carry
//! the next sequence: that is where the last append before a crash tore off.

use crate::codec::wire::checksum_seeded;

/// Records up to this many bytes are copied into the journal; larger ones are
/// synced in place and get a marker frame (copying them would double the bytes
/// written, which costs more than the directory sync it saves).
pub const COPY_MAX: usize = 1 << 20;
pub const FRAME_HEADER: usize = 13;
pub const FRAME_TRAILER: usize = 8;
const KIND_RECORD: u8 = 0;
const KIND_MARKER: u8 = 1;

/// What a frame stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The whole record file.
    Record(&'a [u8]),
    /// A record synced in place.
    Marker,
}

/// Encode the frame of record `seq` in the journal after `base`, appending to `out`.
pub fn encode(out: &mut Vec<u8>, base: u64, seq: u64, frame: Frame<'_>) {
    let start = out.len();
    let (kind, payload): (u8, &[u8]) = match frame {
        Frame::Record(b) => (KIND_RECORD, b),
        Frame::Marker => (KIND_MARKER, &[]),
    };
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(payload);
    let sum = checksum_seeded(&out[start..], base);
    out.extend_from_slice(&sum.to_le_bytes());
}

/// The valid frames of a journal after `base`: (sequence, frame), consecutive from
/// `base + 1`, up to the first torn or foreign frame. Never panics.
pub fn parse(bytes: &[u8], base: u64) -> Vec<(u64, Frame<'_>)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut expect = base + 1;
    while bytes.len() - pos >= FRAME_HEADER + FRAME_TRAILER {
        let h = &bytes[pos..pos + FRAME_HEADER];
        let len = u32::from_le_bytes(h[0..4].try_into().unwrap()) as usize;
        let seq = u64::from_le_bytes(h[4..12].try_into().unwrap());
        let kind = h[12];
        let Some(end) = (pos + FRAME_HEADER).checked_add(len).filter(|e| {
            e.checked_add(FRAME_TRAILER)
                .is_some_and(|t| t <= bytes.len())
        }) else {
            break;
        };
        let sum = u64::from_le_bytes(bytes[end..end + FRAME_TRAILER].try_into().unwrap());
        if seq != expect || checksum_seeded(&bytes[pos..end], base) != sum {
            break;
        }
        let payload = &bytes[pos + FRAME_HEADER..end];
        let frame = match (kind, len) {
            (KIND_RECORD, _) => Frame::Record(payload),
            (KIND_MARKER, 0) => Frame::Marker,
            _ => break,
        };
        out.push((seq, frame));
        expect += 1;
        pos = end + FRAME_TRAILER;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(base: u64, frames: &[Frame<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            encode(&mut out, base, base + 1 + i as u64, *f);
        }
        out
    }

    #[test]
    fn frames_round_trip_in_order() {
        let j = journal(
            7,
            &[Frame::Record(b"abc"), Frame::Marker, Frame::Record(b"")],
        );
        assert_eq!(
            parse(&j, 7),
            vec![
                (8, Frame::Record(&b"abc"[..])),
                (9, Frame::Marker),
                (10, Frame::Record(&b""[..]))
            ]
        );
    }

    #[test]
    fn parsing_stops_at_a_torn_or_foreign_frame() {
        let j = journal(7, &[Frame::Record(b"abc"), Frame::Record(b"defg")]);
        // Every truncation keeps exactly the whole frames before the cut.
        let first = FRAME_HEADER + 3 + FRAME_TRAILER;
        for cut in 0..j.len() {
            let n = parse(&j[..cut], 7).len();
            assert_eq!(n, usize::from(cut >= first), "cut at {cut}");
        }
        // A flipped byte anywhere in the second frame drops it, and only it.
        for i in first..j.len() {
            let mut bad = j.clone();
            bad[i] ^= 0x40;
            assert_eq!(parse(&bad, 7).len(), 1, "flip at {i}");
        }
        // Frames written for another base (an older journal's) are not taken.
        assert!(parse(&j, 6).is_empty());
        assert!(parse(&journal(8, &[Frame::Record(b"x")]), 7).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200), base in 0u64..4) {
            let _ = parse(&bytes, base);
        }
    }
}
