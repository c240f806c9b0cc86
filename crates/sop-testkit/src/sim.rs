//! A simulated, in-memory file system for crash and fault-injection tests.
//!
//! [`SimVfs`] models what survives a power cut on a POSIX file system:
//!
//! * **Inodes** hold file content. Each inode remembers how much of its content
//!   is durable (as of its last `sync_data`); appends after that are volatile.
//!   Because files only grow by appending, the durable content is always a prefix
//!   of the current content.
//! * **Directories** map names to inodes or subdirectories. Every entry change
//!   (creation, hard link, rename, removal, subdirectory creation) is visible at
//!   once but becomes durable only when the directory itself is synced with
//!   `sync_dir`. Each directory keeps its durable entries plus the ordered list
//!   of entry operations made since its last sync.
//!
//! [`SimVfs::crash_image`] builds what a power cut could leave behind: for each
//! directory its durable entries plus a seed-chosen prefix of its pending entry
//! operations, and for each inode its durable content plus a seed-chosen prefix
//! of the bytes appended since its last sync (a torn write).
//! [`SimVfs::crash_image_strict`] keeps only durable state.
//!
//! Faults are injected with [`SimVfs::set_fault`]: every mutating or durability
//! call (`create_new`, `append`, `sync_data`, `link_exclusive`, `rename`,
//! `remove_file`, `remove_dir`, `sync_dir`, `create_dir_all`) is one numbered
//! *op*, and a [`Fault`] can fail one op or cut the power at one (or make one
//! link report `AlreadyExists` after linking, as NFS can).

use parking_lot::Mutex;
use sop::{FileId, VFile, VLock, Vfs};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A fault to inject, by op number (see [`SimVfs::op_count`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// No fault.
    #[default]
    None,
    /// Op `n` fails with an `ErrorKind::Other` error and changes nothing; later
    /// ops work normally.
    IoErrorAt(u64),
    /// The power is cut just before op `n`: op `n` and every later call
    /// (including reads) fails and changes nothing. Take a
    /// [`SimVfs::crash_image`] to see what the disk holds.
    PowerCutAt(u64),
    /// The volume is full: every write of file bytes (`append`, `write_at`)
    /// fails with `ErrorKind::StorageFull` and changes nothing, until the fault
    /// is changed; every other operation works (reads, syncs, creating empty
    /// files, links, renames, removals).
    DiskFull,
    /// If op `n` is a `link_exclusive`, it makes the link and then fails with
    /// `AlreadyExists`, as a retransmitted NFS LINK does when the server's first
    /// reply was lost; any other op `n` runs normally.
    LinkThenExistsAt(u64),
}

/// An in-memory file system that models durability and injects faults.
///
/// Cloning is cheap: clones share the same file system.
#[derive(Clone, Default)]
pub struct SimVfs {
    state: Arc<Mutex<State>>,
    hook: Arc<Mutex<Option<Hook>>>,
    clock: Arc<SimClock>,
}

/// The clock of a `SimVfs`: real time until paused, then time that moves only
/// when the test advances it (`SimVfs::advance`); a sleeper waits for that.
#[derive(Default)]
struct SimClock {
    paused: Mutex<Option<Duration>>,
    moved: parking_lot::Condvar,
}

/// Called before some operations (see [`SimVfs::set_hook`]).
pub type Hook = Arc<dyn Fn(HookOp<'_>) + Send + Sync>;

/// An operation about to run, as a [`Hook`] sees it.
#[derive(Debug, Clone, Copy)]
pub enum HookOp<'a> {
    CreateNew(&'a Path),
    TryLock(&'a Path),
    ListDir(&'a Path),
    Rename { from: &'a Path, to: &'a Path },
    SyncDir(&'a Path),
}

/// The root directory's id.
const ROOT: u64 = 0;

/// Garbage collection of unreachable inodes/directories runs once the number
/// of entry-removing ops since the last collection exceeds both this and the
/// number of live objects (so its cost is amortized).
const GC_MIN_DEBT: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    File(u64),
    Dir(u64),
}

#[derive(Debug, Clone)]
enum DirOp {
    /// Create or replace a name.
    Insert(String, Entry),
    Remove(String),
    /// Rename within one directory (atomic in the directory's journal).
    Rename(String, String),
}

fn apply_op(map: &mut BTreeMap<String, Entry>, op: &DirOp) {
    match op {
        DirOp::Insert(name, e) => {
            map.insert(name.clone(), *e);
        }
        DirOp::Remove(name) => {
            map.remove(name);
        }
        DirOp::Rename(from, to) => {
            if let Some(e) = map.remove(from) {
                map.insert(to.clone(), e);
            }
        }
    }
}

#[derive(Default)]
struct Dir {
    /// Entries as of the last `sync_dir`.
    durable: BTreeMap<String, Entry>,
    /// Entries as visible now (= `durable` + all of `pending`).
    current: BTreeMap<String, Entry>,
    /// Entry operations since the last `sync_dir`, in order.
    pending: Vec<DirOp>,
}

impl Dir {
    fn apply(&mut self, op: DirOp) {
        apply_op(&mut self.current, &op);
        self.pending.push(op);
    }

    fn sync(&mut self) {
        for op in self.pending.drain(..) {
            apply_op(&mut self.durable, &op);
        }
        debug_assert_eq!(self.durable, self.current);
    }
}

struct Inode {
    /// Current content.
    data: Vec<u8>,
    /// Length of the durable prefix of `data` (as it was before `undo`).
    synced: usize,
    /// Overwrites inside the durable prefix since the last sync, in order, each
    /// with the bytes it replaced: a power cut keeps a prefix of them.
    undo: Vec<(usize, Vec<u8>)>,
    /// Open `SimFile` handles (keeps an unlinked inode alive).
    handles: usize,
}

struct State {
    dirs: BTreeMap<u64, Dir>,
    inodes: BTreeMap<u64, Inode>,
    next_id: u64,
    locks: HashSet<Vec<String>>,
    fault: Fault,
    ops: u64,
    power_cut: bool,
    gc_debt: usize,
}

impl Default for State {
    fn default() -> Self {
        let mut dirs = BTreeMap::new();
        dirs.insert(ROOT, Dir::default());
        State {
            dirs,
            inodes: BTreeMap::new(),
            next_id: ROOT + 1,
            locks: HashSet::new(),
            fault: Fault::None,
            ops: 0,
            power_cut: false,
            gc_debt: 0,
        }
    }
}

fn err(kind: io::ErrorKind, msg: impl Into<String>) -> io::Error {
    io::Error::new(kind, msg.into())
}

fn power_cut_error() -> io::Error {
    err(
        io::ErrorKind::Other,
        "simulated power cut: the file system is off",
    )
}

fn not_found(path: &Path) -> io::Error {
    err(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

/// Normalize a path into its components, treating it as absolute.
fn norm(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
        }
    }
    out
}

impl State {
    /// Count one op and apply the fault plan to it.
    fn begin_op(&mut self) -> io::Result<()> {
        let n = self.ops;
        self.ops += 1;
        if self.power_cut {
            return Err(power_cut_error());
        }
        match self.fault {
            Fault::PowerCutAt(k) if n >= k => {
                self.power_cut = true;
                Err(power_cut_error())
            }
            Fault::IoErrorAt(k) if n == k => Err(err(
                io::ErrorKind::Other,
                format!("injected I/O error at op {n}"),
            )),
            _ => Ok(()),
        }
    }

    /// Reads are not counted but fail once the power is off.
    fn check_power(&self) -> io::Result<()> {
        if self.power_cut {
            Err(power_cut_error())
        } else {
            Ok(())
        }
    }

    fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn dir(&self, id: u64) -> &Dir {
        self.dirs.get(&id).expect("sim: dangling directory id")
    }

    fn dir_mut(&mut self, id: u64) -> &mut Dir {
        self.dirs.get_mut(&id).expect("sim: dangling directory id")
    }

    fn inode(&self, id: u64) -> &Inode {
        self.inodes.get(&id).expect("sim: dangling inode id")
    }

    fn inode_mut(&mut self, id: u64) -> &mut Inode {
        self.inodes.get_mut(&id).expect("sim: dangling inode id")
    }

    /// Resolve a whole path (the root for no components).
    fn lookup(&self, comps: &[String], path: &Path) -> io::Result<Entry> {
        let mut cur = Entry::Dir(ROOT);
        for c in comps {
            let Entry::Dir(d) = cur else {
                return Err(err(
                    io::ErrorKind::NotADirectory,
                    format!("{}: a path component is not a directory", path.display()),
                ));
            };
            cur = *self.dir(d).current.get(c).ok_or_else(|| not_found(path))?;
        }
        Ok(cur)
    }

    fn lookup_dir(&self, comps: &[String], path: &Path) -> io::Result<u64> {
        match self.lookup(comps, path)? {
            Entry::Dir(d) => Ok(d),
            Entry::File(_) => Err(err(
                io::ErrorKind::NotADirectory,
                format!("{}: not a directory", path.display()),
            )),
        }
    }

    /// The directory holding the last component, and that component.
    fn parent_of<'a>(&self, comps: &'a [String], path: &Path) -> io::Result<(u64, &'a str)> {
        let Some((name, parent)) = comps.split_last() else {
            return Err(err(
                io::ErrorKind::InvalidInput,
                format!("{}: the root has no parent directory", path.display()),
            ));
        };
        Ok((self.lookup_dir(parent, path)?, name))
    }

    fn new_file(&mut self, dir: u64, name: &str, handles: usize) -> u64 {
        let ino = self.alloc_id();
        self.inodes.insert(
            ino,
            Inode {
                data: Vec::new(),
                synced: 0,
                undo: Vec::new(),
                handles,
            },
        );
        self.dir_mut(dir)
            .apply(DirOp::Insert(name.to_string(), Entry::File(ino)));
        ino
    }

    /// Account for an op that may have made objects unreachable.
    fn maybe_gc(&mut self) {
        self.gc_debt += 1;
        if self.gc_debt > GC_MIN_DEBT.max(self.dirs.len() + self.inodes.len()) {
            self.gc();
        }
    }

    /// Drop directories and inodes that no crash image and no open handle can
    /// reach: keep everything reachable from the root through current, durable
    /// or pending entries.
    fn gc(&mut self) {
        self.gc_debt = 0;
        let mut live_dirs = HashSet::from([ROOT]);
        let mut live_inodes: HashSet<u64> = self
            .inodes
            .iter()
            .filter(|(_, i)| i.handles > 0)
            .map(|(id, _)| *id)
            .collect();
        let mut stack = vec![ROOT];
        while let Some(d) = stack.pop() {
            let dir = self.dir(d);
            let pending = dir.pending.iter().filter_map(|op| match op {
                DirOp::Insert(_, e) => Some(e),
                _ => None,
            });
            for e in dir
                .current
                .values()
                .chain(dir.durable.values())
                .chain(pending)
            {
                match *e {
                    Entry::Dir(c) => {
                        if live_dirs.insert(c) {
                            stack.push(c);
                        }
                    }
                    Entry::File(i) => {
                        live_inodes.insert(i);
                    }
                }
            }
        }
        self.dirs.retain(|id, _| live_dirs.contains(id));
        self.inodes.retain(|id, _| live_inodes.contains(id));
    }

    /// Build the state a reboot would find, with `choose(n)` picking how many of
    /// `n` volatile items (pending entry ops of a directory, unsynced bytes of an
    /// inode) reached the disk, as a prefix.
    fn image(&self, mut choose: impl FnMut(usize) -> usize) -> State {
        // Choose per directory and per inode, in id order (deterministic).
        let mut entries: BTreeMap<u64, BTreeMap<String, Entry>> = BTreeMap::new();
        for (&id, d) in &self.dirs {
            let k = choose(d.pending.len()).min(d.pending.len());
            let mut map = d.durable.clone();
            for op in &d.pending[..k] {
                apply_op(&mut map, op);
            }
            entries.insert(id, map);
        }
        let mut lens: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
        for (&id, ino) in &self.inodes {
            let volatile = ino.data.len() - ino.synced;
            let len = ino.synced + choose(volatile).min(volatile);
            let kept = if ino.undo.is_empty() {
                0
            } else {
                choose(ino.undo.len()).min(ino.undo.len())
            };
            lens.insert(id, (len, kept));
        }

        let mut out = State {
            next_id: self.next_id,
            ..State::default()
        };
        out.dirs.clear();
        let mut seen_dirs = HashSet::from([ROOT]);
        let mut stack = vec![ROOT];
        while let Some(d) = stack.pop() {
            let mut map = entries.remove(&d).unwrap_or_default();
            // A directory can show up under two names only through a torn
            // cross-directory rename; keep the first name found.
            map.retain(|_, e| match *e {
                Entry::Dir(c) => {
                    let fresh = seen_dirs.insert(c);
                    if fresh {
                        stack.push(c);
                    }
                    fresh
                }
                Entry::File(i) => {
                    out.inodes.entry(i).or_insert_with(|| {
                        let (len, kept) = lens[&i];
                        let ino = self.inode(i);
                        let mut data = ino.data[..len].to_vec();
                        // Overwrites after the first `kept` never reached the disk.
                        for (off, old) in ino.undo[kept..].iter().rev() {
                            data[*off..*off + old.len()].copy_from_slice(old);
                        }
                        Inode {
                            data,
                            synced: len,
                            undo: Vec::new(),
                            handles: 0,
                        }
                    });
                    true
                }
            });
            out.dirs.insert(
                d,
                Dir {
                    durable: map.clone(),
                    current: map,
                    pending: Vec::new(),
                },
            );
        }
        out
    }
}

impl SimVfs {
    /// An empty file system holding only the root directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the fault plan (replacing any previous one). A power cut that has
    /// already happened stays in effect.
    /// Run `hook` at the start of every `create_new`, `rename`, `try_lock` and
    /// `list_dir`, outside the
    /// file system's lock, in the calling thread (tests use it to force an
    /// interleaving of threads: it may block). `None` removes it.
    pub fn set_hook(&self, hook: Option<Hook>) {
        *self.hook.lock() = hook;
    }

    fn run_hook(&self, op: HookOp<'_>) {
        let hook = self.hook.lock().clone();
        if let Some(h) = hook {
            h(op);
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        self.state.lock().fault = fault;
    }

    /// The current fault plan.
    pub fn fault(&self) -> Fault {
        self.state.lock().fault
    }

    /// How many ops have been counted since creation or [`Self::reset_op_count`].
    /// Every call of a counted operation counts, including failing ones.
    pub fn op_count(&self) -> u64 {
        self.state.lock().ops
    }

    /// Restart op numbering at 0.
    pub fn reset_op_count(&self) {
        self.state.lock().ops = 0;
    }

    /// Whether the power has been cut (by a [`Fault::PowerCutAt`]).
    pub fn is_power_cut(&self) -> bool {
        self.state.lock().power_cut
    }

    /// What a power cut right now could leave on disk, chosen by `seed`: every
    /// directory keeps its durable entries plus a prefix of its unsynced entry
    /// operations, every file its durable content plus a prefix of its unsynced
    /// bytes. The result is a fresh file system (no faults, op count 0, no
    /// locks, everything durable). The same state and seed give the same image.
    pub fn crash_image(&self, seed: u64) -> SimVfs {
        let mut rng = fastrand::Rng::with_seed(seed);
        // Favour the two extremes (nothing / everything reached the disk), which
        // are the likeliest to expose bugs, and pick uniformly otherwise.
        let choose = move |n: usize| match rng.u8(0..4) {
            _ if n == 0 => 0,
            0 => 0,
            1 => n,
            _ => rng.usize(0..=n),
        };
        let image = self.state.lock().image(choose);
        SimVfs {
            state: Arc::new(Mutex::new(image)),
            hook: Arc::default(),
            clock: Arc::default(),
        }
    }

    /// What a power cut right now would leave if nothing unsynced survived:
    /// only synced file content and synced directory entries.
    pub fn crash_image_strict(&self) -> SimVfs {
        let image = self.state.lock().image(|_| 0);
        SimVfs {
            state: Arc::new(Mutex::new(image)),
            hook: Arc::default(),
            clock: Arc::default(),
        }
    }

    /// Paths of all files under `dir` (recursively, as currently visible),
    /// sorted. Empty if `dir` does not exist; `[dir]` if it is a file.
    pub fn file_names_under(&self, dir: &Path) -> Vec<PathBuf> {
        let st = self.state.lock();
        let mut out = Vec::new();
        let mut stack = match st.lookup(&norm(dir), dir) {
            Ok(Entry::Dir(d)) => vec![(d, dir.to_path_buf())],
            Ok(Entry::File(_)) => return vec![dir.to_path_buf()],
            Err(_) => return out,
        };
        while let Some((d, path)) = stack.pop() {
            for (name, e) in &st.dir(d).current {
                match *e {
                    Entry::File(_) => out.push(path.join(name)),
                    Entry::Dir(c) => stack.push((c, path.join(name))),
                }
            }
        }
        out.sort();
        out
    }

    /// Flip every bit of the byte at `offset` of the file at `path`, as disk
    /// damage: the change is durable and is not an op.
    pub fn corrupt_byte(&self, path: &Path, offset: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let ino = self.file_inode(&st, path)?;
        let inode = st.inode_mut(ino);
        let len = inode.data.len();
        let byte = usize::try_from(offset)
            .ok()
            .and_then(|o| inode.data.get_mut(o))
            .ok_or_else(|| {
                err(
                    io::ErrorKind::InvalidInput,
                    format!("{}: offset {offset} >= length {len}", path.display()),
                )
            })?;
        *byte ^= 0xff;
        Ok(())
    }

    /// Cut the file at `path` to `len` bytes (which must not exceed its
    /// length), as disk damage: the change is durable and is not an op.
    pub fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let ino = self.file_inode(&st, path)?;
        let inode = st.inode_mut(ino);
        let cur = inode.data.len();
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= cur)
            .ok_or_else(|| {
                err(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{}: cannot truncate to {len} > length {cur}",
                        path.display()
                    ),
                )
            })?;
        inode.data.truncate(len);
        inode.synced = inode.synced.min(len);
        inode.undo.retain(|(off, old)| off + old.len() <= len);
        Ok(())
    }

    fn file_inode(&self, st: &State, path: &Path) -> io::Result<u64> {
        match st.lookup(&norm(path), path)? {
            Entry::File(i) => Ok(i),
            Entry::Dir(_) => Err(err(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory", path.display()),
            )),
        }
    }

    fn handle(&self, ino: u64, writable: bool) -> Arc<dyn VFile> {
        Arc::new(SimFile {
            vfs: self.clone(),
            ino,
            writable,
        })
    }
}

impl fmt::Debug for SimVfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("SimVfs")
            .field("ops", &st.ops)
            .field("fault", &st.fault)
            .field("power_cut", &st.power_cut)
            .field("dirs", &st.dirs.len())
            .field("inodes", &st.inodes.len())
            .finish()
    }
}

/// An open file of a [`SimVfs`].
struct SimFile {
    vfs: SimVfs,
    ino: u64,
    /// False for handles from `open` (read-only, like the OS version).
    writable: bool,
}

impl VFile for SimFile {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let st = self.vfs.state.lock();
        st.check_power()?;
        let data = &st.inode(self.ino).data;
        let start = usize::try_from(off).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| data.get(start..end))
        {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(err(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "read of {} bytes at {off} past end of file (length {})",
                    buf.len(),
                    data.len()
                ),
            )),
        }
    }

    fn append(&self, data: &[u8]) -> io::Result<()> {
        let mut st = self.vfs.state.lock();
        st.begin_op()?;
        if !self.writable {
            return Err(err(
                io::ErrorKind::PermissionDenied,
                "append to a file opened read-only",
            ));
        }
        if st.fault == Fault::DiskFull && !data.is_empty() {
            return Err(err(io::ErrorKind::StorageFull, "no space left on device"));
        }
        st.inode_mut(self.ino).data.extend_from_slice(data);
        Ok(())
    }

    fn write_at(&self, data: &[u8], off: u64) -> io::Result<()> {
        let mut st = self.vfs.state.lock();
        st.begin_op()?;
        if !self.writable {
            return Err(err(
                io::ErrorKind::PermissionDenied,
                "write to a file opened read-only",
            ));
        }
        if st.fault == Fault::DiskFull && !data.is_empty() {
            return Err(err(io::ErrorKind::StorageFull, "no space left on device"));
        }
        let inode = st.inode_mut(self.ino);
        let off = usize::try_from(off).unwrap_or(usize::MAX);
        if off > inode.data.len() {
            return Err(err(
                io::ErrorKind::InvalidInput,
                "write past the end of the file",
            ));
        }
        let end = off + data.len();
        // The part over durable bytes is undone by a power cut unless it survives.
        let durable_end = end.min(inode.synced);
        if off < durable_end {
            let old = inode.data[off..durable_end].to_vec();
            inode.undo.push((off, old));
        }
        if end > inode.data.len() {
            inode.data.resize(end, 0);
        }
        inode.data[off..end].copy_from_slice(data);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut st = self.vfs.state.lock();
        st.begin_op()?;
        let inode = st.inode_mut(self.ino);
        inode.synced = inode.data.len();
        inode.undo.clear();
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let st = self.vfs.state.lock();
        st.check_power()?;
        Ok(st.inode(self.ino).data.len() as u64)
    }

    fn id(&self) -> io::Result<FileId> {
        self.vfs.state.lock().check_power()?;
        Ok(FileId {
            dev: 0,
            ino: self.ino,
        })
    }
}

impl Drop for SimFile {
    fn drop(&mut self) {
        let mut st = self.vfs.state.lock();
        if let Some(inode) = st.inodes.get_mut(&self.ino) {
            inode.handles -= 1;
        }
    }
}

/// A held [`SimVfs::try_lock`] lock; dropping it releases the lock.
struct SimLock {
    vfs: SimVfs,
    key: Vec<String>,
}

impl VLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        self.vfs.state.lock().locks.remove(&self.key);
    }
}

impl SimVfs {
    /// Stop the clock: from now on `now()` moves only by `advance`, and `sleep`
    /// waits until the test has advanced it far enough. Leases, heartbeats,
    /// grace periods, lock waits and fencing then run in simulated time.
    pub fn pause_clock(&self) {
        let mut p = self.clock.paused.lock();
        if p.is_none() {
            *p = Some(sop::Vfs::now(&sop::OsVfs));
        }
    }

    /// Move the paused clock forward by `d` (waking sleepers whose time came).
    pub fn advance(&self, d: Duration) {
        let mut p = self.clock.paused.lock();
        let now = p.expect("advance needs a paused clock (SimVfs::pause_clock)");
        *p = Some(now + d);
        self.clock.moved.notify_all();
    }
}

impl Vfs for SimVfs {
    fn now(&self) -> Duration {
        match *self.clock.paused.lock() {
            Some(t) => t,
            None => sop::Vfs::now(&sop::OsVfs),
        }
    }

    fn sleep(&self, d: Duration) {
        let mut p = self.clock.paused.lock();
        let Some(start) = *p else {
            drop(p);
            return std::thread::sleep(d);
        };
        let until = start + d;
        while p.is_some_and(|t| t < until) {
            self.clock.moved.wait(&mut p);
        }
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.begin_op()?;
        let comps = norm(path);
        // Validate first so that a failure changes nothing.
        let mut cur = Some(ROOT);
        for (i, c) in comps.iter().enumerate() {
            let Some(d) = cur else { break };
            cur = match st.dir(d).current.get(c) {
                Some(Entry::Dir(next)) => Some(*next),
                None => None,
                Some(Entry::File(_)) if i + 1 == comps.len() => {
                    return Err(err(
                        io::ErrorKind::AlreadyExists,
                        format!("{}: is a file", path.display()),
                    ));
                }
                Some(Entry::File(_)) => {
                    return Err(err(
                        io::ErrorKind::NotADirectory,
                        format!("{}: a path component is a file", path.display()),
                    ));
                }
            };
        }
        let mut d = ROOT;
        for c in &comps {
            d = match st.dir(d).current.get(c) {
                Some(Entry::Dir(next)) => *next,
                _ => {
                    let id = st.alloc_id();
                    st.dirs.insert(id, Dir::default());
                    st.dir_mut(d)
                        .apply(DirOp::Insert(c.clone(), Entry::Dir(id)));
                    id
                }
            };
        }
        Ok(())
    }

    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn VFile>> {
        self.run_hook(HookOp::CreateNew(path));
        let mut st = self.state.lock();
        st.begin_op()?;
        let comps = norm(path);
        let (dir, name) = st.parent_of(&comps, path)?;
        if st.dir(dir).current.contains_key(name) {
            return Err(err(
                io::ErrorKind::AlreadyExists,
                format!("{}: already exists", path.display()),
            ));
        }
        let ino = st.new_file(dir, name, 1);
        drop(st);
        Ok(self.handle(ino, true))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn VFile>> {
        let mut st = self.state.lock();
        st.check_power()?;
        let ino = self.file_inode(&st, path)?;
        st.inode_mut(ino).handles += 1;
        drop(st);
        Ok(self.handle(ino, false))
    }

    fn open_shared(&self, path: &Path) -> io::Result<Arc<dyn VFile>> {
        let mut st = self.state.lock();
        st.begin_op()?;
        if let Ok(ino) = self.file_inode(&st, path) {
            st.inode_mut(ino).handles += 1;
            drop(st);
            return Ok(self.handle(ino, true));
        }
        let comps = norm(path);
        let (dir, name) = st.parent_of(&comps, path)?;
        let ino = st.new_file(dir, name, 1);
        drop(st);
        Ok(self.handle(ino, true))
    }

    fn link_exclusive(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.begin_op()?;
        let src = st.lookup(&norm(from), from)?;
        if let Entry::Dir(_) = src {
            return Err(err(
                io::ErrorKind::PermissionDenied,
                format!("{}: cannot hard-link a directory", from.display()),
            ));
        }
        let tc = norm(to);
        let (dir, name) = st.parent_of(&tc, to)?;
        if st.dir(dir).current.contains_key(name) {
            return Err(err(
                io::ErrorKind::AlreadyExists,
                format!("{}: already exists", to.display()),
            ));
        }
        st.dir_mut(dir).apply(DirOp::Insert(name.to_string(), src));
        if st.fault == Fault::LinkThenExistsAt(st.ops - 1) {
            return Err(err(
                io::ErrorKind::AlreadyExists,
                format!("{}: already exists (injected after linking)", to.display()),
            ));
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.run_hook(HookOp::Rename { from, to });
        let mut st = self.state.lock();
        st.begin_op()?;
        let fc = norm(from);
        let tc = norm(to);
        let (fdir, fname) = st.parent_of(&fc, from)?;
        let src = *st
            .dir(fdir)
            .current
            .get(fname)
            .ok_or_else(|| not_found(from))?;
        let (tdir, tname) = st.parent_of(&tc, to)?;
        if matches!(src, Entry::Dir(_)) && tc.len() > fc.len() && tc[..fc.len()] == fc[..] {
            return Err(err(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot move {} into itself ({})",
                    from.display(),
                    to.display()
                ),
            ));
        }
        match (src, st.dir(tdir).current.get(tname).copied()) {
            (_, None) => {}
            // Same name, or two hard links to one inode: POSIX does nothing.
            (s, Some(t)) if s == t => return Ok(()),
            (Entry::File(_), Some(Entry::Dir(_))) => {
                return Err(err(
                    io::ErrorKind::IsADirectory,
                    format!("{}: is a directory", to.display()),
                ));
            }
            (Entry::Dir(_), Some(Entry::File(_))) => {
                return Err(err(
                    io::ErrorKind::NotADirectory,
                    format!("{}: not a directory", to.display()),
                ));
            }
            (Entry::Dir(_), Some(Entry::Dir(t))) => {
                if !st.dir(t).current.is_empty() {
                    return Err(err(
                        io::ErrorKind::DirectoryNotEmpty,
                        format!("{}: directory not empty", to.display()),
                    ));
                }
            }
            (Entry::File(_), Some(Entry::File(_))) => {}
        }
        if fdir == tdir {
            st.dir_mut(fdir)
                .apply(DirOp::Rename(fname.to_string(), tname.to_string()));
        } else {
            // Two independent journal entries: a crash may keep either, both
            // or neither (pessimistic).
            st.dir_mut(fdir).apply(DirOp::Remove(fname.to_string()));
            st.dir_mut(tdir)
                .apply(DirOp::Insert(tname.to_string(), src));
        }
        st.maybe_gc();
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.begin_op()?;
        let comps = norm(path);
        let (dir, name) = st.parent_of(&comps, path)?;
        match st.dir(dir).current.get(name) {
            None => return Err(not_found(path)),
            Some(Entry::Dir(_)) => {
                return Err(err(
                    io::ErrorKind::IsADirectory,
                    format!("{}: is a directory", path.display()),
                ));
            }
            Some(Entry::File(_)) => {}
        }
        st.dir_mut(dir).apply(DirOp::Remove(name.to_string()));
        st.maybe_gc();
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        st.begin_op()?;
        let comps = norm(path);
        if comps.is_empty() {
            return Err(err(
                io::ErrorKind::PermissionDenied,
                "cannot remove the root directory",
            ));
        }
        let (dir, name) = st.parent_of(&comps, path)?;
        match st.dir(dir).current.get(name) {
            None => return Err(not_found(path)),
            Some(Entry::File(_)) => {
                return Err(err(
                    io::ErrorKind::NotADirectory,
                    format!("{}: not a directory", path.display()),
                ));
            }
            Some(Entry::Dir(d)) => {
                if !st.dir(*d).current.is_empty() {
                    return Err(err(
                        io::ErrorKind::DirectoryNotEmpty,
                        format!("{}: directory not empty", path.display()),
                    ));
                }
            }
        }
        st.dir_mut(dir).apply(DirOp::Remove(name.to_string()));
        st.maybe_gc();
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.run_hook(HookOp::ListDir(path));
        let st = self.state.lock();
        st.check_power()?;
        let d = st.lookup_dir(&norm(path), path)?;
        Ok(st.dir(d).current.keys().cloned().collect())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.run_hook(HookOp::SyncDir(path));
        let mut st = self.state.lock();
        st.begin_op()?;
        let d = st.lookup_dir(&norm(path), path)?;
        st.dir_mut(d).sync();
        st.maybe_gc();
        Ok(())
    }

    fn file_id(&self, path: &Path) -> io::Result<FileId> {
        let st = self.state.lock();
        st.check_power()?;
        Ok(FileId {
            dev: 0,
            ino: self.file_inode(&st, path)?,
        })
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let st = self.state.lock();
        st.check_power()?;
        match st.lookup(&norm(path), path) {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn VLock>>> {
        self.run_hook(HookOp::TryLock(path));
        let mut st = self.state.lock();
        st.check_power()?;
        let comps = norm(path);
        match st.lookup(&comps, path) {
            Ok(Entry::File(_)) => {}
            Ok(Entry::Dir(_)) => {
                return Err(err(
                    io::ErrorKind::IsADirectory,
                    format!("{}: is a directory", path.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let (dir, name) = st.parent_of(&comps, path)?;
                st.new_file(dir, name, 0);
            }
            Err(e) => return Err(e),
        }
        if !st.locks.insert(comps.clone()) {
            return Ok(None);
        }
        drop(st);
        Ok(Some(Box::new(SimLock {
            vfs: self.clone(),
            key: comps,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn p(s: &str) -> &Path {
        Path::new(s)
    }

    /// A file system with a durable directory `/db`.
    fn with_db() -> SimVfs {
        let vfs = SimVfs::new();
        vfs.create_dir_all(p("/db")).unwrap();
        vfs.sync_dir(p("/")).unwrap();
        vfs
    }

    /// A durable file `/db/f` holding `content` (content and entry synced).
    fn durable_file(vfs: &SimVfs, content: &[u8]) -> Arc<dyn VFile> {
        let f = vfs.create_new(p("/db/f")).unwrap();
        f.append(content).unwrap();
        f.sync_data().unwrap();
        vfs.sync_dir(p("/db")).unwrap();
        f
    }

    fn names(vfs: &SimVfs, dir: &str) -> BTreeSet<String> {
        vfs.list_dir(p(dir)).unwrap().into_iter().collect()
    }

    #[test]
    fn overwrites_of_durable_bytes_survive_as_a_prefix_until_synced() {
        let vfs = with_db();
        let f = durable_file(&vfs, b"aaaaaaaa");
        f.write_at(b"bb", 0).unwrap();
        f.write_at(b"cc", 2).unwrap();
        f.write_at(b"dddd", 6).unwrap(); // half over durable bytes, half extending
        let read = |v: &SimVfs| v.read_all(p("/db/f")).unwrap();
        assert_eq!(read(&vfs), b"bbccaadddd");
        assert_eq!(read(&vfs.crash_image_strict()), b"aaaaaaaa");
        let mut seen = BTreeSet::new();
        for seed in 0..200 {
            let img = read(&vfs.crash_image(seed));
            // A prefix of the overwrites, and a prefix of the extension.
            assert!(
                [&b"aaaaaaaa"[..], b"bbaaaaaa", b"bbccaaaa", b"bbccaadd"]
                    .iter()
                    .any(|w| img.starts_with(&w[..8])),
                "{:?}",
                String::from_utf8_lossy(&img)
            );
            seen.insert(img[..8].to_vec());
        }
        assert!(seen.len() >= 3, "images keep different prefixes: {seen:?}");
        f.sync_data().unwrap();
        assert_eq!(read(&vfs.crash_image_strict()), b"bbccaadddd");
        // Past the end is refused; a read-only handle cannot write.
        assert!(f.write_at(b"x", 11).is_err());
        assert!(vfs.open(p("/db/f")).unwrap().write_at(b"x", 0).is_err());
    }

    #[test]
    fn unsynced_append_lost_by_strict_image() {
        let vfs = with_db();
        let f = durable_file(&vfs, b"");
        f.append(b"hello").unwrap();
        assert_eq!(vfs.read_all(p("/db/f")).unwrap(), b"hello");
        let img = vfs.crash_image_strict();
        assert_eq!(img.read_all(p("/db/f")).unwrap(), b"");
    }

    #[test]
    fn synced_append_survives_every_image() {
        let vfs = with_db();
        let f = durable_file(&vfs, b"hello");
        f.append(b" world").unwrap();
        assert_eq!(
            vfs.crash_image_strict().read_all(p("/db/f")).unwrap(),
            b"hello"
        );
        for seed in 0..50 {
            let got = vfs.crash_image(seed).read_all(p("/db/f")).unwrap();
            assert!(got.starts_with(b"hello"), "seed {seed}: {got:?}");
        }
    }

    #[test]
    fn created_file_needs_sync_dir() {
        let vfs = with_db();
        let f = vfs.create_new(p("/db/f")).unwrap();
        f.append(b"x").unwrap();
        f.sync_data().unwrap();
        assert!(!vfs.crash_image_strict().exists(p("/db/f")).unwrap());
        vfs.sync_dir(p("/db")).unwrap();
        assert_eq!(vfs.crash_image_strict().read_all(p("/db/f")).unwrap(), b"x");
    }

    #[test]
    fn link_durable_only_after_sync_dir() {
        let vfs = with_db();
        durable_file(&vfs, b"data");
        vfs.link_exclusive(p("/db/f"), p("/db/g")).unwrap();
        assert_eq!(vfs.read_all(p("/db/g")).unwrap(), b"data");
        assert!(!vfs.crash_image_strict().exists(p("/db/g")).unwrap());
        vfs.sync_dir(p("/db")).unwrap();
        let img = vfs.crash_image_strict();
        assert_eq!(img.read_all(p("/db/g")).unwrap(), b"data");
        assert_eq!(img.read_all(p("/db/f")).unwrap(), b"data");
    }

    #[test]
    fn hard_links_share_one_inode() {
        let vfs = with_db();
        let f = durable_file(&vfs, b"a");
        vfs.link_exclusive(p("/db/f"), p("/db/g")).unwrap();
        vfs.sync_dir(p("/db")).unwrap();
        f.append(b"bcdef").unwrap();
        assert_eq!(vfs.read_all(p("/db/g")).unwrap(), b"abcdef");
        vfs.remove_file(p("/db/f")).unwrap();
        assert_eq!(vfs.read_all(p("/db/g")).unwrap(), b"abcdef");
        // Both names of one inode always show the same torn content.
        let f2 = vfs.create_new(p("/db/h")).unwrap();
        f2.append(b"123456").unwrap();
        vfs.link_exclusive(p("/db/h"), p("/db/i")).unwrap();
        vfs.sync_dir(p("/db")).unwrap();
        for seed in 0..50 {
            let img = vfs.crash_image(seed);
            assert_eq!(
                img.read_all(p("/db/h")).unwrap(),
                img.read_all(p("/db/i")).unwrap()
            );
        }
    }

    #[test]
    fn rename_semantics_and_durability() {
        let vfs = with_db();
        durable_file(&vfs, b"old");
        let g = vfs.create_new(p("/db/g")).unwrap();
        g.append(b"new").unwrap();
        g.sync_data().unwrap();
        vfs.sync_dir(p("/db")).unwrap();

        vfs.rename(p("/db/g"), p("/db/f")).unwrap();
        assert_eq!(vfs.read_all(p("/db/f")).unwrap(), b"new");
        assert!(!vfs.exists(p("/db/g")).unwrap());
        assert_eq!(names(&vfs, "/db"), BTreeSet::from(["f".to_string()]));

        // Not yet durable: the strict image has the old state.
        let img = vfs.crash_image_strict();
        assert_eq!(img.read_all(p("/db/f")).unwrap(), b"old");
        assert_eq!(img.read_all(p("/db/g")).unwrap(), b"new");
        // A same-directory rename is atomic: never both names gone or both new.
        for seed in 0..50 {
            let img = vfs.crash_image(seed);
            let f = img.read_all(p("/db/f")).unwrap();
            let g_exists = img.exists(p("/db/g")).unwrap();
            assert!(
                (f == b"old" && g_exists) || (f == b"new" && !g_exists),
                "seed {seed}"
            );
        }

        vfs.sync_dir(p("/db")).unwrap();
        let img = vfs.crash_image_strict();
        assert_eq!(img.read_all(p("/db/f")).unwrap(), b"new");
        assert!(!img.exists(p("/db/g")).unwrap());

        let e = vfs.rename(p("/db/missing"), p("/db/x")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = vfs.rename(p("/db/f"), p("/nodir/x")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        // Renaming a name onto itself is a no-op.
        vfs.rename(p("/db/f"), p("/db/f")).unwrap();
        assert_eq!(vfs.read_all(p("/db/f")).unwrap(), b"new");
    }

    #[test]
    fn rename_across_directories_is_durable_after_both_syncs() {
        let vfs = with_db();
        vfs.create_dir_all(p("/db/sub")).unwrap();
        vfs.sync_dir(p("/db")).unwrap();
        durable_file(&vfs, b"x");
        vfs.rename(p("/db/f"), p("/db/sub/f")).unwrap();
        assert!(vfs.exists(p("/db/sub/f")).unwrap());
        vfs.sync_dir(p("/db/sub")).unwrap();
        let img = vfs.crash_image_strict();
        assert!(img.exists(p("/db/f")).unwrap() && img.exists(p("/db/sub/f")).unwrap());
        vfs.sync_dir(p("/db")).unwrap();
        let img = vfs.crash_image_strict();
        assert!(!img.exists(p("/db/f")).unwrap());
        assert_eq!(img.read_all(p("/db/sub/f")).unwrap(), b"x");

        // Moving a directory into itself fails.
        let e = vfs.rename(p("/db"), p("/db/sub/db")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn remove_semantics_and_durability() {
        let vfs = with_db();
        durable_file(&vfs, b"x");
        vfs.remove_file(p("/db/f")).unwrap();
        assert!(!vfs.exists(p("/db/f")).unwrap());
        assert_eq!(
            vfs.remove_file(p("/db/f")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        // The removal is not durable yet.
        assert_eq!(vfs.crash_image_strict().read_all(p("/db/f")).unwrap(), b"x");
        vfs.sync_dir(p("/db")).unwrap();
        assert!(!vfs.crash_image_strict().exists(p("/db/f")).unwrap());

        // Directories: non-empty removal fails, empty removal works.
        vfs.create_dir_all(p("/db/d")).unwrap();
        vfs.create_new(p("/db/d/f")).unwrap();
        let e = vfs.remove_dir(p("/db/d")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::DirectoryNotEmpty);
        assert_eq!(
            vfs.remove_file(p("/db/d")).unwrap_err().kind(),
            io::ErrorKind::IsADirectory
        );
        assert_eq!(
            vfs.remove_dir(p("/db/d/f")).unwrap_err().kind(),
            io::ErrorKind::NotADirectory
        );
        vfs.remove_file(p("/db/d/f")).unwrap();
        vfs.remove_dir(p("/db/d")).unwrap();
        assert!(!vfs.exists(p("/db/d")).unwrap());
        assert_eq!(
            vfs.remove_dir(p("/db/d")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn unsynced_directory_vanishes_with_its_content() {
        let vfs = SimVfs::new();
        vfs.create_dir_all(p("/a/b")).unwrap();
        let f = vfs.create_new(p("/a/b/f")).unwrap();
        f.append(b"x").unwrap();
        f.sync_data().unwrap();
        vfs.sync_dir(p("/a/b")).unwrap();
        vfs.sync_dir(p("/a")).unwrap();
        // "/a" itself was never synced into "/".
        let img = vfs.crash_image_strict();
        assert!(!img.exists(p("/a")).unwrap());
        assert!(img.file_names_under(p("/")).is_empty());
        vfs.sync_dir(p("/")).unwrap();
        assert_eq!(
            vfs.crash_image_strict().read_all(p("/a/b/f")).unwrap(),
            b"x"
        );
    }

    #[test]
    fn torn_writes_are_prefixes() {
        let vfs = with_db();
        let f = durable_file(&vfs, b"abc");
        f.append(b"defg").unwrap();
        f.append(b"hij").unwrap();
        let full = b"abcdefghij".to_vec();
        let mut seen = BTreeSet::new();
        for seed in 0..300 {
            let got = vfs.crash_image(seed).read_all(p("/db/f")).unwrap();
            assert!(
                got.len() >= 3 && full.starts_with(&got),
                "seed {seed}: {got:?}"
            );
            seen.insert(got.len());
        }
        assert!(
            seen.contains(&3),
            "never saw the empty torn prefix: {seen:?}"
        );
        assert!(seen.contains(&10), "never saw the full content: {seen:?}");
        assert!(seen.len() > 3, "too few distinct prefixes: {seen:?}");
        // Same seed, same image.
        assert_eq!(
            vfs.crash_image(7).read_all(p("/db/f")).unwrap(),
            vfs.crash_image(7).read_all(p("/db/f")).unwrap()
        );
    }

    #[test]
    fn unsynced_entry_ops_survive_as_a_prefix() {
        let vfs = with_db();
        let order = ["a", "b", "c", "d"];
        for n in order {
            vfs.create_new(&Path::new("/db").join(n)).unwrap();
        }
        let mut seen = BTreeSet::new();
        for seed in 0..300 {
            let got = names(&vfs.crash_image(seed), "/db");
            let k = got.len();
            let want: BTreeSet<String> = order[..k].iter().map(|s| s.to_string()).collect();
            assert_eq!(got, want, "seed {seed}: not a prefix");
            seen.insert(k);
        }
        assert!(seen.contains(&0) && seen.contains(&4), "{seen:?}");
    }

    #[test]
    fn io_error_changes_nothing_and_later_ops_work() {
        let vfs = with_db();
        let f = durable_file(&vfs, b"x");
        let n = vfs.op_count();
        vfs.set_fault(Fault::IoErrorAt(n + 1));
        f.append(b"y").unwrap(); // op n
        let e = f.sync_data().unwrap_err(); // op n + 1
        assert_eq!(e.kind(), io::ErrorKind::Other);
        assert!(e.to_string().contains("injected"), "{e}");
        assert_eq!(vfs.crash_image_strict().read_all(p("/db/f")).unwrap(), b"x");
        f.sync_data().unwrap();
        assert_eq!(
            vfs.crash_image_strict().read_all(p("/db/f")).unwrap(),
            b"xy"
        );

        // A failed append adds nothing; a failed create creates nothing.
        let n = vfs.op_count();
        vfs.set_fault(Fault::IoErrorAt(n));
        assert!(f.append(b"zzz").is_err());
        assert_eq!(vfs.read_all(p("/db/f")).unwrap(), b"xy");
        vfs.set_fault(Fault::IoErrorAt(n + 1));
        assert!(vfs.create_new(p("/db/g")).is_err());
        assert!(!vfs.exists(p("/db/g")).unwrap());
        vfs.set_fault(Fault::IoErrorAt(n + 2));
        assert!(vfs.create_dir_all(p("/db/x/y")).is_err());
        assert!(!vfs.exists(p("/db/x")).unwrap());
        vfs.set_fault(Fault::IoErrorAt(n + 3));
        assert!(vfs.rename(p("/db/f"), p("/db/h")).is_err());
        assert!(vfs.exists(p("/db/f")).unwrap() && !vfs.exists(p("/db/h")).unwrap());
        vfs.set_fault(Fault::IoErrorAt(n + 4));
        assert!(vfs.sync_dir(p("/db")).is_err());
        // Later ops work.
        vfs.create_new(p("/db/g")).unwrap();
        vfs.sync_dir(p("/db")).unwrap();
        assert!(vfs.crash_image_strict().exists(p("/db/g")).unwrap());
        assert!(!vfs.is_power_cut());
    }

    #[test]
    fn power_cut_freezes_everything() {
        let vfs = with_db();
        let f = durable_file(&vfs, b"x");
        let n = vfs.op_count();
        vfs.set_fault(Fault::PowerCutAt(n + 1));
        f.append(b"y").unwrap(); // op n, before the cut
        let e = f.sync_data().unwrap_err();
        assert!(e.to_string().contains("power cut"), "{e}");
        assert!(vfs.is_power_cut());
        // Every later op and read fails.
        assert!(vfs
            .create_new(p("/db/g"))
            .err()
            .unwrap()
            .to_string()
            .contains("power cut"));
        assert!(f.append(b"z").is_err());
        assert!(vfs.sync_dir(p("/db")).is_err());
        assert!(vfs.open(p("/db/f")).is_err());
        assert!(vfs.read_all(p("/db/f")).is_err());
        assert!(vfs.list_dir(p("/db")).is_err());
        assert!(vfs.exists(p("/db/f")).is_err());
        assert!(f.len().is_err());
        assert!(f.read_exact_at(&mut [0u8; 1], 0).is_err());
        assert!(vfs.try_lock(p("/db/LOCK")).is_err());
        // Clearing the fault does not bring the power back.
        vfs.set_fault(Fault::None);
        assert!(vfs.exists(p("/db/f")).is_err());
        // The image reflects the state at the cut and works normally.
        let img = vfs.crash_image_strict();
        assert_eq!(img.read_all(p("/db/f")).unwrap(), b"x");
        assert!(!img.exists(p("/db/g")).unwrap());
        for seed in 0..20 {
            let got = vfs.crash_image(seed).read_all(p("/db/f")).unwrap();
            assert!(got == b"x" || got == b"xy", "{got:?}");
        }
        img.create_new(p("/db/g")).unwrap();
        assert_eq!(img.op_count(), 1);
    }

    /// The commit protocol the engine uses: write a temp file, sync it, link it
    /// to its final name, sync the directory.
    fn commit_workload(vfs: &SimVfs) -> io::Result<()> {
        vfs.create_dir_all(p("/db"))?;
        vfs.sync_dir(p("/"))?;
        let f = vfs.create_new(p("/db/tmp"))?;
        f.append(b"payload")?;
        f.sync_data()?;
        vfs.link_exclusive(p("/db/tmp"), p("/db/commit"))?;
        vfs.sync_dir(p("/db"))?;
        vfs.remove_file(p("/db/tmp"))?;
        vfs.sync_dir(p("/db"))?;
        Ok(())
    }

    #[test]
    fn op_counting_and_replay_with_a_cut_at_every_op() {
        let vfs = SimVfs::new();
        commit_workload(&vfs).unwrap();
        let total = vfs.op_count();
        assert_eq!(total, 9);
        vfs.reset_op_count();
        assert_eq!(vfs.op_count(), 0);
        // Reads are not counted; failing ops are.
        vfs.read_all(p("/db/commit")).unwrap();
        vfs.list_dir(p("/db")).unwrap();
        assert_eq!(vfs.op_count(), 0);
        assert!(vfs.remove_file(p("/nope")).is_err());
        assert_eq!(vfs.op_count(), 1);

        // Ops: 0 create_dir_all, 1 sync_dir, 2 create_new, 3 append,
        // 4 sync_data, 5 link, 6 sync_dir, 7 remove, 8 sync_dir. A cut at k
        // means ops 0..k ran.
        let mut committed_seen = false;
        let mut at_six = BTreeSet::new();
        for cut in 0..=total {
            let vfs = SimVfs::new();
            vfs.set_fault(Fault::PowerCutAt(cut));
            let res = commit_workload(&vfs);
            assert_eq!(res.is_ok(), cut == total, "cut {cut}");
            for seed in 0..20 {
                let img = vfs.crash_image(seed);
                // The commit point is all-or-nothing, and never torn.
                let found = img.read_all(p("/db/commit"));
                if cut == 6 {
                    at_six.insert(found.is_ok());
                }
                match found {
                    Ok(data) => {
                        assert_eq!(data, b"payload", "cut {cut} seed {seed}");
                        assert!(cut >= 6, "commit visible before the link ran (cut {cut})");
                        committed_seen = true;
                    }
                    Err(e) => {
                        assert_eq!(e.kind(), io::ErrorKind::NotFound);
                        assert!(cut <= 6, "commit lost after its sync_dir ran (cut {cut})");
                    }
                }
            }
        }
        assert!(committed_seen);
        assert_eq!(
            at_six.len(),
            2,
            "an unsynced link must sometimes survive, sometimes not"
        );
    }

    #[test]
    fn locks_exclude_and_release_on_drop() {
        let vfs = with_db();
        let l1 = vfs.try_lock(p("/db/LOCK")).unwrap().expect("first lock");
        assert!(
            vfs.exists(p("/db/LOCK")).unwrap(),
            "try_lock creates the file"
        );
        assert!(vfs.try_lock(p("/db/LOCK")).unwrap().is_none());
        assert!(
            vfs.try_lock(p("/db/./LOCK")).unwrap().is_none(),
            "key is the normalized path"
        );
        let other = vfs.try_lock(p("/db/OTHER")).unwrap();
        assert!(other.is_some());
        // No lock survives a crash.
        vfs.sync_dir(p("/db")).unwrap();
        let img = vfs.crash_image_strict();
        assert!(img.try_lock(p("/db/LOCK")).unwrap().is_some());
        drop(l1);
        let l2 = vfs.try_lock(p("/db/LOCK")).unwrap();
        assert!(l2.is_some());
        assert_eq!(
            vfs.try_lock(p("/nodir/LOCK")).err().unwrap().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn error_kinds() {
        let vfs = with_db();
        durable_file(&vfs, b"x");
        let kind = |r: io::Result<()>| r.unwrap_err().kind();
        assert_eq!(
            kind(vfs.create_new(p("/db/f")).map(|_| ())),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(vfs.create_new(p("/db")).map(|_| ())),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(vfs.create_new(p("/nodir/f")).map(|_| ())),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            kind(vfs.open(p("/db/nope")).map(|_| ())),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            kind(vfs.open(p("/nodir/nope")).map(|_| ())),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            kind(vfs.read_all(p("/db/nope")).map(|_| ())),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            kind(vfs.list_dir(p("/nodir")).map(|_| ())),
            io::ErrorKind::NotFound
        );
        assert_eq!(kind(vfs.sync_dir(p("/nodir"))), io::ErrorKind::NotFound);
        vfs.create_new(p("/db/g")).unwrap();
        assert_eq!(
            kind(vfs.link_exclusive(p("/db/f"), p("/db/g"))),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(vfs.link_exclusive(p("/db/nope"), p("/db/h"))),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            kind(vfs.link_exclusive(p("/db/f"), p("/nodir/h"))),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            kind(vfs.create_dir_all(p("/db/f"))),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(vfs.create_dir_all(p("/db/f/sub"))),
            io::ErrorKind::NotADirectory
        );
        assert!(!vfs.exists(p("/db/f/sub")).unwrap());
        let f = vfs.open(p("/db/f")).unwrap();
        assert_eq!(
            kind(f.read_exact_at(&mut [0u8; 2], 0)),
            io::ErrorKind::UnexpectedEof
        );
        assert_eq!(
            kind(f.read_exact_at(&mut [0u8; 1], u64::MAX)),
            io::ErrorKind::UnexpectedEof
        );
        // Handles from `open` are read-only, like the OS version.
        assert!(f.append(b"y").is_err());
        assert_eq!(vfs.read_all(p("/db/f")).unwrap(), b"x");
    }

    #[test]
    fn reads_and_paths() {
        let vfs = with_db();
        let f = durable_file(&vfs, b"0123456789");
        let mut buf = [0u8; 4];
        f.read_exact_at(&mut buf, 3).unwrap();
        assert_eq!(&buf, b"3456");
        assert_eq!(f.len().unwrap(), 10);
        // Paths are normalized by components; relative paths hang off the root.
        assert_eq!(vfs.read_all(p("/db/./x/../f")).unwrap(), b"0123456789");
        assert_eq!(vfs.read_all(p("db/f")).unwrap(), b"0123456789");
        assert_eq!(vfs.read_all(p("//db//f")).unwrap(), b"0123456789");
        vfs.create_dir_all(p("/db/")).unwrap();
        assert!(vfs.exists(p("/")).unwrap());
    }

    #[test]
    fn file_names_under_lists_recursively() {
        let vfs = with_db();
        vfs.create_dir_all(p("/db/a/b")).unwrap();
        vfs.create_dir_all(p("/other")).unwrap();
        for f in ["/db/x", "/db/a/y", "/db/a/b/z", "/other/w"] {
            vfs.create_new(p(f)).unwrap();
        }
        let got = vfs.file_names_under(p("/db"));
        let want: Vec<PathBuf> = ["/db/a/b/z", "/db/a/y", "/db/x"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
        assert!(vfs.file_names_under(p("/nope")).is_empty());
    }

    #[test]
    fn corrupt_and_truncate_are_durable_damage() {
        let vfs = with_db();
        let f = durable_file(&vfs, b"abcdef");
        let ops = vfs.op_count();
        vfs.corrupt_byte(p("/db/f"), 1).unwrap();
        assert_eq!(
            vfs.read_all(p("/db/f")).unwrap(),
            [b'a', !b'b', b'c', b'd', b'e', b'f']
        );
        vfs.truncate(p("/db/f"), 4).unwrap();
        assert_eq!(vfs.op_count(), ops, "damage is not an op");
        let img = vfs.crash_image_strict();
        assert_eq!(img.read_all(p("/db/f")).unwrap(), [b'a', !b'b', b'c', b'd']);
        assert_eq!(
            vfs.corrupt_byte(p("/db/f"), 4).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            vfs.truncate(p("/db/f"), 5).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            vfs.truncate(p("/db/nope"), 0).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        // Truncating below the durable length clips unsynced bytes too.
        f.append(b"XY").unwrap();
        vfs.truncate(p("/db/f"), 2).unwrap();
        assert_eq!(
            vfs.crash_image(1).read_all(p("/db/f")).unwrap(),
            [b'a', !b'b']
        );
        f.append(b"Z").unwrap();
        assert_eq!(vfs.read_all(p("/db/f")).unwrap(), [b'a', !b'b', b'Z']);
    }

    #[test]
    fn gc_keeps_what_images_and_handles_can_reach() {
        let vfs = with_db();
        durable_file(&vfs, b"keep");
        // Removed, but the removal is not synced: must survive GC.
        vfs.remove_file(p("/db/f")).unwrap();
        // Unlinked but still open: readable after GC.
        let open = vfs.create_new(p("/db/open")).unwrap();
        open.append(b"still here").unwrap();
        vfs.remove_file(p("/db/open")).unwrap();
        for i in 0..3000 {
            let name = format!("/other{}", i % 2);
            let path = Path::new(&name);
            let g = vfs.create_new(path).unwrap();
            g.append(&[0u8; 64]).unwrap();
            drop(g);
            vfs.remove_file(path).unwrap();
            vfs.sync_dir(p("/")).unwrap();
        }
        let inodes = vfs.state.lock().inodes.len();
        assert!(inodes < 1100, "garbage not collected: {inodes} inodes");
        assert_eq!(
            vfs.crash_image_strict().read_all(p("/db/f")).unwrap(),
            b"keep"
        );
        let mut buf = [0u8; 10];
        open.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"still here");
        vfs.sync_dir(p("/db")).unwrap();
        vfs.state.lock().gc();
        assert!(!vfs.crash_image_strict().exists(p("/db/f")).unwrap());
        assert_eq!(open.len().unwrap(), 10);
    }

    #[test]
    fn clones_share_state_and_are_thread_safe() {
        let vfs = with_db();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let vfs = vfs.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let f = vfs
                            .create_new(&PathBuf::from(format!("/db/{t}-{i}")))
                            .unwrap();
                        f.append(b"x").unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(vfs.list_dir(p("/db")).unwrap().len(), 200);
    }
}
