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
