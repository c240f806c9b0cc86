//! `sop import` and `sop export`: items as JSON lines {"key":…,"value":…}.

use crate::args::Cli;
use crate::commands::items::write_item;
use crate::db::{open, read_store};
use crate::output::{chain_text, emit, failure, write_item_line};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use sop::TxMode;
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::Path;

/// One line of an import: an object with exactly the members "key" and "value".
fn parse_line(line: &str) -> Result<(Value, Value)> {
    let what = "not a JSON line {\"key\":…,\"value\":…}";
    // parse_json refuses an object with a duplicate member (in the key too).
    let mut m = match sop::parse_json(line.trim_end()).map_err(|e| anyhow!("{what}: {e}"))? {
        Value::Object(m) => m,
        _ => bail!("{what}: not an object"),
    };
    if let Some(other) = m.keys().find(|k| *k != "key" && *k != "value") {
        bail!("{what}: unknown member {other:?}");
    }
    let key = m
        .remove("key")
        .ok_or_else(|| anyhow!("{what}: missing member \"key\""))?;
    let value = m
        .remove("value")
        .ok_or_else(|| anyhow!("{what}: missing member \"value\""))?;
    Ok((key, value))
}

pub fn import(cli: &Cli, store: &str, file: &Path, batch: u64, verbose: bool) -> Result<()> {
    let db = open(cli, true)?;
    let unique = {
        let tx = db.begin(TxMode::NoCheck)?;
        let s = tx.open_json_store(store)?;
        s.info().options.unique
    };
    let (mut input, size): (Box<dyn BufRead>, Option<u64>) = if file == Path::new("-") {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        let size = f.metadata().ok().map(|m| m.len());
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
            size,
        )
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = match size {
            Some(n) => indicatif::ProgressBar::new(n).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {msg} ({eta})",
                )
                .unwrap(),
            ),
            None => indicatif::ProgressBar::new_spinner(),
        };
        b.set_message("0 items");
        b
    });
    // SIGINT stops the import between lines; the batch in progress is dropped.
    crate::sigint::catch();
    let (mut line_no, mut bytes_read, mut total, mut batches) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = String::new();
    let mut eof = false;
    let fail = |line_no: u64, total: u64, batches: u64, e: anyhow::Error| {
        anyhow!(
            "line {line_no}: {}; import stopped: the {total} items of the {batches} batches committed before it \
             stay, the batch holding this line was not written",
            chain_text(&e)
        )
    };
    while !eof {
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.open_json_store(store)?;
        let mut n = 0u64;
        while n < batch {
            if crate::sigint::caught() {
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                return Err(failure(
                    "interrupted",
                    format!(
                        "interrupted at line {line_no}: import stopped: the {total} items of the {batches} batches \
                         committed before it stay, the batch in progress was not written"
                    ),
                ));
            }
            buf.clear();
            let read = match input.read_line(&mut buf) {
                Ok(r) => r,
                Err(e) => {
                    return Err(fail(
                        line_no + 1,
                        total,
                        batches,
                        anyhow::Error::new(e).context("cannot read the input"),
                    ))
                }
            };
            if read == 0 {
                eof = true;
                break;
            }
            line_no += 1;
            bytes_read += read as u64;
            if buf.trim().is_empty() {
                continue;
            }
            let (key, value) = parse_line(&buf).map_err(|e| fail(line_no, total, batches, e))?;
            write_item(&s, unique, &key, &value)
                .map_err(|e| fail(line_no, total, batches, e.into()))?;
            n += 1;
            if let Some(b) = &bar {
                if n & 1023 == 0 {
                    b.set_position(bytes_read);
                    b.set_message(format!("{} items", total + n));
                }
            }
        }
        if n == 0 {
            break;
        }
        tx.commit()
            .with_context(|| format!("committing the batch ending at line {line_no}"))?;
        total += n;
        batches += 1;
        if let Some(b) = &bar {
            b.set_position(bytes_read);
            b.set_message(format!("{total} items"));
        }
        if verbose {
            let mut o = std::io::stdout().lock();
            writeln!(
                o,
                "committed batch {batches}: {n} items, {total} in all (through line {line_no})"
            )?;
            o.flush()?;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    emit(
        cli.json,
        format!("imported {total} items in {batches} batches into {store}"),
        json!({"items": total, "batches": batches, "lines": line_no}),
    );
    Ok(())
}

pub fn export(cli: &Cli, store: &str, file: Option<&Path>) -> Result<()> {
    let n = read_store(cli, store, |s| {
        let sink: Box<dyn Write> = match file {
            Some(p) => Box::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot create {}", p.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut out = BufWriter::with_capacity(1 << 20, sink);
        let mut n = 0u64;
        for item in s.iter()? {
            let (k, v) = item?;
            write_item_line(&mut out, &k, &v)?;
            n += 1;
        }
        out.flush()?;
        Ok(n)
    })?;
    if let Some(p) = file {
        emit(
            cli.json,
            format!("exported {n} items to {}", p.display()),
            json!({"items": n, "file": p}),
        );
    }
    Ok(())
}
