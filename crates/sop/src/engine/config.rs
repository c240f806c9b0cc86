//! The folder's configuration (`sop.json`) and durable folder creation.

use super::*;
use serde::{Deserialize, Serialize};

/// Version of the on-disk format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
pub const CONFIG_FILE: &str = Layout::CONFIG_FILE;

/// What the folder saves about the database (`sop.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DbConfig {
    /// Always `"sop"`.
    pub format: String,
    /// The on-disk format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// The database's identity (namespaces its keys in Redis).
    #[serde(default)]
    pub id: String,
    /// How processes sharing the folder coordinate.
    pub coordination: Coordination,
    /// Where the registry and the commit point live (absent: the folder).
    #[serde(default, skip_serializing_if = "Registry::is_folder")]
    pub registry: Registry,
}

pub(crate) fn load_or_create_config(
    vfs: &dyn Vfs,
    path: &Path,
    opts: &DbOptions,
) -> Result<DbConfig> {
    let cfg_path = path.join(CONFIG_FILE);
    if !vfs.exists(&cfg_path).map_err(io_err(&cfg_path))? {
        if !opts.create {
            return Err(Error::NotFound(path.to_path_buf()));
        }
        create_dir_durable(vfs, path)?;
        let cfg = DbConfig {
            format: "sop".into(),
            version: FORMAT_VERSION,
            id: format!("{:032x}", uuid::Uuid::new_v4().as_u128()),
            coordination: opts.coordination.clone().unwrap_or_default(),
            registry: opts.registry.clone().unwrap_or_default(),
        };
        write_config(vfs, path, &cfg, false)?;
    }
    let bytes = vfs.read_all(&cfg_path).map_err(io_err(&cfg_path))?;
    let corrupt = |e: String| Error::corrupt(&cfg_path, e);
    // Every member is known: a damaged name (of the checksum, say) is not
    // silently ignored.
    let members: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if let Some(k) = members.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(corrupt(format!("unknown member {k:?}")));
    }
    let checksum = members.get(CHECKSUM).cloned();
    let cfg: DbConfig = serde_json::from_value(serde_json::Value::Object(members))
        .map_err(|e| corrupt(e.to_string()))?;
    if cfg.format != "sop" {
        return Err(Error::corrupt(
            &cfg_path,
            format!("not a SOP database (format {:?})", cfg.format),
        ));
    }
    if cfg.version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            path: cfg_path,
            found: cfg.version,
            supported: FORMAT_VERSION,
        });
    }
    match checksum {
        // Written before the checksum existed: read as it is.
        None => {}
        Some(serde_json::Value::String(want)) => {
            let have = format!("{:016x}", config_checksum(&bytes).unwrap_or_default());
            if want != have {
                return Err(corrupt(format!(
                    "checksum {want} does not match the content ({have}): the file is damaged"
                )));
            }
        }
        Some(v) => return Err(corrupt(format!("checksum {v} is not a string"))),
    }
    Ok(cfg)
}

/// The members `sop.json` may have.
const MEMBERS: [&str; 6] = [
    "format",
    "version",
    "id",
    "coordination",
    "registry",
    CHECKSUM,
];
const CHECKSUM: &str = "checksum";

/// The checksum of a `sop.json`: xxh3-64 of its bytes before the last
/// `"checksum"` (the key of its last member; docs/FORMAT.md). `None` if absent.
fn config_checksum(bytes: &[u8]) -> Option<u64> {
    let key = b"\"checksum\"";
    let at = bytes.windows(key.len()).rposition(|w| w == key)?;
    Some(xxhash_rust::xxh3::xxh3_64(&bytes[..at]))
}

/// `cfg` as `sop.json`: pretty JSON whose last member is the checksum of every
/// byte before its key.
fn encode_config(cfg: &DbConfig) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(cfg).expect("config serializes");
    // Reopen the object: drop the closing brace and the line break before it.
    assert_eq!(b.pop(), Some(b'}'), "an object ends with a brace");
    while b.last().is_some_and(u8::is_ascii_whitespace) {
        b.pop();
    }
    b.extend_from_slice(b",\n  ");
    let sum = xxhash_rust::xxh3::xxh3_64(&b);
    b.extend_from_slice(format!("\"{CHECKSUM}\": \"{sum:016x}\"\n}}\n").as_bytes());
    b
}

/// Create `path` and any missing ancestors, syncing the parent of each one
/// created so the new folders survive a power cut.
pub(crate) fn create_dir_durable(vfs: &dyn Vfs, path: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut p = Some(path);
    while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
        if vfs.exists(d).map_err(io_err(d))? {
            break;
        }
        missing.push(d.to_path_buf());
        p = d.parent();
    }
    vfs.create_dir_all(path).map_err(io_err(path))?;
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            vfs.sync_dir(parent).map_err(io_err(parent))?;
        }
    }
    Ok(())
}

/// Write `sop.json` atomically; `replace` allows overwriting an existing one.
///
/// Through a temporary file `sop.json.<uuid>.tmp`, written while holding
/// `open.lock`: a temp seen by someone else holding that lock is abandoned (its
/// writer crashed), and `remove_config_temps` may remove it.
pub(crate) fn write_config(
    vfs: &dyn Vfs,
    path: &Path,
    cfg: &DbConfig,
    replace: bool,
) -> Result<()> {
    let cfg_path = path.join(CONFIG_FILE);
    let open_lock = ownership::take_open_lock(vfs, &Layout::new(path))?;
    let tmp = path.join(format!(
        "{CONFIG_FILE}.{:032x}{TEMP_SUFFIX}",
        uuid::Uuid::new_v4().as_u128()
    ));
    let f = vfs.create_new(&tmp).map_err(io_err(&tmp))?;
    f.append(&encode_config(cfg)).map_err(io_err(&tmp))?;
    f.sync_data().map_err(io_err(&tmp))?;
    drop(f);
    let res = if replace {
        vfs.rename(&tmp, &cfg_path)
    } else {
        let r = vfs.link_exclusive(&tmp, &cfg_path);
        let _ = vfs.remove_file(&tmp);
        match r {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()), // a racing creator won
            r => r,
        }
    };
    drop(open_lock);
    res.map_err(io_err(&cfg_path))?;
    vfs.sync_dir(path).map_err(io_err(path))
}

const TEMP_SUFFIX: &str = ".tmp";

/// The temporary configuration files in `path`: abandoned by a crash, or being
/// written by a writer that holds `open.lock`.
pub(crate) fn config_temps(vfs: &dyn Vfs, path: &Path) -> Result<Vec<PathBuf>> {
    let prefix = format!("{CONFIG_FILE}.");
    Ok(vfs
        .list_dir(path)
        .map_err(io_err(path))?
        .into_iter()
        .filter(|n| n.starts_with(&prefix) && n.ends_with(TEMP_SUFFIX))
        .map(|n| path.join(n))
        .collect())
}

/// Remove the temporary configuration files a crash left; the caller holds
/// `open.lock`, so no writer is at work on any (`write_config`). How many.
pub(crate) fn remove_config_temps(vfs: &dyn Vfs, path: &Path) -> Result<usize> {
    let mut n = 0;
    for tmp in config_temps(vfs, path)? {
        match vfs.remove_file(&tmp) {
            Ok(()) => n += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&tmp, e)),
        }
    }
    Ok(n)
}

impl DbInner {
    /// `remove_config_temps` if `open.lock` is ours or free (else next time).
    pub(crate) fn remove_abandoned_config_temps(&self) -> Result<usize> {
        let held = self._open_lock.lock().is_some();
        let lock = if held {
            None
        } else {
            let p = self.layout.open_lock();
            match self.vfs.try_lock(&p).map_err(io_err(&p))? {
                Some(l) => Some(l),
                None => return Ok(0),
            }
        };
        let n = remove_config_temps(&*self.vfs, &self.path)?;
        drop(lock);
        Ok(n)
    }
}
