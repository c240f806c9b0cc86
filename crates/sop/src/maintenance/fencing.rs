//! Fencing: a record declaring processes dead, so nothing they left can commit.

use crate::engine::{DbInner, RecordWriter};
use crate::error::Result;
use crate::log::record::Record;
use crate::txn::commit::{make_published_durable, publish, Published};

/// Publish a record declaring processes `procs` dead. Idempotent.
pub(crate) fn append_aborts(db: &DbInner, procs: &[u128]) -> Result<()> {
    let rec = Record {
        txn: db.vfs.random(),
        aborts: procs.to_vec(),
        ..Default::default()
    };
    let written = RecordWriter::create(db)?.finish(&rec)?;
    let deadline = db.vfs.now() + db.opts.max_commit_time;
    let linked = publish(
        db,
        &written,
        &rec,
        &mut |head| !procs.iter().all(|p| head.aborted.contains(p)),
        deadline,
        db.opts.max_commit_time,
    );
    db.commits.discard(&written);
    if let Published::At(seq) = linked? {
        make_published_durable(db, seq, rec.txn)?;
        db.coord.publish_head(seq);
    }
    Ok(())
}

/// Publish an empty record (it changes nothing) and return its sequence. Taking
/// the next sequence settles an attempt whose outcome was unknown but that may
/// still arrive (`CommitLog::lost_claims_linger`): that attempt aimed at a
/// sequence at or below this one, now all taken.
pub(crate) fn append_empty(db: &DbInner) -> Result<u64> {
    db.check_writable()?;
    let rec = Record {
        txn: db.vfs.random(),
        ..Default::default()
    };
    let written = RecordWriter::create(db)?.finish(&rec)?;
    let deadline = db.vfs.now() + db.opts.max_commit_time;
    let linked = publish(
        db,
        &written,
        &rec,
        &mut |_| true,
        deadline,
        db.opts.max_commit_time,
    );
    db.commits.discard(&written);
    match linked? {
        Published::At(seq) => {
            make_published_durable(db, seq, rec.txn)?;
            db.coord.publish_head(seq);
            Ok(seq)
        }
        Published::Stale(_) => unreachable!("an empty record is always valid"),
    }
}
