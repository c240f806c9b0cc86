//! Compaction: move the live node images (and separate values) out of mostly-dead
//! commit records into new records, then let reclaim retire the emptied ones.
//!
//! A relocation is an ordinary commit: its record puts the same node contents
//! under the same logical ids at new places, and it is linked only if every node
//! it moves still has the handle it was copied from (otherwise the writer that
//! changed the node has already moved it; the chunk is planned again). Nothing
//! else changes, so readers see the same items before and after, and a crash at
//! any point leaves either the old or the new places in the registry. A
//! transaction that read a moved node sees a new version at commit and merges
//! (replays its operations, whose results are unchanged: separate values are
//! identified by content), exactly as after any concurrent writer.

use super::reclaim::ReclaimReport;
use crate::btree::node::{Node, ValueRef};
use crate::engine::{DbInner, RecordWriter};
use crate::error::{Error, Result};
use crate::log::record::Record;
use crate::log::Written;
use crate::registry::{DbState, Handle};
use crate::txn::commit::Published;
use serde::Serialize;

use crate::btree::node::NodeId;
use crate::engine::for_each_value;
use crate::log::record::StoreDelta;
use std::collections::{HashMap, HashSet};

/// How much `Database::compact_with` moves.
#[derive(Clone, Debug)]
pub struct CompactOptions {
    /// Move the live data out of a record when at least this share of its body
    /// (node images and values) is dead. 0 moves out of every record with any
    /// dead byte; 1 only out of records with nothing live (which reclaim alone
    /// retires). Default 0.2: afterwards dead bytes are under a quarter of live ones.
    pub min_dead_fraction: f64,
    /// Live bytes moved per relocation commit (bounds memory and the window in
    /// which a concurrent writer can make a chunk be planned again). Default 64 MiB.
    pub chunk_bytes: u64,
    /// First write an exclusive folder's journal out into the log (sealing it
    /// early) and drop its spare file, so records still journaled can be freed
    /// too. Default true; the periodic compaction of `auto_reclaim` passes false
    /// and leaves the journal to rotate at its own pace.
    pub write_out_journal: bool,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            min_dead_fraction: 0.2,
            chunk_bytes: 64 << 20,
            write_out_journal: true,
        }
    }
}

impl CompactOptions {
    fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.min_dead_fraction) {
            return Err(Error::InvalidOption(format!(
                "min_dead_fraction must be between 0 and 1, not {}",
                self.min_dead_fraction
            )));
        }
        if self.chunk_bytes == 0 {
            return Err(Error::InvalidOption("chunk_bytes must be positive".into()));
        }
        Ok(())
    }
}

/// What `Database::compact` did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CompactReport {
    /// Records whose live data was moved out.
    pub records_emptied: usize,
    /// Node images moved.
    pub nodes_moved: u64,
    /// Separate values moved.
    pub values_moved: u64,
    /// Bytes written to new records.
    pub bytes_moved: u64,
    /// Relocation commits linked.
    pub commits: usize,
    /// Chunks planned again because a writer changed one of their nodes first.
    pub replans: usize,
    /// The reclaim run afterwards (it retires the emptied records).
    pub reclaim: ReclaimReport,
}

/// One node to move: where it is now.
#[derive(Clone, Copy)]
struct Move {
    store: u64,
    created_seq: u64,
    id: NodeId,
    from: Handle,
    /// Rewrite the image (a leaf of a store with separate values) instead of copying it.
    rewrite: bool,
}

/// How often one chunk is planned again before compaction gives up on it.
const MAX_REPLANS: usize = 8;
/// Rounds of choosing victims and moving out of them.
const MAX_ROUNDS: usize = 4;

/// Compact with the default options (see [`CompactOptions`]).
pub(crate) fn compact(db: &DbInner) -> Result<CompactReport> {
    compact_with(db, &CompactOptions::default(), &super::Progress::default())
}

/// Move live data out of mostly-dead records, then reclaim. Safe at any
/// time, from any process, concurrently with writers.
pub(crate) fn compact_with(
    db: &DbInner,
    o: &CompactOptions,
    progress: &super::Progress,
) -> Result<CompactReport> {
    o.validate()?;
    db.check_poisoned()?;
    db.check_writable()?;
    // Records still in an exclusive folder's journal are not files yet: write
    // them out first, or a journal's worth of dead records would stay.
    if o.write_out_journal {
        db.commits.write_out()?;
    }
    let mut report = CompactReport::default();
    // Moving a leaf for the sake of its values leaves dead bytes in the record
    // it came from, so a round can make new victims: go on while there are some.
    for _ in 0..MAX_ROUNDS {
        let head = db.catch_up()?;
        let victims = db.victims(&head, o.min_dead_fraction)?;
        if victims.is_empty() {
            break;
        }
        report.records_emptied += victims.len();
        let moves = db.plan_moves(&head, &victims)?;
        progress.add_total(moves.len() as u64);
        let mut chunk: Vec<Move> = Vec::new();
        let mut bytes = 0u64;
        for m in moves {
            bytes += u64::from(m.from.len);
            chunk.push(m);
            if bytes >= o.chunk_bytes {
                let n = chunk.len() as u64;
                db.move_chunk(std::mem::take(&mut chunk), &victims, &mut report)?;
                progress.advance(n);
                bytes = 0;
            }
        }
        if !chunk.is_empty() {
            let n = chunk.len() as u64;
            db.move_chunk(chunk, &victims, &mut report)?;
            progress.advance(n);
        }
    }
    report.reclaim = super::reclaim::reclaim(db, &super::Progress::default())?;
    Ok(report)
}

impl DbInner {
    /// Records (at or below `head`) holding live data whose dead share of the
    /// body is at least `min_dead`.
    fn victims(&self, head: &DbState, min_dead: f64) -> Result<HashSet<u64>> {
        let mut live: HashMap<u64, u64> = HashMap::new();
        for st in head.stores.values() {
            for img in st.nodes.values().flat_map(|h| h.images()) {
                *live.entry(img.seq).or_default() += u64::from(img.len);
            }
            if st.info.options.values.has_separate() {
                for_each_value(self, st, |v| {
                    if let ValueRef::Segment { seq, len, .. } = *v {
                        *live.entry(seq).or_default() += u64::from(len);
                    }
                })?;
            }
        }
        let mut out = HashSet::new();
        // Records written out of a journal together share one pack file, which is
        // freed only with the last of them: they are judged by the pack's dead share,
        // so a live record does not keep a mostly dead pack (up to a journal's worth).
        let mut packs: HashMap<(u64, u64), (u64, Vec<u64>)> = HashMap::new();
        let is_victim = |dead: u64, of: u64| dead > 0 && dead as f64 >= min_dead * of as f64;
        for (seq, live) in live {
            let in_folder = self.commits.in_folder();
            let sizes = if in_folder {
                self.log.sizes(&*self.vfs, seq)?
            } else {
                self.commits.record_sizes(seq)?
            };
            let Some((_, body)) = sizes else {
                continue;
            };
            let pack = if in_folder {
                self.log.pack_of(&*self.vfs, seq)?
            } else {
                None
            };
            if let Some(pack) = pack {
                let p = packs.entry(pack).or_default();
                p.0 += live;
                p.1.push(seq);
                continue;
            }
            if is_victim(body.saturating_sub(live), body) {
                out.insert(seq);
            }
        }
        for ((pack_len, _), (live, seqs)) in packs {
            if is_victim(pack_len.saturating_sub(live), pack_len) {
                out.extend(seqs);
            }
        }
        Ok(out)
    }

    /// Every node that lives in a victim, and every leaf pointing at a value in
    /// one, in a stable order (store, then logical id).
    fn plan_moves(&self, head: &DbState, victims: &HashSet<u64>) -> Result<Vec<Move>> {
        let mut moves = Vec::new();
        if victims.is_empty() {
            return Ok(moves);
        }
        let mut sids: Vec<u64> = head.stores.keys().copied().collect();
        sids.sort_unstable();
        for sid in sids {
            let st = &head.stores[&sid];
            let separate = st.info.options.values.has_separate();
            let mut ids: Vec<(NodeId, Handle)> = st.nodes.iter().map(|(i, h)| (*i, *h)).collect();
            ids.sort_unstable_by_key(|(i, _)| *i);
            for (id, h) in ids {
                // A leaf of a store with separate values is rewritten (its values in
                // victims are copied along), and so is a leaf delta (moved as one
                // full image); every other node is copied as it is.
                let (rewrite, points_into_victim) = if separate {
                    match &*self.read_node(&h)? {
                        Node::Leaf(l) => (
                            true,
                            (0..l.len()).any(|i| {
                                matches!(l.item(i).value,
                                    ValueRef::Segment { seq, .. } if victims.contains(&seq))
                            }),
                        ),
                        Node::Internal(_) => (false, false),
                    }
                } else {
                    (h.base.is_some(), false)
                };
                if points_into_victim || h.images().any(|i| victims.contains(&i.seq)) {
                    moves.push(Move {
                        store: sid,
                        created_seq: st.created_seq,
                        id,
                        from: h,
                        rewrite,
                    });
                }
            }
        }
        Ok(moves)
    }

    /// Write one relocation record for `chunk` and link it; plan again (dropping
    /// nodes a writer has meanwhile rewritten) when it went stale.
    fn move_chunk(
        &self,
        mut chunk: Vec<Move>,
        victims: &HashSet<u64>,
        report: &mut CompactReport,
    ) -> Result<()> {
        for _ in 0..MAX_REPLANS {
            let head = self.catch_up()?;
            chunk.retain(|m| still_there(&head, m));
            if chunk.is_empty() {
                return Ok(());
            }
            let (written, rec, counts) = self.write_relocation(&head, &chunk, victims)?;
            let deadline = self.vfs.now() + self.opts.max_commit_time;
            let linked = crate::txn::commit::publish(
                self,
                &written,
                &rec,
                &mut |st| chunk.iter().all(|m| still_there(st, m)),
                deadline,
                self.opts.max_commit_time,
            );
            self.commits.discard(&written);
            match linked? {
                Published::At(seq) => {
                    crate::txn::commit::make_published_durable(self, seq, rec.txn)?;
                    self.coord.publish_head(seq);
                    report.commits += 1;
                    report.nodes_moved += counts.0;
                    report.values_moved += counts.1;
                    report.bytes_moved += counts.2;
                    return Ok(());
                }
                Published::Stale(_) => report.replans += 1,
            }
        }
        Err(Error::Timeout(self.opts.max_commit_time))
    }

    /// The record moving `chunk`: (temp path, record, (nodes, values, bytes)).
    fn write_relocation(
        &self,
        head: &DbState,
        chunk: &[Move],
        victims: &HashSet<u64>,
    ) -> Result<(Written, Record, (u64, u64, u64))> {
        let mut w = RecordWriter::create(self)?;
        let res = (|| {
            let mut rec = Record {
                txn: self.vfs.random(),
                base_seq: head.seq,
                ..Default::default()
            };
            let (mut nodes, mut values, mut bytes) = (0u64, 0u64, 0u64);
            for m in chunk {
                if rec.deltas.last().is_none_or(|d| d.store != m.store) {
                    rec.deltas.push(StoreDelta {
                        store: m.store,
                        ..Default::default()
                    });
                }
                let image = if m.rewrite {
                    let node = self.read_node(&m.from)?;
                    let Node::Leaf(leaf) = &*node else {
                        return Err(Error::corrupt(
                            self.commits.location(m.from.seq),
                            "a planned leaf is not a leaf",
                        ));
                    };
                    let mut leaf = leaf.clone();
                    for i in 0..leaf.len() {
                        let v = leaf.item(i).value;
                        let ValueRef::Segment { seq, .. } = v else {
                            continue;
                        };
                        if !victims.contains(&seq) {
                            continue;
                        }
                        let b = self.read_value(m.store, &v, false)?;
                        let p = w.add(&b)?;
                        values += 1;
                        bytes += b.len() as u64;
                        // Sequence 0: the record the leaf itself is written to.
                        leaf.set_value(
                            i,
                            &ValueRef::Segment {
                                seq: 0,
                                off: p.off,
                                len: p.len,
                                checksum: p.checksum,
                            },
                        );
                    }
                    Node::Leaf(leaf).encode()
                } else {
                    self.read_node_bytes(&m.from)?
                };
                let p = w.add(&image)?;
                nodes += 1;
                bytes += image.len() as u64;
                rec.deltas
                    .last_mut()
                    .expect("pushed above")
                    .puts
                    .push((m.id, p, None));
            }
            Ok((rec, (nodes, values, bytes)))
        })();
        match res {
            Ok((rec, counts)) => Ok((w.finish(&rec)?, rec, counts)),
            Err(e) => {
                w.discard();
                Err(e)
            }
        }
    }
}

/// Does the node still live where the move copies it from?
fn still_there(st: &DbState, m: &Move) -> bool {
    st.stores
        .get(&m.store)
        .is_some_and(|s| s.created_seq == m.created_seq && s.nodes.get(&m.id) == Some(&m.from))
}
