//! What the commands print: human-readable text, or JSON with `--json`, on
//! stdout; errors on stderr; and the process's exit code.

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use sop::ValuePlacement;
use sop::{IndexSpec, SortOrder};
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

/// Exit code for bad usage: an argument the user typed wrongly.
pub const EXIT_USAGE: u8 = 2;

/// Exit code for an import stopped by SIGINT (128 + 2, the shell's convention).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Bad usage: an argument the user typed wrongly (exit 2, kind "usage").
#[derive(Debug)]
pub struct Usage(pub anyhow::Error);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&chain_text(&self.0))
    }
}
impl std::error::Error for Usage {}

/// Make `r`'s error a usage error (exit 2).
pub fn usage<T>(r: Result<T>) -> Result<T> {
    r.map_err(|e| Usage(e).into())
}

/// A failure with a kind of its own (exit 1, or 130 for "interrupted"), for
/// errors that are not the engine's.
#[derive(Debug)]
pub struct Failure {
    pub kind: &'static str,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Failure {}

/// A failure of `kind` saying `message`.
pub fn failure(kind: &'static str, message: impl Into<String>) -> anyhow::Error {
    Failure {
        kind,
        message: message.into(),
    }
    .into()
}

/// The name of an engine error kind in `{"error": …}`.
fn kind_name(k: sop::ErrorKind) -> &'static str {
    use sop::ErrorKind as K;
    match k {
        K::Retry => "retry",
        K::OutcomeUnknown => "outcome_unknown",
        K::Poisoned => "poisoned",
        K::Fenced => "fenced",
        K::Corrupt => "corrupt",
        K::InvalidInput => "invalid_input",
        K::NotFound => "not_found",
        K::AlreadyExists => "already_exists",
        K::InUse => "in_use",
        K::DiskFull => "disk_full",
        K::Io => "io",
        K::Unavailable => "unavailable",
        K::Unsupported => "unsupported",
        _ => "error",
    }
}

/// The kind and exit code of an error: the first cause that has one.
fn classify(e: &anyhow::Error) -> (&'static str, u8) {
    for c in e.chain() {
        if c.downcast_ref::<Usage>().is_some() {
            return ("usage", EXIT_USAGE);
        }
        if let Some(f) = c.downcast_ref::<Failure>() {
            let code = if f.kind == "interrupted" {
                EXIT_INTERRUPTED
            } else {
                1
            };
            return (f.kind, code);
        }
        if let Some(s) = c.downcast_ref::<sop::Error>() {
            return (kind_name(s.kind()), 1);
        }
        if c.downcast_ref::<std::io::Error>().is_some() {
            return ("io", 1);
        }
    }
    ("error", 1)
}

/// Print an error on stderr: "error: …", or `{"error": kind, "message": …}`
/// with --json.
pub fn print_error(json: bool, kind: &str, message: &str) {
    if json {
        eprintln!("{}", serde_json::json!({"error": kind, "message": message}));
    } else {
        eprintln!("error: {message}");
    }
}

/// The process's exit code for a command's result; prints the error, if any, on
/// stderr (as JSON with `json`).
pub fn exit_code(json: bool, result: Result<()>) -> ExitCode {
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
            let (kind, code) = classify(&e);
            print_error(json, kind, &chain_text(&e));
            ExitCode::from(code)
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

/// Print `human` as text, or `json` with --json (`as_json`).
pub fn emit(as_json: bool, human: impl std::fmt::Display, json: Value) {
    if as_json {
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
