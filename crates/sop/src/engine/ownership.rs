//! Who may open the folder: `open.lock` and `open.owner`.
//!
//! Every opener takes `open.lock` while it opens. A shared opener releases it once
//! it holds its process lock; an exclusive one keeps it for as long as it is open,
//! after checking that no other process has the folder open. A journal therefore
//! exists only while its owner runs or after it crashed, and the first opener
//! after a crash replays it while holding `open.lock`, alone.

use super::*;

/// How long an opener waits for `open.lock` while no exclusive owner holds it
/// (another opener is in the middle of its open, however slow).
const OPEN_LOCK_WAIT: Duration = Duration::from_secs(120);

/// Take `open.lock`. Held by an exclusive owner (named in `open.owner`, its
/// process lock held): `InUse` at once. Held by another opener in the middle of
/// its open: wait for it, however slow it is (up to `OPEN_LOCK_WAIT`). An opener
/// is never refused because another one is slow.
pub(super) fn take_open_lock(vfs: &dyn Vfs, db: &Layout) -> Result<Box<dyn VLock>> {
    let path = db.open_lock();
    let start = vfs.now();
    loop {
        if let Some(l) = vfs.try_lock(&path).map_err(io_err(&path))? {
            return Ok(l);
        }
        if exclusive_owner_alive(vfs, db)? {
            return Err(Error::InUse(
                db.root().to_path_buf(),
                "another process has it open exclusively (DbOptions::exclusive)".into(),
            ));
        }
        if vfs.now().saturating_sub(start) > OPEN_LOCK_WAIT {
            return Err(Error::InUse(
                db.root().to_path_buf(),
                format!(
                    "another opener has held {} for {} s without finishing its open (a stalled process?)",
                    path.display(),
                    OPEN_LOCK_WAIT.as_secs()
                ),
            ));
        }
        vfs.sleep(Duration::from_millis(5));
    }
}

/// Whether `open.owner` names a process whose lock is held (an exclusive owner
/// that is alive). A missing or stale file (its owner gone) is no owner.
fn exclusive_owner_alive(vfs: &dyn Vfs, db: &Layout) -> Result<bool> {
    let owner = match vfs.read_all(&db.open_owner()) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(db.open_owner(), e)),
    };
    let Some(id) = std::str::from_utf8(&owner)
        .ok()
        .and_then(|t| u128::from_str_radix(t.trim(), 16).ok())
    else {
        return Ok(false);
    };
    let lock = db.proc_lock(id);
    if !vfs.exists(&lock).map_err(io_err(&lock))? {
        return Ok(false);
    }
    Ok(vfs.try_lock(&lock).map_err(io_err(&lock))?.is_none())
}

/// An exclusive opener holding `open.lock`: name itself in `open.owner` (no
/// sync: the name only helps openers decide to fail at once rather than wait).
pub(super) fn claim_owner(vfs: &dyn Vfs, db: &Layout, tmp: &Path, me: u128) -> Result<()> {
    let f = vfs.create_new(tmp).map_err(io_err(tmp))?;
    f.append(format!("{me:032x}").as_bytes())
        .map_err(io_err(tmp))?;
    let to = db.open_owner();
    vfs.rename(tmp, &to).map_err(io_err(&to))
}

/// Fail unless every process that ever opened the folder, except `me`, is gone.
pub(super) fn check_alone(vfs: &dyn Vfs, db: &Layout, me: u128) -> Result<()> {
    let procs = db.procs();
    for name in vfs.list_dir(&procs).map_err(io_err(&procs))? {
        let Some(id) = Layout::parse_proc_lock_name(&name) else {
            continue;
        };
        let p = procs.join(&name);
        if id != me && vfs.try_lock(&p).map_err(io_err(&p))?.is_none() {
            return Err(Error::InUse(
                db.root().to_path_buf(),
                "other processes have it open; an exclusive open needs the folder alone".into(),
            ));
        }
    }
    Ok(())
}
