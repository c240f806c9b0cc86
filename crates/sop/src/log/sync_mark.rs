//! The sync mark: a hint shared by every process of a folder, saying how far
//! the log is known durable, so that processes share directory syncs.
//!
//! In a shared folder a committer must know record `s - 1` durable before it
//! links record `s` (the durable records are a prefix of the log), and record
//! `s` durable before its commit returns. Each process used to learn this only
//! from its own directory syncs, so with several processes writing, nearly
//! every commit synced the log directory twice: once for the other process's
//! record it linked behind, once for its own. So a process that synced the
//! log folder for record `s` records `s` here, and every process reads it
//! before syncing on its own. (`SharedLog::make_durable` also takes a linked
//! record `s + 1` as proof that `s` is durable: nothing links behind a record
//! not yet durable.)
//!
//! The file (`synced.seq` in the folder, [`Layout::sync_mark`]) holds 16 bytes:
//! the sequence (u64 little-endian) and its xxh3-64 (seeded with [`SEED`]);
//! anything else (missing, short, torn, another checksum) reads as 0. It is
//! written only after the sync it reports succeeded, and never synced itself:
//! a power cut may leave it older than the truth, never newer, since every
//! sequence it ever named was durable before it was written. A sequence in
//! a shared folder names one record forever (nothing reuses it: a stale
//! writer's link at a retired sequence must fail), and the exclusive journal's
//! recovery removes only records after everything a shared process could have
//! marked, so a mark never covers a record it did not see durable.
//!
//! The mark is a hint: a file system or a `Vfs` without it (read-only media,
//! the fault-injecting wrappers) simply syncs as before.

use crate::io::{VFile, Vfs};
use crate::layout::Layout;
use std::sync::{Arc, OnceLock};

/// The checksum's seed ("sopsync\0").
pub const SEED: u64 = 0x736f_7073_796e_6300;

/// The folder's sync mark (see the module docs).
pub(crate) struct SyncMark {
    vfs: Arc<dyn Vfs>,
    layout: Layout,
    file: OnceLock<Option<Arc<dyn VFile>>>,
}

impl SyncMark {
    pub fn new(vfs: Arc<dyn Vfs>, layout: Layout) -> SyncMark {
        SyncMark {
            vfs,
            layout,
            file: OnceLock::new(),
        }
    }

    /// The file, opened (and made, empty) on first use; `None` if it cannot be.
    fn file(&self) -> Option<&Arc<dyn VFile>> {
        self.file
            .get_or_init(|| self.vfs.open_shared(&self.layout.sync_mark()).ok())
            .as_ref()
    }

    /// The highest sequence some process saw durable (0 if none, or unknown).
    pub fn read(&self) -> u64 {
        let Some(f) = self.file() else { return 0 };
        let mut buf = [0u8; 16];
        if f.read_exact_at(&mut buf, 0).is_err() {
            return 0;
        }
        decode(&buf).unwrap_or(0)
    }

    /// Record that every sequence up to `seq` is durable (called only after a
    /// sync that made it so). A failure is ignored: the mark is a hint.
    pub fn raise(&self, seq: u64) {
        let Some(f) = self.file() else { return };
        // Two processes may raise at once and the lower may land last: the mark
        // then says less than is true, which costs a sync, never durability.
        if self.read() >= seq {
            return;
        }
        let _ = f.write_at(&encode(seq), 0);
    }
}

/// The 16 bytes that say `seq`.
pub fn encode(seq: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&seq.to_le_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64_with_seed(&seq.to_le_bytes(), SEED);
    out[8..].copy_from_slice(&sum.to_le_bytes());
    out
}

/// The sequence in `buf`, if its checksum holds.
pub fn decode(buf: &[u8; 16]) -> Option<u64> {
    let seq: [u8; 8] = buf[..8].try_into().ok()?;
    let sum = u64::from_le_bytes(buf[8..].try_into().ok()?);
    (xxhash_rust::xxh3::xxh3_64_with_seed(&seq, SEED) == sum).then(|| u64::from_le_bytes(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_reads_back_and_a_damaged_one_reads_as_nothing() {
        let b = encode(123_456);
        assert_eq!(decode(&b), Some(123_456));
        for i in 0..16 {
            let mut d = b;
            d[i] ^= 1;
            assert_eq!(decode(&d), None, "byte {i}");
        }
        assert_eq!(decode(&[0; 16]), None);
    }
}
