//! What the commands print: human-readable text, or JSON with `--json`, on
//! stdout; errors on stderr; and the process's exit code.

use crate::args::Cli;
use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use sop::codec::json_key::{IndexSpec, SortOrder};
use sop::ValuePlacement;
use std::io::Write;
use std::process::ExitCode;

/// Exit code for `sop check` finding faults.
pub const EXIT_FAULTS: u8 = 3;

/// A failure that ends the command with its own exit code (after printing).
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}
impl std::error::Error for Exit {}

/// The process's exit code for a command's result; prints the error, if any, on
/// stderr.
pub fn exit_code(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            // A closed pipe (`sop scan … | head`) is not an error.
            // serde_json wraps the I/O error of a writer without exposing it as a
            // cause: ask it for the kind.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    || c.downcast_ref::<serde_json::Error>()
                        .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", chain_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, "a: b: c", without repeating a cause that only
/// restates its parent (library errors wrapping a codec error).
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in e.chain() {
        let s = c.to_string();
        if !parts.last().is_some_and(|p| p.ends_with(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// Print `human` as text, or `json` with --json.
pub fn emit(cli: &Cli, human: impl std::fmt::Display, json: Value) {
    if cli.json {
        println!("{json}");
    } else {
        println!("{human}");
    }
}

/// One line of `scan`, `export` and `import`.
#[derive(Serialize)]
pub struct ItemLine<'a> {
    pub key: &'a Value,
    pub value: &'a Value,
}

/// Write `{"key":…,"value":…}` and a newline: a line of `scan` and `export`.
pub fn write_item_line(out: &mut impl Write, key: &Value, value: &Value) -> Result<()> {
    serde_json::to_writer(&mut *out, &ItemLine { key, value })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// How a store orders its keys, in words: "primitive keys", or "keys ordered
/// by last, age desc".
pub fn spec_text(spec: Option<&IndexSpec>) -> String {
    match spec {
        None => "primitive keys".into(),
        Some(s) => {
            let f: Vec<String> = s
                .fields
                .iter()
                .map(|f| {
                    format!(
                        "{}{}",
                        f.field,
                        if f.order == SortOrder::Desc {
                            " desc"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            format!("keys ordered by {}", f.join(", "))
        }
    }
}

/// Where a store keeps its values, as `--values` spells it.
pub fn placement(v: ValuePlacement) -> &'static str {
    match v {
        ValuePlacement::Auto => "auto",
        ValuePlacement::Inline => "inline",
        ValuePlacement::Separate => "separate",
        ValuePlacement::Big => "big",
    }
}
