//! Registry checkpoints: the whole `DbState` as of commit `seq`, so opening a
//! database replays only the records after the newest checkpoint.
//!
//! `checkpoints/<seq %016x>.ckpt`:
//! ```text
//! "SOPCKPT\x01" | version u32 | reserved u32 | seq u64 | txn u128 | body length u64 | body | xxh3-64(body) u64
//! body: store count; per store: StoreInfo JSON (length-prefixed), created_seq u64,
//!       count u64, node count, per node (id u64, seq u64, off u64, len u32, xxh3 u64,
//!       base: 00, or 01 and the base image's seq u64, off u64, len u32, xxh3 u64);
//!       aborted count, each u128
//! ```
//! `txn` is the transaction id of record `seq`: a checkpoint is used only while
//! the record at `seq` is that very record (a power cut can remove a record that
//! was not yet durable, and a later commit then takes its sequence).
//! Version 2 (still read) has no `txn`; version 1 no base field either (every
//! image is full).
//! Checkpoints are derived data: a missing or damaged one only costs replay time.

use super::{decode_base, encode_base, DbState, Handle, StoreInfo, StoreState};
use crate::codec::wire::{checksum, put_bytes, put_u128, put_u32, put_u64, put_varint, Reader};
use crate::error::{CodecError, Result};
use crate::log::checkpoints::CheckpointStore;
use std::sync::Arc;

/// How many checkpoints are kept.
const KEEP: usize = 2;

/// The checkpoints of a database, over where they are kept (`CheckpointStore`).
pub struct Checkpoints<'a> {
    store: &'a dyn CheckpointStore,
}

impl<'a> Checkpoints<'a> {
    pub fn new(store: &'a dyn CheckpointStore) -> Self {
        Checkpoints { store }
    }

    /// Sequences of the checkpoints present, ascending.
    pub fn list(&self) -> Result<Vec<u64>> {
        self.store.list()
    }

    /// The newest checkpoint that decodes and whose record `in_log` confirms:
    /// `in_log(seq, txn)` says whether record `seq` exists and, when the
    /// checkpoint names its transaction (`txn` non-zero), was written by it.
    pub fn load_newest(
        &self,
        in_log: impl Fn(u64, u128) -> Result<bool>,
    ) -> Result<Option<DbState>> {
        for seq in self.list()?.into_iter().rev() {
            let at = self.store.location(seq);
            match self.read(seq) {
                Ok(st) if in_log(seq, st.head_txn)? => return Ok(Some(st)),
                Ok(_) => {
                    tracing::warn!(path = %at.display(), "skipping checkpoint that does not match the log")
                }
                Err(e) => {
                    tracing::warn!(path = %at.display(), error = %e, "skipping damaged checkpoint")
                }
            }
        }
        Ok(None)
    }

    /// Remove the checkpoints of sequences after `seq` (their records were removed
    /// by journal recovery, or lost to a power cut before they were durable; a
    /// later record at that sequence is another commit).
    pub fn remove_after(&self, seq: u64) -> Result<()> {
        for s in self.list()?.into_iter().filter(|s| *s > seq) {
            self.store.remove(s)?;
        }
        Ok(())
    }

    /// Read and decode the checkpoint of `seq` (`Err` says why it is unusable).
    pub fn read(&self, seq: u64) -> std::result::Result<DbState, String> {
        let st = self
            .store
            .get(seq)
            .map_err(|e| e.to_string())
            .and_then(|b| decode(&b).map_err(|e| e.0))?;
        if st.seq != seq {
            return Err(format!("it holds the state of record {}", st.seq));
        }
        Ok(st)
    }

    /// Remove the checkpoint of `seq`, if there is one.
    pub fn remove(&self, seq: u64) -> Result<()> {
        self.store.remove(seq)
    }

    /// Make removals durable.
    pub fn sync(&self) -> Result<()> {
        self.store.sync()
    }

    /// Write a checkpoint of `st` (durably, once per sequence), then keep only the
    /// newest few.
    pub fn write(&self, st: &DbState) -> Result<()> {
        if !self.store.put(st.seq, &encode(st))? {
            return Ok(());
        }
        for old in self.list()?.iter().rev().skip(KEEP) {
            let _ = self.store.remove(*old);
        }
        Ok(())
    }
}

pub const MAGIC: &[u8; 8] = b"SOPCKPT\x01";
pub const VERSION: u32 = 3;

pub fn encode(st: &DbState) -> Vec<u8> {
    let mut body = Vec::new();
    let mut stores: Vec<&Arc<StoreState>> = st.stores.values().collect();
    stores.sort_by_key(|s| s.info.id);
    put_varint(&mut body, stores.len() as u64);
    for s in stores {
        put_bytes(
            &mut body,
            &serde_json::to_vec(&*s.info).expect("store info serializes"),
        );
        put_u64(&mut body, s.created_seq);
        put_u64(&mut body, s.count);
        let mut nodes: Vec<(&u64, &Handle)> = s.nodes.iter().collect();
        nodes.sort_by_key(|(id, _)| **id);
        put_varint(&mut body, nodes.len() as u64);
        for (id, h) in nodes {
            put_u64(&mut body, *id);
            h.image().encode(&mut body);
            encode_base(&mut body, h.base);
        }
    }
    let mut aborted: Vec<&u128> = st.aborted.iter().collect();
    aborted.sort();
    put_varint(&mut body, aborted.len() as u64);
    for t in aborted {
        put_u128(&mut body, *t);
    }
    let mut out = Vec::with_capacity(body.len() + 40);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, VERSION);
    put_u32(&mut out, 0);
    put_u64(&mut out, st.seq);
    put_u128(&mut out, st.head_txn);
    put_u64(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    put_u64(&mut out, checksum(&body));
    out
}

pub fn decode(bytes: &[u8]) -> Result<DbState, CodecError> {
    let mut r = Reader::new(bytes);
    if r.take(8)? != MAGIC {
        return Err(CodecError::new("not a SOP checkpoint (bad magic)"));
    }
    let v = r.u32()?;
    if !(1..=VERSION).contains(&v) {
        return Err(CodecError::new(format!(
            "checkpoint version {v}, this build reads {VERSION}"
        )));
    }
    r.u32()?;
    let seq = r.u64()?;
    let head_txn = if v >= 3 { r.u128()? } else { 0 };
    let len = r.u64()?;
    if len > r.remaining() as u64 {
        return Err(CodecError::new("checkpoint body truncated"));
    }
    let body = r.take(len as usize)?;
    if r.u64()? != checksum(body) || !r.is_empty() {
        return Err(CodecError::new("checkpoint checksum mismatch"));
    }
    let mut r = Reader::new(body);
    let mut st = DbState {
        seq,
        head_txn,
        ..Default::default()
    };
    for _ in 0..r.count(20)? {
        let info: StoreInfo = serde_json::from_slice(r.bytes()?)
            .map_err(|e| CodecError::new(format!("bad store info: {e}")))?;
        info.options
            .validate()
            .map_err(|e| CodecError::new(format!("bad store info: {e}")))?;
        let created_seq = r.u64()?;
        let count = r.u64()?;
        let mut nodes = super::IdMap::default();
        for _ in 0..r.count(36)? {
            let id = r.u64()?;
            let mut h = Handle::full(super::Image::decode(&mut r)?);
            if v != 1 {
                h.base = decode_base(&mut r)?;
            }
            nodes.insert(id, h);
        }
        st.names.insert(info.name.clone(), info.id);
        st.stores.insert(
            info.id,
            Arc::new(StoreState {
                info: Arc::new(info),
                created_seq,
                count,
                nodes,
            }),
        );
    }
    for _ in 0..r.count(16)? {
        st.aborted.insert(r.u128()?);
    }
    if !r.is_empty() {
        return Err(CodecError::new("trailing bytes in checkpoint"));
    }
    Ok(st)
}
