//! Journals a crashed exclusive owner left: replayed into the log by the next
//! opener (holding `open.lock`, alone), or, where that cannot write (a full
//! volume, a read-only handle), read in place.

use super::journal::{self, Frame};
use super::{LogDir, Packed};
use crate::btree::node::{image_values, ValueRef};
use crate::codec::wire::checksum;
use crate::error::{Error, Result};
use crate::io::Vfs;
use crate::layout::{Layout, TmpNames};
use std::io;
use std::path::Path;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Replay the journals in folder `db`, oldest first. Every record with a valid
/// frame is rewritten from it, all of them into one record pack made durable by
/// its own `fdatasync`; records after the last valid frame never returned Ok:
/// those intact are kept (each synced), the first damaged one and everything
/// after it are removed (newest first, so the log stays a prefix).
/// `forget_after(keep)` then drops what was derived from records beyond the last
/// one kept (checkpoints) and makes that durable. Only once all of that is
/// durable do the journals go.
pub(crate) fn recover(
    vfs: &dyn Vfs,
    db: &Layout,
    dir: &LogDir,
    tmp: &TmpNames,
    forget_after: &mut dyn FnMut(u64) -> Result<()>,
) -> Result<()> {
    let bases = journal_bases(vfs, db)?;
    let spare = db.journal_spare();
    if vfs.exists(&spare).map_err(io_err(&spare))? {
        vfs.remove_file(&spare).map_err(io_err(&spare))?;
    }
    let Some(&first) = bases.first() else {
        return Ok(());
    };
    let mut journals = Vec::with_capacity(bases.len());
    for &base in &bases {
        let jpath = db.journal(base);
        journals.push((base, vfs.read_all(&jpath).map_err(io_err(&jpath))?));
    }
    let mut last = first;
    let mut restore: Vec<(u64, &[u8])> = Vec::new();
    for (base, bytes) in &journals {
        last = *base;
        for (seq, frame) in journal::parse(bytes, *base) {
            match frame {
                // Rewritten even when the file reads back the same: after a
                // failed fsync the page cache can show bytes the disk lacks.
                // A record retired since keeps its tombstone.
                Frame::Record(b) => {
                    if !matches!(dir.peek(vfs, seq)?, Some((true, _))) {
                        restore.push((seq, b));
                    }
                }
                Frame::Marker => marked_record_exists(vfs, dir, seq)?,
            }
            last = seq;
        }
    }
    let sizes: Vec<(u64, u64)> = restore.iter().map(|(s, b)| (*s, b.len() as u64)).collect();
    let mut next = restore.iter();
    dir.pack_records(vfs, tmp, &sizes, true, &mut |buf| {
        let (_, b) = next.next().expect("one read per record");
        buf.copy_from_slice(b);
        Ok(())
    })?;
    let beyond: Vec<u64> = dir
        .list_from(vfs, last + 1)?
        .into_iter()
        .filter(|s| *s > last)
        .collect();
    let mut keep = last;
    for &s in &beyond {
        if s != keep + 1 || !record_intact(vfs, dir, s)? {
            break;
        }
        keep = s;
    }
    for &s in beyond.iter().rev().filter(|s| **s > keep) {
        let p = dir.path(s);
        tracing::warn!(path = %p.display(), "removing a record whose commit never returned");
        vfs.remove_file(&p).map_err(io_err(&p))?;
    }
    forget_after(keep)?;
    // Records kept beyond the journal were linked but maybe never synced (a
    // crash between a large record's link and its marker frame).
    for s in last + 1..=keep {
        let p = dir.path(s);
        vfs.open(&p)
            .and_then(|f| f.sync_data())
            .map_err(io_err(&p))?;
    }
    dir.sync_names(vfs, first, keep)?;
    for b in bases {
        let p = db.journal(b);
        vfs.remove_file(&p).map_err(io_err(&p))?;
    }
    vfs.sync_dir(db.root()).map_err(io_err(db.root()))
}

/// When the journals in folder `db` cannot be replayed (a full volume, a
/// read-only handle): read them in place instead. Every record with a valid
/// frame is read from its frame (packed, as while its owner ran), a marker
/// frame's record from its file; nothing is written or removed. Returns the
/// last record to read (`None` if there is no journal): records beyond the
/// journals count only while intact, as replay would keep them.
pub(crate) fn attach(vfs: &dyn Vfs, db: &Layout, dir: &LogDir) -> Result<Option<u64>> {
    let bases = journal_bases(vfs, db)?;
    let Some(&first) = bases.first() else {
        return Ok(None);
    };
    let mut last = first;
    for &base in &bases {
        let jpath = db.journal(base);
        let file = vfs.open(&jpath).map_err(io_err(&jpath))?;
        let bytes = vfs.read_all(&jpath).map_err(io_err(&jpath))?;
        last = base;
        for (seq, frame) in journal::parse(&bytes, base) {
            match frame {
                Frame::Record(b) => {
                    if matches!(dir.peek(vfs, seq)?, Some((true, _))) {
                        last = seq;
                        continue; // retired since: its tombstone stands
                    }
                    let off = b.as_ptr() as u64 - bytes.as_ptr() as u64;
                    dir.pack(
                        seq,
                        Packed {
                            file: file.clone(),
                            off,
                            len: b.len() as u64,
                        },
                    );
                }
                Frame::Marker => marked_record_exists(vfs, dir, seq)?,
            }
            last = seq;
        }
    }
    let mut keep = last;
    while dir.read_header(vfs, keep + 1).is_ok_and(|h| h.is_some())
        && record_intact(vfs, dir, keep + 1)?
    {
        keep += 1;
    }
    Ok(Some(keep))
}

/// The bases of the journals in folder `db`, oldest first.
fn journal_bases(vfs: &dyn Vfs, db: &Layout) -> Result<Vec<u64>> {
    let mut bases: Vec<u64> = vfs
        .list_dir(db.root())
        .map_err(io_err(db.root()))?
        .iter()
        .filter_map(|n| Layout::parse_journal_name(n))
        .collect();
    bases.sort_unstable();
    Ok(bases)
}

/// A marker frame says record `seq` was synced as a file of its own: it must
/// be there.
fn marked_record_exists(vfs: &dyn Vfs, dir: &LogDir, seq: u64) -> Result<()> {
    if dir.read_header(vfs, seq)?.is_none() {
        return Err(Error::corrupt(
            dir.path(seq),
            "record is missing though the journal says it was synced",
        ));
    }
    Ok(())
}

/// Whether record `seq` is whole: its header, every node image it holds and
/// every separate value its leaves keep in it pass their checksums.
fn record_intact(vfs: &dyn Vfs, dir: &LogDir, seq: u64) -> Result<bool> {
    let rec = match dir.read_header(vfs, seq) {
        Ok(Some(rec)) => rec,
        Ok(None) | Err(Error::Corrupt { .. }) => return Ok(false),
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::UnexpectedEof => {
            return Ok(false)
        }
        Err(e) => return Err(e),
    };
    if rec.retired {
        return Ok(true);
    }
    let p = dir.path(seq);
    let Some((f, flen)) = dir.open(vfs, seq)? else {
        return Ok(false);
    };
    let mut bytes = vec![0u8; flen as usize];
    f.read_exact_at(&mut bytes, 0).map_err(io_err(&p))?;
    let slice = |off: u64, len: u64| {
        let start = usize::try_from(off).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        bytes.get(start..end)
    };
    for d in &rec.deltas {
        for (_, pl, _) in &d.puts {
            let Some(img) = slice(pl.off, pl.len as u64) else {
                return Ok(false);
            };
            if checksum(img) != pl.checksum {
                return Ok(false);
            }
            // The separate values an image keeps in this same record.
            let mut ok = true;
            image_values(img, seq, &mut |v| {
                if let ValueRef::Segment {
                    seq: s,
                    off,
                    len,
                    checksum: sum,
                } = *v
                {
                    ok &= s != seq || slice(off, len as u64).is_some_and(|v| checksum(v) == sum);
                }
            });
            if !ok {
                return Ok(false);
            }
        }
    }
    Ok(true)
}
