//! Running the `sop` binary from tests: each helper runs it on a database
//! folder (`--db`) and checks how it ended.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The `sop` binary cargo built for these tests.
pub const SOP: &str = env!("CARGO_BIN_EXE_sop");

/// Run `sop --db DB ARGS...` with no input.
pub fn sop(db: &Path, args: &[&str]) -> Output {
    sop_with(db, args, None)
}

/// Run `sop --db DB ARGS...`, writing `stdin` (if any) to its standard input.
pub fn sop_with(db: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(SOP)
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sop");
    if let Some(input) = stdin {
        c.stdin.take().unwrap().write_all(input).unwrap();
    }
    c.wait_with_output().expect("wait for sop")
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run, expect success, return stdout as bytes.
pub fn ok_bytes(db: &Path, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let o = sop_with(db, args, stdin);
    assert!(
        o.status.success(),
        "sop {args:?} failed ({:?}): {}{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    o.stdout
}

/// Run, expect success, return stdout.
pub fn ok(db: &Path, args: &[&str]) -> String {
    text(&ok_bytes(db, args, None))
}

/// Run with `--json`, expect success, return stdout parsed.
pub fn ok_json(db: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(db, &a)).unwrap()
}

/// Run, expect a non-zero exit with `msg` in stderr and nothing on stdout;
/// return stderr.
pub fn fails(db: &Path, args: &[&str], msg: &str) -> String {
    let o = sop(db, args);
    assert!(
        !o.status.success(),
        "sop {args:?} should fail; stdout: {}",
        text(&o.stdout)
    );
    failed_cleanly(args, &o, msg)
}

/// Run, expect exit `code` with `msg` in stderr and nothing on stdout; return
/// stderr.
pub fn exits(db: &Path, args: &[&str], code: i32, msg: &str) -> String {
    let o = sop(db, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "sop {args:?}: {}",
        text(&o.stderr)
    );
    failed_cleanly(args, &o, msg)
}

fn failed_cleanly(args: &[&str], o: &Output, msg: &str) -> String {
    let err = text(&o.stderr);
    assert!(
        err.contains(msg),
        "sop {args:?}: expected {msg:?} in stderr: {err}"
    );
    assert!(
        o.stdout.is_empty(),
        "sop {args:?}: nothing on stdout on failure: {}",
        text(&o.stdout)
    );
    err
}
