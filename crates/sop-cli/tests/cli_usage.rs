//! How `sop` talks back: exit codes (2 for bad usage, 1 for a failed operation,
//! 3 for `check` faults, 130 for an interrupted import), errors as JSON with
//! `--json`, messages that name the real trouble, and help text that describes
//! every argument.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod support;
use support::{exits, ok, sop, text, SOP};

/// A database with a store `s` of primitive keys holding key 1, and a store
/// `obj` with object keys ordered by `k`.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "s", "--unique"]);
    ok(&db, &["store", "create", "obj", "--key-spec", "k"]);
    ok(&db, &["put", "s", "1", "1"]);
    (dir, db)
}

#[test]
fn bad_usage_exits_2_and_failed_operations_exit_1() {
    let (_dir, db) = fixture();
    let long_key = format!("\"{}\"", "x".repeat(40_000));
    let usage: Vec<(Vec<&str>, &str)> = vec![
        (vec!["put", "s", "abc", "1"], "KEY: invalid JSON"),
        (vec!["put", "s", "1", "{"], "VALUE: invalid JSON"),
        (vec!["get", "s", "nope"], "KEY: invalid JSON"),
        (vec!["del", "s", "[1,"], "KEY: invalid JSON"),
        (vec!["scan", "s", "--from", "{"], "--from: invalid JSON"),
        (vec!["scan", "s", "--to", "{"], "--to: invalid JSON"),
        (vec!["compact", "--min-dead", "2"], "between 0 and 1"),
        (vec!["compact", "--min-dead", "-0.5"], "between 0 and 1"),
        (vec!["compact", "--min-dead", "x"], "invalid value 'x'"),
        (
            vec!["store", "create", "x", "--key-spec", "[]"],
            "lists no fields",
        ),
        (
            vec!["store", "create", "x", "--key-spec", "a:up"],
            "neither asc nor desc",
        ),
        (
            vec!["store", "create", "x", "--slot-length", "2"],
            "outside",
        ),
        (vec!["put", "s", "[1]", "1"], "only primitive keys"),
        (vec!["put", "obj", "5", "1"], "only object keys"),
        (vec!["put", "s", &long_key, "1"], "too long"),
        (
            vec!["put", "obj", r#"{"k":1,"k":2}"#, "1"],
            "duplicate member",
        ),
        (vec!["frobnicate"], "unrecognized subcommand"),
        (vec!["put", "s", "1"], "required"),
    ];
    for (args, msg) in &usage {
        exits(&db, args, 2, msg);
    }
    exits(
        &db.with_file_name("other"),
        &["init", "--redis", "http://x"],
        2,
        "invalid --redis URL",
    );
    let op: Vec<(Vec<&str>, &str)> = vec![
        (vec!["get", "s", "12345"], "no item with key 12345"),
        (vec!["del", "s", "12345"], "no item with key 12345"),
        (vec!["get", "nope", "1"], "store \"nope\" does not exist"),
        (vec!["import", "s", "/nonexistent/f.jsonl"], "cannot read"),
        (vec!["init"], "a database already exists"),
    ];
    for (args, msg) in &op {
        exits(&db, args, 1, msg);
    }
    exits(&db.with_file_name("none"), &["stats"], 1, "no database at");
}

/// The `{"error": kind, "message": …}` object a `--json` run printed on stderr.
fn json_error(db: &Path, args: &[&str], code: i32) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = sop(db, &a);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "sop {a:?}: {err}");
    assert!(o.stdout.is_empty(), "sop {a:?}: {}", text(&o.stdout));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "sop {a:?}: one line: {err}");
    let v: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{a:?}: {e}: {err}"));
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    v
}

#[test]
fn with_json_errors_are_json_on_stderr() {
    let (_dir, db) = fixture();
    for (args, code, kind) in [
        (vec!["put", "s", "abc", "1"], 2, "usage"),
        (vec!["compact", "--min-dead", "7"], 2, "usage"),
        (vec!["frobnicate"], 2, "usage"),
        (vec!["get", "s", "12345"], 1, "not_found"),
        (vec!["get", "nope", "1"], 1, "not_found"),
        (vec!["store", "create", "s"], 1, "already_exists"),
        (vec!["init"], 1, "already_exists"),
        (vec!["import", "s", "/nonexistent/f.jsonl"], 1, "io"),
    ] {
        let v = json_error(&db, &args, code);
        assert_eq!(v["error"], kind, "{args:?}: {v}");
    }
    let v = json_error(&db, &["put", "s", "abc", "1"], 2);
    assert!(
        v["message"].as_str().unwrap().contains("KEY: invalid JSON"),
        "{v}"
    );
    let v = json_error(&db, &["put", "s", "1"], 2);
    assert!(v["message"].as_str().unwrap().contains("<VALUE>"), "{v}");
    let v = json_error(&db.with_file_name("none"), &["stats"], 1);
    assert_eq!(v["error"], "not_found", "{v}");
}

#[test]
fn messages_name_the_real_trouble() {
    let (dir, db) = fixture();
    let err = exits(
        &db,
        &["put", "s", &format!("\"{}\"", "x".repeat(40_000)), "1"],
        2,
        "too long",
    );
    assert!(!err.contains("invalid option"), "{err}");
    let err = exits(
        &db,
        &["put", "s", r#""\ud800""#, "1"],
        2,
        "lone UTF-16 surrogate",
    );
    assert!(!err.contains("end of hex escape"), "{err}");

    // init refuses a non-empty folder that is not a database, unless --force.
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    exits(&busy, &["init"], 1, "not empty");
    assert!(!busy.join("sop.json").exists());
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
    ok(&busy, &["init", "--force"]);
    assert!(busy.join("sop.json").exists());
    assert_eq!(std::fs::read(busy.join("notes.txt")).unwrap(), b"mine");
    // An empty folder needs no --force.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    ok(&empty, &["init"]);
}

#[test]
fn a_key_object_with_a_duplicate_member_is_refused() {
    let (dir, db) = fixture();
    exits(
        &db,
        &["put", "obj", r#"{"k":1,"k":2}"#, "1"],
        2,
        "duplicate member \"k\"",
    );
    exits(
        &db,
        &["get", "obj", r#"{"k":1,"k":2}"#],
        2,
        "duplicate member \"k\"",
    );
    let f = dir.path().join("dup.jsonl");
    std::fs::write(
        &f,
        "{\"key\":{\"k\":1},\"value\":1}\n{\"key\":{\"k\":2,\"k\":3},\"value\":1}\n",
    )
    .unwrap();
    exits(&db, &["import", "obj", f.to_str().unwrap()], 1, "line 2");
    exits(
        &db,
        &["import", "obj", f.to_str().unwrap()],
        1,
        "duplicate member \"k\"",
    );
    assert_eq!(ok(&db, &["scan", "obj"]), "");
}

/// Every command's long help (`--help`), with its words.
fn helps() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    while let Some(path) = todo.pop() {
        let o = Command::new(SOP)
            .args(&path)
            .arg("--help")
            .output()
            .unwrap();
        assert!(o.status.success(), "{path:?}");
        let h = text(&o.stdout);
        // Subcommands are listed under "Commands:" as "  name  about".
        let mut in_cmds = false;
        for line in h.lines() {
            if line.ends_with(':') && !line.starts_with(' ') {
                in_cmds = line == "Commands:";
                continue;
            }
            if in_cmds && line.starts_with("  ") && !line.starts_with("   ") {
                let name = line.split_whitespace().next().unwrap();
                if name != "help" {
                    let mut p = path.clone();
                    p.push(name.to_string());
                    todo.push(p);
                }
            }
        }
        out.push((path.join(" "), h));
    }
    out
}

#[test]
fn help_describes_every_argument_and_sets_global_options_apart() {
    let helps = helps();
    assert!(helps.len() >= 19, "{} helps", helps.len());
    for (cmd, h) in &helps {
        let lines: Vec<&str> = h.lines().collect();
        let mut section = "";
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with(' ') && line.ends_with(':') {
                section = line;
                continue;
            }
            if section == "Commands:" || section.is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let t = line.trim_start();
            // An entry: "  <ARG>", "  -v, --verbose", "      --db <PATH>".
            if (2..10).contains(&indent)
                && (t.starts_with('<') || t.starts_with('-') || t.starts_with('['))
            {
                // Its description on the same line (short form), or the next.
                if t.split_once("  ")
                    .is_some_and(|(_, d)| !d.trim().is_empty())
                {
                    continue;
                }
                let next = lines.get(i + 1).copied().unwrap_or("");
                assert!(
                    next.len() > 10 && next.starts_with("          ") && !next.trim().is_empty(),
                    "sop {cmd} --help: {t:?} has no description:\n{h}"
                );
            }
            // A possible value: "- name: what it does".
            if indent >= 10 && t.starts_with("- ") {
                let (_, what) = t.split_once(": ").unwrap_or_else(|| {
                    panic!("sop {cmd} --help: value {t:?} has no description:\n{h}")
                });
                assert!(!what.trim().is_empty(), "sop {cmd} --help: {t:?}");
            }
        }
        if !cmd.is_empty() {
            // Global options under their own heading, after the command's.
            let g = h
                .find("Global options:")
                .unwrap_or_else(|| panic!("sop {cmd} --help:\n{h}"));
            let db = h.find("--db <PATH|URL>").unwrap();
            assert!(
                db > g,
                "sop {cmd} --help: --db among the command's options:\n{h}"
            );
            if let Some(o) = h.find("\nOptions:") {
                assert!(o < g, "sop {cmd} --help:\n{h}");
            }
        }
    }
    let create = &helps.iter().find(|(c, _)| c == "store create").unwrap().1;
    for v in ["auto", "inline", "separate", "big"] {
        assert!(
            create.contains(&format!("- {v}: ")),
            "--values {v}:\n{create}"
        );
    }
}

#[test]
fn sigint_during_import_stops_between_batches_and_says_what_stays() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "s", "--unique"]);
    let total = 400_000;
    let input: String = (0..total)
        .map(|i| format!("{{\"key\":{i},\"value\":{{\"n\":{i}}}}}\n"))
        .collect();
    let f = dir.path().join("in.jsonl");
    std::fs::write(&f, &input).unwrap();
    let batch = 2000;
    let mut child = Command::new(SOP)
        .arg("--db")
        .arg(&db)
        .args([
            "import",
            "s",
            f.to_str().unwrap(),
            "--verbose",
            "--batch",
            &batch.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..3 {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "import ended early");
        assert!(line.starts_with("committed batch"), "{line}");
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "stderr: {err}");
    assert!(err.contains("interrupted"), "{err}");
    // "… the N items of the B batches committed before it stay …"
    let n: u64 = err
        .split("the ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no item count in {err}"));
    assert!(
        err.contains(&format!("the {n} items of the {} batches", n / batch)),
        "{err}"
    );
    assert_eq!(n % batch, 0, "{n}: whole batches only");
    assert!(n >= 3 * batch && n < total, "{n}");
    let got = ok(&db, &["export", "s"]);
    assert_eq!(got.lines().count() as u64, n, "{err}");
    assert!(ok(&db, &["check"]).contains("ok: no faults"));
}
