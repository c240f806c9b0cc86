//! Names: creating, linking, renaming and removing entries (current state only;
//! a directory's durable entries change at its fsync).

use super::{Attr, Ino, Kind, Model, Node, Res, CONTROL_NAME, ROOT};
use std::ffi::OsStr;
use std::time::SystemTime;

impl Model {
    fn check_name(parent: Ino, name: &OsStr) -> Res<()> {
        if parent == ROOT && name == CONTROL_NAME {
            return Err(libc::EPERM);
        }
        if name.len() > 255 {
            return Err(libc::ENAMETOOLONG);
        }
        Ok(())
    }

    fn add_node(&mut self, parent: Ino, name: &OsStr, node: Node) -> Res<Ino> {
        Self::check_name(parent, name)?;
        if self.dir(parent)?.entries.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let mut node = node;
        node.nlink = 1;
        self.nodes.insert(ino, node);
        let p = self.node_mut(parent)?;
        p.entries.insert(name.to_owned(), ino);
        p.mtime = SystemTime::now();
        Ok(ino)
    }

    pub fn mkdir(&mut self, parent: Ino, name: &OsStr, mode: u32, uid: u32, gid: u32) -> Res<Attr> {
        self.on()?;
        let ino = self.add_node(
            parent,
            name,
            Node::new(Kind::Dir, (mode & 0o7777) as u16, uid, gid),
        )?;
        self.attr_of(ino)
    }

    /// Create and open a file (`O_CREAT`); with `O_EXCL` an existing name is `EEXIST`.
    pub fn create(
        &mut self,
        parent: Ino,
        name: &OsStr,
        mode: u32,
        flags: i32,
        uid: u32,
        gid: u32,
    ) -> Res<(Attr, u64)> {
        self.on()?;
        Self::check_name(parent, name)?;
        let ino = match self.dir(parent)?.entries.get(name) {
            Some(_) if flags & libc::O_EXCL != 0 => return Err(libc::EEXIST),
            Some(&ino) => {
                let n = self.node_mut(ino)?;
                if n.kind == Kind::Dir {
                    return Err(libc::EISDIR);
                }
                if flags & libc::O_TRUNC != 0 {
                    n.data.clear();
                }
                ino
            }
            None => self.add_node(
                parent,
                name,
                Node::new(Kind::File, (mode & 0o7777) as u16, uid, gid),
            )?,
        };
        let fh = self.new_handle(ino, Vec::new());
        Ok((self.attr_of(ino)?, fh))
    }

    fn remove_entry(&mut self, parent: Ino, name: &OsStr) -> Res<Ino> {
        let p = self.node_mut(parent)?;
        let ino = p.entries.remove(name).ok_or(libc::ENOENT)?;
        p.mtime = SystemTime::now();
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.nlink -= 1;
            n.ctime = SystemTime::now();
        }
        Ok(ino)
    }

    pub fn unlink(&mut self, parent: Ino, name: &OsStr) -> Res<()> {
        self.on()?;
        Self::check_name(parent, name)?;
        let ino = *self.dir(parent)?.entries.get(name).ok_or(libc::ENOENT)?;
        if self.node(ino)?.kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        self.remove_entry(parent, name)?;
        self.maybe_free(ino);
        Ok(())
    }

    pub fn rmdir(&mut self, parent: Ino, name: &OsStr) -> Res<()> {
        self.on()?;
        Self::check_name(parent, name)?;
        let ino = *self.dir(parent)?.entries.get(name).ok_or(libc::ENOENT)?;
        let n = self.dir(ino)?;
        if !n.entries.is_empty() {
            return Err(libc::ENOTEMPTY);
        }
        self.remove_entry(parent, name)?;
        self.maybe_free(ino);
        Ok(())
    }

    /// Is `ino` the directory `anc` or below it?
    fn is_within(&self, ino: Ino, anc: Ino) -> bool {
        if ino == anc {
            return true;
        }
        let Some(a) = self.nodes.get(&anc) else {
            return false;
        };
        a.entries.values().any(|&c| {
            self.nodes.get(&c).is_some_and(|n| n.kind == Kind::Dir) && self.is_within(ino, c)
        })
    }

    pub fn rename(
        &mut self,
        parent: Ino,
        name: &OsStr,
        newparent: Ino,
        newname: &OsStr,
        noreplace: bool,
    ) -> Res<()> {
        self.on()?;
        Self::check_name(parent, name)?;
        Self::check_name(newparent, newname)?;
        let ino = *self.dir(parent)?.entries.get(name).ok_or(libc::ENOENT)?;
        let target = self.dir(newparent)?.entries.get(newname).copied();
        if target == Some(ino) {
            return Ok(());
        }
        let kind = self.node(ino)?.kind;
        if kind == Kind::Dir && self.is_within(newparent, ino) {
            return Err(libc::EINVAL);
        }
        if let Some(t) = target {
            if noreplace {
                return Err(libc::EEXIST);
            }
            let tn = self.node(t)?;
            match (kind, tn.kind) {
                (Kind::File, Kind::Dir) => return Err(libc::EISDIR),
                (Kind::Dir, Kind::File) => return Err(libc::ENOTDIR),
                (Kind::Dir, Kind::Dir) if !tn.entries.is_empty() => return Err(libc::ENOTEMPTY),
                _ => {}
            }
            self.remove_entry(newparent, newname)?;
        }
        self.remove_entry(parent, name)?;
        let p = self.node_mut(newparent)?;
        p.entries.insert(newname.to_owned(), ino);
        p.mtime = SystemTime::now();
        self.node_mut(ino)?.nlink += 1;
        if let Some(t) = target {
            self.maybe_free(t);
        }
        Ok(())
    }

    /// A second name for a file.
    pub fn link(&mut self, ino: Ino, newparent: Ino, newname: &OsStr) -> Res<Attr> {
        self.on()?;
        Self::check_name(newparent, newname)?;
        if self.node(ino)?.kind == Kind::Dir {
            return Err(libc::EPERM);
        }
        if self.dir(newparent)?.entries.contains_key(newname) {
            return Err(libc::EEXIST);
        }
        let p = self.node_mut(newparent)?;
        p.entries.insert(newname.to_owned(), ino);
        p.mtime = SystemTime::now();
        let n = self.node_mut(ino)?;
        n.nlink += 1;
        n.ctime = SystemTime::now();
        self.attr_of(ino)
    }
}
