//! A power cut and the boot after it, and the control file that triggers them.

use super::{Ino, Kind, Model, Node, Res, ROOT};
use std::collections::HashMap;
use std::ffi::OsString;

impl Model {
    /// The power goes off: from now on every request fails with `EIO` (the
    /// control file excepted) until [`Model::power_on`].
    pub fn power_off(&mut self) {
        self.off = true;
    }

    /// The machine boots again: the file system becomes what was durable, under
    /// new inode numbers; every handle opened before fails with `EIO`. With
    /// `keep_appends`, each file keeps, with probability 1/2, a random prefix of
    /// the bytes beyond its durable length (a partial write-back).
    pub fn power_on(&mut self, keep_appends: bool) {
        let mut old = std::mem::take(&mut self.nodes);
        let mut map: HashMap<Ino, Ino> = HashMap::new();
        map.insert(ROOT, ROOT);
        let old_root = old.get(&ROOT).expect("root");
        let mut root = Node::new(Kind::Dir, old_root.perm, old_root.uid, old_root.gid);
        root.nlink = 1;
        root.durable_refs = 1;
        self.nodes.insert(ROOT, root);
        let mut dirs = vec![ROOT];
        while let Some(d) = dirs.pop() {
            let new_d = map[&d];
            let entries: Vec<(OsString, Ino)> = old[&d]
                .durable_entries
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            for (name, child) in entries {
                let Some(c) = old.get_mut(&child) else {
                    continue;
                };
                let new_c = match map.get(&child) {
                    Some(&n) => n,
                    None => {
                        let n = self.next_ino;
                        self.next_ino += 1;
                        map.insert(child, n);
                        let mut node = Node::new(c.kind, c.perm, c.uid, c.gid);
                        node.mtime = c.mtime;
                        node.ctime = c.ctime;
                        if c.kind == Kind::File {
                            let mut data = std::mem::take(&mut c.durable);
                            if keep_appends && c.data.len() > data.len() && self.rng.bool() {
                                let extra = self.rng.usize(0..=c.data.len() - data.len());
                                data.extend_from_slice(&c.data[data.len()..data.len() + extra]);
                            }
                            node.durable = data.clone();
                            node.data = data;
                        } else {
                            dirs.push(child);
                        }
                        self.nodes.insert(n, node);
                        n
                    }
                };
                let nd = self.nodes.get_mut(&new_d).expect("mapped");
                nd.entries.insert(name.clone(), new_c);
                nd.durable_entries.insert(name, new_c);
                let nc = self.nodes.get_mut(&new_c).expect("mapped");
                nc.nlink += 1;
                nc.durable_refs += 1;
            }
        }
        self.stats.cuts += 1;
        self.off = false;
    }

    /// A power cut and the next boot at once.
    pub fn cut(&mut self, keep_appends: bool) {
        self.power_off();
        self.power_on(keep_appends);
    }

    pub(super) fn control(&mut self, cmd: &[u8]) -> Res<()> {
        let cmd = String::from_utf8_lossy(cmd);
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let keep = words.get(1) == Some(&"keep");
        match words.first().copied() {
            Some("cut") => self.cut(keep),
            Some("off") => self.power_off(),
            Some("on") if self.off => self.power_on(keep),
            Some("on") => {}
            None => {}
            Some(_) => return Err(libc::EINVAL),
        }
        tracing::info!(command = %cmd.trim(), cuts = self.stats.cuts, "cutfs control");
        Ok(())
    }

    pub(super) fn control_status(&self) -> String {
        format!(
            "incarnation {}\noff {}\nfsyncs {}\ndir_fsyncs {}\nrefused {}\n",
            self.stats.cuts, self.off, self.stats.fsyncs, self.stats.dir_fsyncs, self.stats.refused
        )
    }
}
