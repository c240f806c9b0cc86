//! `sop blob put` and `sop blob get`: big values as streams, in byte stores
//! with big values (`sop store create NAME --bytes --values big`). Neither
//! holds a value in memory: `put` writes it chunk by chunk as it reads it
//! (`RawStore::put_stream`), `get` reads it chunk by chunk as it writes it
//! (`RawStore::get_stream`). A progress bar goes to stderr when it is a
//! terminal.

use crate::args::{ByteRange, Cli};
use crate::db::open;
use crate::output::{emit, failure, placement, usage};
use anyhow::{anyhow, Context, Result};
use serde_json::json;
use sop::{RawStore, Transaction, TxMode, ValuePlacement};
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The key type of byte stores (the one the bindings' byte stores have).
pub const BYTES_KEY_TYPE: &str = "raw-bytes";

/// How to make a store `sop blob put` takes.
const MAKE_ONE: &str = "create one with `sop store create NAME --bytes --values big`";

/// Bytes copied per read and write.
const BUF: usize = 1 << 20;

/// The byte store `store`, or a clear error: there is none, it is a JSON store
/// or one with typed keys, or (`writing`) it does not keep big values.
fn byte_store<'t>(tx: &'t Transaction, store: &str, writing: bool) -> Result<RawStore<'t>> {
    let s = tx.open_raw_store(store)?;
    let info = s.info()?;
    if info.key_type != BYTES_KEY_TYPE {
        let what = if info.key_type == sop::JSON_KEY_TYPE {
            "a JSON store (its values are JSON documents)".to_string()
        } else {
            format!("a store with typed keys ({})", info.key_type)
        };
        return Err(failure(
            "invalid_input",
            format!("store {store} is {what}; sop blob works on byte stores: {MAKE_ONE}"),
        ));
    }
    if writing && info.options.values != ValuePlacement::Big {
        return Err(failure(
            "invalid_input",
            format!(
                "store {store} keeps its values {}; sop blob put needs big values: {MAKE_ONE}",
                placement(info.options.values)
            ),
        ));
    }
    Ok(s)
}

/// A progress bar of `total` bytes (a spinner counting bytes if unknown) on
/// stderr when it is a terminal; hidden otherwise.
fn progress(total: Option<u64>) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    match total {
        Some(n) => indicatif::ProgressBar::new(n).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ({eta})",
            )
            .expect("a valid template"),
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}")
                .expect("a valid template"),
        ),
    }
}

/// A reader's error as the engine's error it carries (a missing or damaged
/// chunk: kind "corrupt"), or as the I/O error it is.
fn read_error(e: std::io::Error) -> anyhow::Error {
    if e.get_ref().is_some_and(|i| i.is::<sop::Error>()) {
        if let Some(Ok(inner)) = e.into_inner().map(|i| i.downcast::<sop::Error>()) {
            return anyhow::Error::new(*inner);
        }
        unreachable!("checked above");
    }
    anyhow::Error::new(e)
}

pub fn put(cli: &Cli, store: &str, key: &str, file: &Path) -> Result<()> {
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::ForWriting)?;
    let s = byte_store(&tx, store, true)?;
    let stdin = file == Path::new("-");
    let (input, size): (Box<dyn Read>, Option<u64>) = if stdin {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        (Box::new(f), size)
    };
    let bar = progress(size);
    let put = s
        .put_stream(key.as_bytes(), bar.wrap_read(input))
        .with_context(|| {
            let from = if stdin {
                "standard input".to_string()
            } else {
                file.display().to_string()
            };
            format!("cannot write the value of key {key:?} from {from}")
        })?;
    tx.commit()?;
    bar.finish_and_clear();
    emit(
        cli.json,
        format!(
            "{} {} bytes under key {key:?} in store {store}",
            if put.inserted { "inserted" } else { "replaced" },
            put.len
        ),
        json!({"bytes": put.len, "inserted": put.inserted}),
    );
    Ok(())
}

pub fn get(
    cli: &Cli,
    store: &str,
    key: &str,
    file: Option<&Path>,
    range: Option<ByteRange>,
) -> Result<()> {
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::NoCheck)?;
    let s = byte_store(&tx, store, false)?;
    let Some(mut r) = s.get_stream(key.as_bytes())? else {
        return Err(failure(
            "not_found",
            format!("no item with key {key:?} in store {store}"),
        ));
    };
    let len = r.len();
    let (start, end) = match range {
        None => (0, len),
        Some(ByteRange { first, last }) => {
            let end = match last {
                Some(l) => l.saturating_add(1),
                None => len,
            };
            if first > len || end > len {
                let typed = match last {
                    Some(l) => format!("{first}-{l}"),
                    None => format!("{first}-"),
                };
                return usage(Err(anyhow!(
                    "range {typed} is outside the value of key {key:?}, which has {len} bytes{}",
                    if len > 0 {
                        format!(" (0-{})", len - 1)
                    } else {
                        String::new()
                    }
                )));
            }
            (first, end)
        }
    };
    r.seek(SeekFrom::Start(start)).map_err(read_error)?;
    let to_stdout = file.is_none_or(|f| f == Path::new("-"));
    let mut out: Box<dyn Write> = match file {
        Some(p) if !to_stdout => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        ),
        _ => Box::new(std::io::stdout().lock()),
    };
    let bar = progress(Some(end - start));
    let mut buf = vec![0u8; BUF];
    let mut left = end - start;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = r.read(&mut buf[..want]).map_err(read_error)?;
        if n == 0 {
            return Err(anyhow!("the value of key {key:?} ended {left} bytes early"));
        }
        out.write_all(&buf[..n])?;
        left -= n as u64;
        bar.inc(n as u64);
    }
    out.flush()?;
    bar.finish_and_clear();
    if let (false, Some(p)) = (to_stdout, file) {
        emit(
            cli.json,
            format!("wrote {} bytes to {}", end - start, p.display()),
            json!({"bytes": end - start}),
        );
    }
    Ok(())
}
