//! What a script may reach outside the database: nothing, unless its manifest
//! asks for it and the runner allows it.
//!
//! A script's **manifest** is its leading comment lines that start with `--!`:
//!
//! ```lua
//! --! read /srv/incoming
//! --! write /srv/reports
//! ```
//!
//! `read DIR` lets the script read files and list folders under `DIR`
//! (`sop.read_file`, `sop.list_dir`); `write DIR` also lets it write files
//! there (`sop.write_file`). No other grant exists: a script never gets the
//! network or processes, and a manifest that asks for anything else is
//! refused when the script is saved.
//!
//! The runner decides: a worker or `sop script run` allows folders with
//! `--allow read=DIR` / `--allow write=DIR` ([`Grants`] in
//! `SwarmOptions::allow`), and a run whose manifest asks for more than that
//! fails before it starts, naming what is missing. So saving a script (a
//! database write) never gives anyone the host's files by itself.
//!
//! Paths are checked after resolving symbolic links (`..` and links cannot
//! leave a granted folder), and a file is written without following a link at
//! its own name. File reads and writes are not part of the transaction: a run
//! that is retried (a conflict, a crash, a failed attempt) does them again, so
//! write whole files under names the run chooses.

use crate::error::{Result, SwarmError};
use std::path::{Component, Path, PathBuf};

/// What a grant lets a script do under its folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Read files and list folders.
    Read,
    /// Read, list, and write files.
    Write,
}

impl Access {
    fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
    fn parse(word: &str) -> Option<Access> {
        match word {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            _ => None,
        }
    }
}

/// One folder and what may be done under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Read or write.
    pub access: Access,
    /// The folder (absolute).
    pub dir: PathBuf,
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} access to {}", self.access.name(), self.dir.display())
    }
}

impl Grant {
    fn new(access: &str, dir: &str, what: &str) -> Result<Grant> {
        let Some(access) = Access::parse(access) else {
            return Err(SwarmError::Invalid(format!(
                "{what}: no grant {access:?} exists (only read and write of a folder; \
                 scripts never get the network or processes)"
            )));
        };
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() {
            return Err(SwarmError::Invalid(format!(
                "{what}: the folder {} must be an absolute path",
                dir.display()
            )));
        }
        Ok(Grant { access, dir })
    }

    /// A grant as the CLI's `--allow` gives it: `read=DIR` or `write=DIR`.
    pub fn parse(text: &str) -> Result<Grant> {
        let (access, dir) = text.split_once('=').ok_or_else(|| {
            SwarmError::Invalid(format!("--allow {text:?}: give read=DIR or write=DIR"))
        })?;
        Grant::new(access, dir, &format!("--allow {text:?}"))
    }

    /// Does this grant let `access` happen at the resolved path `path`?
    fn covers(&self, access: Access, path: &Path) -> bool {
        self.access >= access && path.starts_with(&self.dir)
    }
}

/// The grants a script's manifest asks for (its leading `--!` lines).
pub fn manifest(name: &str, source: &str) -> Result<Vec<Grant>> {
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("--!") else {
            if line.is_empty() || line.starts_with("--") {
                continue;
            }
            break;
        };
        let what = format!("script {name:?}, line {}", i + 1);
        let mut words = rest.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(access), Some(dir), None) => out.push(Grant::new(access, dir, &what)?),
            _ => {
                return Err(SwarmError::Invalid(format!(
                    "{what}: a manifest line is `--! read DIR` or `--! write DIR`"
                )))
            }
        }
    }
    Ok(out)
}

/// What a runner allows scripts (`--allow`); none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(pub Vec<Grant>);

impl Grants {
    /// The grants of `script`'s manifest that this runner allows, with their
    /// folders resolved; an error naming the first one it does not allow.
    pub fn admit(&self, script: &str, wanted: &[Grant]) -> Result<Vec<Grant>> {
        let allowed: Vec<Grant> = self
            .0
            .iter()
            .filter_map(|g| {
                Some(Grant {
                    access: g.access,
                    dir: g.dir.canonicalize().ok()?,
                })
            })
            .collect();
        wanted
            .iter()
            .map(|w| {
                let dir = w.dir.canonicalize().map_err(|e| {
                    SwarmError::NotAllowed(format!(
                        "script {script:?} asks for {w}, which cannot be used: {e}"
                    ))
                })?;
                if !allowed.iter().any(|a| a.covers(w.access, &dir)) {
                    return Err(SwarmError::NotAllowed(format!(
                        "script {script:?} asks for {w}, which this runner does not allow \
                         (give it --allow {}={})",
                        w.access.name(),
                        w.dir.display()
                    )));
                }
                Ok(Grant {
                    access: w.access,
                    dir,
                })
            })
            .collect()
    }
}

/// The files a run may reach: its admitted grants.
#[derive(Debug, Clone, Default)]
pub struct Reach(pub Vec<Grant>);

impl Reach {
    fn denied(path: &Path, access: Access) -> SwarmError {
        SwarmError::NotAllowed(format!(
            "{} is outside every folder this script may {}",
            path.display(),
            access.name()
        ))
    }

    fn absolute(path: &str) -> Result<&Path> {
        let p = Path::new(path);
        if !p.is_absolute() {
            return Err(SwarmError::Invalid(format!(
                "{path:?}: give an absolute path"
            )));
        }
        Ok(p)
    }

    /// `path` resolved, if some grant lets `access` happen there.
    fn resolve(&self, path: &str, access: Access) -> Result<PathBuf> {
        let p = Self::absolute(path)?;
        let real = p
            .canonicalize()
            .map_err(|e| SwarmError::Script(format!("{path}: {e}")))?;
        if self.0.iter().any(|g| g.covers(access, &real)) {
            Ok(real)
        } else {
            Err(Self::denied(p, access))
        }
    }

    /// The bytes of file `path`.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        let real = self.resolve(path, Access::Read)?;
        std::fs::read(&real).map_err(|e| SwarmError::Script(format!("{path}: {e}")))
    }

    /// The names in folder `path`, sorted.
    pub fn list_dir(&self, path: &str) -> Result<Vec<String>> {
        let real = self.resolve(path, Access::Read)?;
        let mut names = Vec::new();
        for e in std::fs::read_dir(&real).map_err(|e| SwarmError::Script(format!("{path}: {e}")))? {
            let e = e.map_err(|e| SwarmError::Script(format!("{path}: {e}")))?;
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// Write `data` as file `path` (created or replaced; never through a
    /// symbolic link at that name).
    pub fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let p = Self::absolute(path)?;
        let (Some(parent), Some(Component::Normal(name))) =
            (p.parent(), p.components().next_back())
        else {
            return Err(SwarmError::Invalid(format!("{path:?}: not a file name")));
        };
        let dir = self.resolve(&parent.to_string_lossy(), Access::Write)?;
        let target = dir.join(name);
        if !self.0.iter().any(|g| g.covers(Access::Write, &target)) {
            return Err(Self::denied(p, Access::Write));
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&target)
            .map_err(|e| SwarmError::Script(format!("{path}: {e}")))?;
        std::io::Write::write_all(&mut f, data)
            .map_err(|e| SwarmError::Script(format!("{path}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_is_the_leading_bang_comments() {
        let src =
            "-- a report\n--! read /srv/in\n--!   write  /srv/out\n\nlocal x = 1\n--! read /late\n";
        let g = manifest("r", src).unwrap();
        assert_eq!(
            g,
            vec![
                Grant {
                    access: Access::Read,
                    dir: "/srv/in".into()
                },
                Grant {
                    access: Access::Write,
                    dir: "/srv/out".into()
                },
            ]
        );
        for bad in [
            "--! net example.com",
            "--! exec /bin/sh",
            "--! read",
            "--! read rel/dir",
            "--! read /a /b",
        ] {
            assert!(manifest("r", bad).is_err(), "{bad}");
        }
        assert!(manifest("r", "return 1").unwrap().is_empty());
    }

    #[test]
    fn allow_takes_read_or_write_of_an_absolute_folder() {
        assert_eq!(Grant::parse("write=/x").unwrap().access, Access::Write);
        for bad in ["read", "read=", "read=x", "net=/x", "=/x"] {
            assert!(Grant::parse(bad).is_err(), "{bad}");
        }
    }
}
