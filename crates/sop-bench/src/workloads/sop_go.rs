//! `sop-go`: the shape of SOP's Go benchmark. Keys `key_{i}` and values `value_{i}` for
//! i < N, inserted in order; each phase is one transaction, timed from begin to commit:
//! `insert` (N inserts), `read` (N gets, each checked), `delete` (N removals). With
//! `--breakdown`, `insert_commit` and `delete_commit` time the two commits alone, and every
//! phase counts its page faults.

use crate::engines::Engine;
use crate::{Args, Recorder};
use anyhow::{ensure, Result};

pub fn run(e: &mut dyn Engine, rec: &mut Recorder<'_>, args: &Args) -> Result<()> {
    let n = args.count();
    let keys: Vec<String> = (0..n).map(|i| format!("key_{i}")).collect();
    let values: Vec<String> = (0..n).map(|i| format!("value_{i}")).collect();

    rec.timed_write("insert", n, e, |w, t| {
        for (i, (k, v)) in keys.iter().zip(&values).enumerate() {
            w.insert(k.as_bytes(), v.as_bytes())?;
            t.step(i as u64);
        }
        Ok(())
    })?;

    rec.timed("read", n, |t| {
        e.read(&mut |r| {
            let mut buf = Vec::new();
            for (i, (k, v)) in keys.iter().zip(&values).enumerate() {
                ensure!(r.get(k.as_bytes(), &mut buf)?, "{k} not found");
                ensure!(buf == v.as_bytes(), "{k}: wrong value");
                t.step(i as u64);
            }
            Ok(())
        })
    })?;

    rec.timed_write("delete", n, e, |w, t| {
        for (i, k) in keys.iter().enumerate() {
            w.remove(k.as_bytes())?;
            t.step(i as u64);
        }
        Ok(())
    })?;

    // Not timed: everything is gone.
    e.read(&mut |r| {
        let left = r.len()?;
        ensure!(left == 0, "{left} entries left after delete");
        Ok(())
    })
}
