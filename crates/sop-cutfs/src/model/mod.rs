//! The file system's state, kept in memory: what every file and directory holds
//! now, and what a power cut would leave of it.
//!
//! Durability follows POSIX at its strictest, as the engine must assume:
//! - `fsync`/`fdatasync` of a file makes its data durable, not its name;
//! - `fsync` of a directory makes that directory's entries durable (creations,
//!   links, renames and removals in it), and nothing else;
//! - flush, release (close) and `syncfs` persist nothing.
//!
//! A cut ([`Model::power_off`] then [`Model::power_on`]) keeps only what is reachable
//! from the root through durable entries, with each file's durable data (and,
//! when asked, a random prefix of the bytes appended since, as a kernel may have
//! written some of them back). Every handle opened before the cut fails with
//! `EIO` from then on, and every inode gets a new number, so the kernel's cached
//! inodes (and the `flock` locks held on them) belong to the dead incarnation.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

mod cut;
mod namespace;

/// Inode numbers, as the kernel sees them.
pub type Ino = u64;
/// The root directory; the only inode that keeps its number across cuts.
pub const ROOT: Ino = 1;
/// The control file `/.cutfs` (see [`CONTROL_NAME`]).
pub const CONTROL: Ino = 2;
const FIRST_INO: Ino = 3;
/// Name of the control file in the root. Writing `cut` to it cuts the power and
/// brings up the next incarnation (`cut keep` keeps random prefixes of unsynced
/// appends); `off` and `on` do the two halves. Reading it tells the state.
/// Hidden from directory listings.
pub const CONTROL_NAME: &str = ".cutfs";

/// An error number (`libc::E*`).
pub type Errno = i32;
pub type Res<T> = Result<T, Errno>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

/// What `getattr` reports.
#[derive(Clone, Debug)]
pub struct Attr {
    pub ino: Ino,
    pub kind: Kind,
    pub size: u64,
    pub nlink: u32,
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
}

/// Counters, for tests and the control file.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Power cuts so far (the current incarnation's number).
    pub cuts: u64,
    pub fsyncs: u64,
    pub dir_fsyncs: u64,
    /// Requests refused because the power was off or the handle was older than
    /// the last cut.
    pub refused: u64,
}

struct Node {
    kind: Kind,
    perm: u16,
    uid: u32,
    gid: u32,
    mtime: SystemTime,
    ctime: SystemTime,
    /// Files: the bytes now, and the bytes a cut leaves.
    data: Vec<u8>,
    durable: Vec<u8>,
    /// Directories: the entries now, and the entries a cut leaves.
    entries: BTreeMap<OsString, Ino>,
    durable_entries: BTreeMap<OsString, Ino>,
    /// Names in current entries.
    nlink: u32,
    /// Names in durable entries (of any directory): the node must outlive them.
    durable_refs: u32,
    /// Open handles of this incarnation.
    open: u32,
}

impl Node {
    fn new(kind: Kind, perm: u16, uid: u32, gid: u32) -> Node {
        let now = SystemTime::now();
        Node {
            kind,
            perm,
            uid,
            gid,
            mtime: now,
            ctime: now,
            data: Vec::new(),
            durable: Vec::new(),
            entries: BTreeMap::new(),
            durable_entries: BTreeMap::new(),
            nlink: 0,
            durable_refs: 0,
            open: 0,
        }
    }
}

struct Handle {
    ino: Ino,
    incarnation: u64,
    /// Directories: the listing taken at opendir, so reads of it are consistent.
    listing: Vec<(Ino, Kind, OsString)>,
}

/// The whole file system.
pub struct Model {
    nodes: HashMap<Ino, Node>,
    handles: HashMap<u64, Handle>,
    next_ino: Ino,
    next_fh: u64,
    off: bool,
    rng: fastrand::Rng,
    stats: Stats,
}

impl Model {
    /// An empty file system: a root directory, durable.
    pub fn new(seed: u64) -> Model {
        let mut nodes = HashMap::new();
        let mut root = Node::new(Kind::Dir, 0o755, 0, 0);
        root.nlink = 1;
        root.durable_refs = 1;
        nodes.insert(ROOT, root);
        Model {
            nodes,
            handles: HashMap::new(),
            next_ino: FIRST_INO,
            next_fh: 1,
            off: false,
            rng: fastrand::Rng::with_seed(seed),
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    pub fn is_off(&self) -> bool {
        self.off
    }

    fn on(&mut self) -> Res<()> {
        if self.off {
            self.stats.refused += 1;
            return Err(libc::EIO);
        }
        Ok(())
    }

    fn node(&self, ino: Ino) -> Res<&Node> {
        self.nodes.get(&ino).ok_or(libc::ESTALE)
    }

    fn node_mut(&mut self, ino: Ino) -> Res<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(libc::ESTALE)
    }

    fn dir(&self, ino: Ino) -> Res<&Node> {
        let n = self.node(ino)?;
        if n.kind != Kind::Dir {
            return Err(libc::ENOTDIR);
        }
        Ok(n)
    }

    /// The inode a handle of this incarnation refers to.
    fn handle(&mut self, fh: u64) -> Res<Ino> {
        self.on()?;
        match self.handles.get(&fh) {
            Some(h) if h.incarnation == self.stats.cuts => Ok(h.ino),
            Some(_) => {
                self.stats.refused += 1;
                Err(libc::EIO)
            }
            None => Err(libc::EBADF),
        }
    }

    fn control_attr() -> Attr {
        Attr {
            ino: CONTROL,
            kind: Kind::File,
            size: 0,
            nlink: 1,
            perm: 0o666,
            uid: 0,
            gid: 0,
            mtime: SystemTime::UNIX_EPOCH,
            ctime: SystemTime::UNIX_EPOCH,
        }
    }

    fn attr_of(&self, ino: Ino) -> Res<Attr> {
        if ino == CONTROL {
            return Ok(Self::control_attr());
        }
        let n = self.node(ino)?;
        Ok(Attr {
            ino,
            kind: n.kind,
            size: match n.kind {
                Kind::File => n.data.len() as u64,
                Kind::Dir => n.entries.len() as u64,
            },
            nlink: match n.kind {
                Kind::File => n.nlink,
                Kind::Dir => 2,
            },
            perm: n.perm,
            uid: n.uid,
            gid: n.gid,
            mtime: n.mtime,
            ctime: n.ctime,
        })
    }

    pub fn lookup(&mut self, parent: Ino, name: &OsStr) -> Res<Attr> {
        if parent == ROOT && name == CONTROL_NAME {
            return Ok(Self::control_attr());
        }
        self.on()?;
        let ino = *self.dir(parent)?.entries.get(name).ok_or(libc::ENOENT)?;
        self.attr_of(ino)
    }

    pub fn getattr(&mut self, ino: Ino, fh: Option<u64>) -> Res<Attr> {
        if ino == CONTROL {
            return Ok(Self::control_attr());
        }
        match fh {
            Some(fh) => {
                self.handle(fh)?;
            }
            None => self.on()?,
        }
        self.attr_of(ino)
    }

    /// chmod, chown and truncate.
    pub fn setattr(
        &mut self,
        ino: Ino,
        fh: Option<u64>,
        size: Option<u64>,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Res<Attr> {
        if ino == CONTROL {
            return Ok(Self::control_attr());
        }
        match fh {
            Some(fh) => {
                self.handle(fh)?;
            }
            None => self.on()?,
        }
        let n = self.node_mut(ino)?;
        if let Some(size) = size {
            if n.kind == Kind::Dir {
                return Err(libc::EISDIR);
            }
            n.data.resize(size as usize, 0);
            n.mtime = SystemTime::now();
        }
        if let Some(mode) = mode {
            n.perm = (mode & 0o7777) as u16;
        }
        if let Some(uid) = uid {
            n.uid = uid;
        }
        if let Some(gid) = gid {
            n.gid = gid;
        }
        n.ctime = SystemTime::now();
        self.attr_of(ino)
    }

    fn new_handle(&mut self, ino: Ino, listing: Vec<(Ino, Kind, OsString)>) -> u64 {
        let fh = self.next_fh;
        self.next_fh += 1;
        self.handles.insert(
            fh,
            Handle {
                ino,
                incarnation: self.stats.cuts,
                listing,
            },
        );
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.open += 1;
        }
        fh
    }

    pub fn open(&mut self, ino: Ino) -> Res<u64> {
        if ino == CONTROL {
            return Ok(self.new_handle(CONTROL, Vec::new()));
        }
        self.on()?;
        if self.node(ino)?.kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        Ok(self.new_handle(ino, Vec::new()))
    }

    pub fn opendir(&mut self, ino: Ino) -> Res<u64> {
        self.on()?;
        let n = self.dir(ino)?;
        let mut listing = vec![
            (ino, Kind::Dir, OsString::from(".")),
            (ino, Kind::Dir, OsString::from("..")),
        ];
        for (name, &child) in &n.entries {
            let kind = self.nodes.get(&child).map_or(Kind::File, |c| c.kind);
            listing.push((child, kind, name.clone()));
        }
        Ok(self.new_handle(ino, listing))
    }

    /// The listing taken at opendir, from entry `offset` on.
    pub fn readdir(&mut self, fh: u64, offset: usize) -> Res<Vec<(Ino, Kind, OsString)>> {
        self.handle(fh)?;
        let h = &self.handles[&fh];
        Ok(h.listing.iter().skip(offset).cloned().collect())
    }

    pub fn release(&mut self, fh: u64) {
        let Some(h) = self.handles.remove(&fh) else {
            return;
        };
        if h.incarnation == self.stats.cuts && h.ino != CONTROL {
            if let Some(n) = self.nodes.get_mut(&h.ino) {
                n.open -= 1;
            }
            self.maybe_free(h.ino);
        }
    }

    pub fn read(&mut self, fh: u64, off: u64, size: u32) -> Res<Vec<u8>> {
        if self.handles.get(&fh).is_some_and(|h| h.ino == CONTROL) {
            let s = self.control_status();
            let b = s.as_bytes();
            let from = (off as usize).min(b.len());
            let to = (from + size as usize).min(b.len());
            return Ok(b[from..to].to_vec());
        }
        let ino = self.handle(fh)?;
        let n = self.node(ino)?;
        let from = (off as usize).min(n.data.len());
        let to = (from + size as usize).min(n.data.len());
        Ok(n.data[from..to].to_vec())
    }

    pub fn write(&mut self, fh: u64, off: u64, data: &[u8]) -> Res<u32> {
        if self.handles.get(&fh).is_some_and(|h| h.ino == CONTROL) {
            self.control(data)?;
            return Ok(data.len() as u32);
        }
        let ino = self.handle(fh)?;
        let n = self.node_mut(ino)?;
        let end = off as usize + data.len();
        if n.data.len() < end {
            n.data.resize(end, 0);
        }
        n.data[off as usize..end].copy_from_slice(data);
        n.mtime = SystemTime::now();
        Ok(data.len() as u32)
    }

    /// `fsync`/`fdatasync` of a file: its data becomes durable (not its names).
    pub fn fsync(&mut self, fh: u64) -> Res<()> {
        if self.handles.get(&fh).is_some_and(|h| h.ino == CONTROL) {
            return Ok(());
        }
        let ino = self.handle(fh)?;
        let n = self.node_mut(ino)?;
        if n.kind == Kind::File {
            n.durable.clone_from(&n.data);
        }
        self.stats.fsyncs += 1;
        Ok(())
    }

    /// `fsync` of a directory: its entries become durable.
    pub fn fsyncdir(&mut self, fh: u64) -> Res<()> {
        let ino = self.handle(fh)?;
        let n = self.node_mut(ino)?;
        let old = std::mem::replace(&mut n.durable_entries, n.entries.clone());
        let new: Vec<Ino> = n.durable_entries.values().copied().collect();
        for child in new {
            if let Some(c) = self.nodes.get_mut(&child) {
                c.durable_refs += 1;
            }
        }
        for child in old.into_values() {
            if let Some(c) = self.nodes.get_mut(&child) {
                c.durable_refs -= 1;
            }
            self.maybe_free(child);
        }
        self.stats.dir_fsyncs += 1;
        Ok(())
    }

    /// Drop a node nothing refers to any more (no name now, no durable name, no
    /// open handle), and what only its durable entries kept.
    fn maybe_free(&mut self, ino: Ino) {
        let mut todo = vec![ino];
        while let Some(ino) = todo.pop() {
            if ino == ROOT {
                continue;
            }
            let Some(n) = self.nodes.get(&ino) else {
                continue;
            };
            if n.nlink > 0 || n.durable_refs > 0 || n.open > 0 {
                continue;
            }
            let n = self.nodes.remove(&ino).expect("present");
            for child in n.durable_entries.into_values() {
                if let Some(c) = self.nodes.get_mut(&child) {
                    c.durable_refs -= 1;
                }
                todo.push(child);
            }
        }
    }

    /// Bytes held now (current and durable), for statfs.
    pub fn used_bytes(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| (n.data.len() + n.durable.len()) as u64)
            .sum()
    }

    pub fn node_count(&self) -> u64 {
        self.nodes.len() as u64
    }
}

#[cfg(test)]
mod tests;
