//! The `sop` binary end to end, as a user runs it: every command, bad input of
//! every kind (a clear message, a non-zero exit, the database unchanged), `sop
//! check` against inflicted damage, and a SIGKILL in the middle of an import.

use serde_json::{json, Value};
use sop::test_hooks::{Placement, Record, StoreDelta};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod support;
use support::{fails, ok, ok_json, sop, text, SOP};

/// JSON lines `{"key":i,"value":{"n":i,"s":"item i"}}` for i in 0..n.
fn lines(n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"key\":{i},\"value\":{{\"n\":{i},\"s\":\"item {i}\"}}}}\n"))
        .collect()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn keys(scan: &str) -> Vec<i64> {
    scan.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["key"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

/// A new database with store `s` holding `n` items (primitive keys).
fn db_with(n: usize, create: &[&str], batch: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    let mut a = vec!["store", "create", "s"];
    a.extend_from_slice(create);
    ok(&db, &a);
    let f = write(dir.path(), "in.jsonl", &lines(n));
    ok(
        &db,
        &[
            "import",
            "s",
            f.to_str().unwrap(),
            "--batch",
            &batch.to_string(),
        ],
    );
    (dir, db)
}

fn record_files(db: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(db.join("log/00000000"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// `sop check` fails with exit 3 and names the fault.
fn check_finds(db: &Path, what: &str) -> String {
    let o = sop(db, &["check"]);
    let out = text(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(3),
        "check should find {what:?}: {out}{}",
        text(&o.stderr)
    );
    assert!(
        out.contains("FAULT") && out.contains(what),
        "check output lacks {what:?}: {out}"
    );
    out
}

#[test]
fn init_create_import_scan_export_drop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    assert!(ok(&db, &["init"]).contains("created database"));
    assert!(db.join("sop.json").exists() && db.join("log").is_dir());
    ok(
        &db,
        &["store", "create", "s", "--unique", "--slot-length", "64"],
    );

    let input = lines(100_000);
    let f = write(dir.path(), "in.jsonl", &input);
    let out = ok_json(&db, &["import", "s", f.to_str().unwrap()]);
    assert_eq!(
        out,
        json!({"items": 100_000, "batches": 10, "lines": 100_000})
    );
    let list = ok_json(&db, &["store", "list"]);
    assert_eq!(list[0]["name"], "s");
    assert_eq!(list[0]["items"], 100_000);
    assert_eq!(ok_json(&db, &["store", "info", "s"])["items"], 100_000);

    // Ranges both ways, with and without bounds and limits.
    let scan = |a: &[&str]| {
        let mut v = vec!["scan", "s"];
        v.extend_from_slice(a);
        keys(&ok(&db, &v))
    };
    assert_eq!(
        scan(&["--from", "500", "--to", "510"]),
        (500..=510).collect::<Vec<_>>()
    );
    assert_eq!(
        scan(&["--from", "500", "--to", "510", "--desc"]),
        (500..=510).rev().collect::<Vec<_>>()
    );
    assert_eq!(
        scan(&["--from", "500", "--to", "510", "--limit", "3"]),
        vec![500, 501, 502]
    );
    assert_eq!(
        scan(&["--from", "500", "--to", "510", "--desc", "--limit", "3"]),
        vec![510, 509, 508]
    );
    assert_eq!(scan(&["--from", "99998"]), vec![99998, 99999]);
    assert_eq!(scan(&["--to", "1"]), vec![0, 1]);
    assert_eq!(scan(&["--desc", "--limit", "2"]), vec![99999, 99998]);
    assert_eq!(scan(&["--limit", "2"]), vec![0, 1]);
    assert_eq!(
        scan(&["--from", "10.5", "--to", "12.0"]),
        vec![11, 12],
        "numbers compare by value"
    );
    assert_eq!(
        scan(&["--from", "\"a\""]),
        Vec::<i64>::new(),
        "strings sort after numbers"
    );
    assert_eq!(scan(&["--from", "7", "--to", "3"]), Vec::<i64>::new());
    assert_eq!(scan(&["--limit", "0"]), Vec::<i64>::new());

    // Export equals import, to a file and to stdout.
    let e = dir.path().join("out.jsonl");
    ok(&db, &["export", "s", e.to_str().unwrap()]);
    assert!(
        std::fs::read_to_string(&e).unwrap() == input,
        "export differs from import"
    );
    assert!(ok(&db, &["export", "s"]) == input);

    // put / get / del.
    assert_eq!(
        ok(&db, &["put", "s", "7", r#"{"n":"seven"}"#]).trim(),
        "updated"
    );
    assert_eq!(ok(&db, &["put", "s", "-1.5", "[1.50]"]).trim(), "inserted");
    assert_eq!(ok(&db, &["get", "s", "7"]).trim(), r#"{"n":"seven"}"#);
    assert_eq!(
        ok(&db, &["get", "s", "-1.50"]).trim(),
        "[1.50]",
        "number literals are kept"
    );
    assert_eq!(
        ok_json(&db, &["get", "s", "7.0"]),
        json!({"key": 7, "value": {"n": "seven"}})
    );
    assert_eq!(ok(&db, &["del", "s", "-1.5"]).trim(), "deleted");
    fails(&db, &["get", "s", "-1.5"], "no item with key");

    // A store with an index spec and duplicates, side by side.
    ok(
        &db,
        &[
            "store",
            "create",
            "people",
            "--key-spec",
            "last,age:desc",
            "--values",
            "separate",
        ],
    );
    for (k, v) in [
        (r#"{"last":"Li","age":30}"#, "1"),
        (r#"{"last":"Li","age":40,"x":true}"#, "2"),
        (r#"{"last":"Li","age":30}"#, "3"),
        (r#"{"age":99}"#, "4"),
        (r#"{"last":"Abe","age":1}"#, "5"),
    ] {
        assert_eq!(ok(&db, &["put", "people", k, v]).trim(), "inserted");
    }
    let vals: Vec<String> = ok(&db, &["scan", "people"])
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["value"].to_string()
        })
        .collect();
    assert_eq!(
        vals,
        ["4", "5", "2", "1", "3"],
        "missing first, then by last, age descending, duplicates in order"
    );
    assert!(ok(
        &db,
        &[
            "scan",
            "people",
            "--from",
            r#"{"last":"Li","age":40}"#,
            "--limit",
            "1"
        ]
    )
    .contains(r#""x":true"#));
    let info = ok_json(&db, &["store", "info", "people"]);
    assert_eq!(
        info["info"]["key_spec"],
        json!([{"field":"last","order":"asc"},{"field":"age","order":"desc"}])
    );
    assert_eq!(info["info"]["options"]["unique"], false);

    let stats = ok_json(&db, &["stats"]);
    assert_eq!(stats["stores"].as_array().unwrap().len(), 2);
    assert!(stats["bytes"]["log"].as_u64().unwrap() > 1_000_000);
    assert!(stats["stores"][1]["nodes"].as_u64().unwrap() > 1000);
    assert!(ok(&db, &["check"]).contains("ok: no faults"));

    assert!(ok(&db, &["store", "drop", "s"]).contains("100000 items"));
    fails(&db, &["scan", "s"], "store \"s\" does not exist");
    assert_eq!(
        ok_json(&db, &["store", "list"]).as_array().unwrap().len(),
        1
    );
    assert!(ok(&db, &["check"]).contains("ok: no faults"));
}

/// Everything that identifies the state of the database: every store's items and info.
fn snapshot(db: &Path) -> String {
    let mut s = ok(db, &["--json", "store", "list"]);
    for st in serde_json::from_str::<Value>(&s.clone())
        .unwrap()
        .as_array()
        .unwrap()
    {
        let name = st["name"].as_str().unwrap();
        s += &ok(db, &["export", name]);
        s += &ok(db, &["--json", "store", "info", name]);
    }
    s
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let (dir, db) = db_with(50, &["--unique"], 20);
    ok(
        &db,
        &["store", "create", "obj", "--key-spec", r#"[{"field":"k"}]"#],
    );
    ok(&db, &["put", "obj", r#"{"k":1}"#, "1"]);
    let before = snapshot(&db);
    let f = |name: &str, content: &str| {
        write(dir.path(), name, content)
            .to_str()
            .unwrap()
            .to_string()
    };
    let missing_value = f("mv.jsonl", "{\"key\":1,\"value\":1}\n{\"key\":2}\n");
    let extra = f("ex.jsonl", "{\"key\":1,\"value\":1,\"other\":0}\n");
    let not_json = f(
        "nj.jsonl",
        "{\"key\":1,\"value\":1}\n{\"key\":2,\"value\":\n",
    );
    let not_obj = f("no.jsonl", "[1,2]\n");
    let bad_key = f(
        "bk.jsonl",
        "{\"key\":1,\"value\":1}\n\n{\"key\":[1],\"value\":2}\n",
    );
    let inexact = f("ie.jsonl", "{\"key\":0.100000000000000001,\"value\":1}\n");
    let obj_prim = f(
        "op.jsonl",
        "{\"key\":{\"k\":2},\"value\":1}\n{\"key\":3,\"value\":1}\n",
    );
    let bad_utf8 = dir.path().join("bu.jsonl");
    std::fs::write(&bad_utf8, b"{\"key\":1,\"value\":\"\xff\"}\n").unwrap();
    let bad_utf8 = bad_utf8.to_str().unwrap().to_string();

    let long_name = "n".repeat(300);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // Bad JSON and keys that do not fit.
        (vec!["put", "s", "abc", "1"], "KEY: invalid JSON"),
        (vec!["put", "s", "abc", "1"], "needs quotes"),
        (vec!["put", "s", "1", "{"], "VALUE: invalid JSON"),
        (vec!["put", "s", "1", "1 2"], "VALUE: invalid JSON"),
        (vec!["put", "s", "[1]", "1"], "only primitive keys"),
        (vec!["put", "s", "{\"k\":1}", "1"], "only primitive keys"),
        (
            vec!["put", "s", "18446744073709551616", "1"],
            "out of range",
        ),
        (
            vec!["put", "s", "0.100000000000000001", "1"],
            "cannot be represented exactly",
        ),
        (vec!["put", "s", "1e400", "1"], "beyond the range of f64"),
        (vec!["put", "obj", "5", "1"], "only object keys"),
        (
            vec!["put", "obj", "{\"k\":9007199254740993.0}", "1"],
            "cannot be represented exactly",
        ),
        (vec!["get", "s", "nope"], "KEY: invalid JSON"),
        (vec!["del", "s", "[]"], "only primitive keys"),
        (vec!["del", "s", "12345"], "no item with key 12345"),
        (vec!["get", "s", "12345"], "no item with key 12345"),
        (vec!["scan", "s", "--from", "{"], "--from: invalid JSON"),
        (vec!["scan", "obj", "--to", "1"], "only object keys"),
        // Unknown stores.
        (
            vec!["put", "nope", "1", "1"],
            "store \"nope\" does not exist",
        ),
        (vec!["get", "nope", "1"], "store \"nope\" does not exist"),
        (vec!["del", "nope", "1"], "store \"nope\" does not exist"),
        (vec!["scan", "nope"], "store \"nope\" does not exist"),
        (vec!["export", "nope"], "store \"nope\" does not exist"),
        (
            vec!["import", "nope", &missing_value],
            "store \"nope\" does not exist",
        ),
        (
            vec!["store", "info", "nope"],
            "store \"nope\" does not exist",
        ),
        (
            vec!["store", "drop", "nope"],
            "store \"nope\" does not exist",
        ),
        // Bad specs and options.
        (
            vec!["store", "create", "x", "--key-spec", "[]"],
            "lists no fields",
        ),
        (
            vec!["store", "create", "x", "--key-spec", "{"],
            "invalid index spec",
        ),
        (
            vec![
                "store",
                "create",
                "x",
                "--key-spec",
                r#"[{"field":"a","order":"up"}]"#,
            ],
            "invalid index spec",
        ),
        (
            vec![
                "store",
                "create",
                "x",
                "--key-spec",
                r#"[{"field":"a","sort":"asc"}]"#,
            ],
            "unknown field",
        ),
        (
            vec!["store", "create", "x", "--key-spec", "a,a"],
            "listed twice",
        ),
        (
            vec!["store", "create", "x", "--key-spec", "a:up"],
            "neither asc nor desc",
        ),
        (
            vec!["store", "create", "x", "--key-spec", "a,,b"],
            "empty name",
        ),
        (
            vec!["store", "create", "x", "--key-spec", "first name"],
            "needs the JSON form",
        ),
        (
            vec!["store", "create", "x", "--slot-length", "2"],
            "slot_length 2 is outside",
        ),
        (
            vec!["store", "create", "x", "--slot-length", "1000000"],
            "outside",
        ),
        (
            vec!["store", "create", "x", "--slot-length", "-5"],
            "invalid value '-5' for '--slot-length",
        ),
        (
            vec!["store", "create", "x", "--slot-length", "ten"],
            "invalid value 'ten'",
        ),
        (
            vec!["store", "create", "x", "--values", "huge"],
            "invalid value 'huge'",
        ),
        (vec!["store", "create", "s"], "store \"s\" already exists"),
        (
            vec!["store", "create", &long_name],
            "must be 1 to 255 bytes",
        ),
        (
            vec!["scan", "s", "--limit", "-1"],
            "invalid value '-1' for '--limit",
        ),
        (vec!["scan", "s", "--limit", "x"], "invalid value 'x'"),
        (
            vec!["import", "s", &missing_value, "--batch", "0"],
            "invalid value '0' for '--batch",
        ),
        (
            vec!["import", "s", &missing_value, "--batch", "-3"],
            "invalid value '-3' for '--batch",
        ),
        (vec!["frobnicate"], "unrecognized subcommand"),
        (vec!["put", "s", "1"], "required"),
        (vec!["init"], "a database already exists"),
        // Bad import files: each aborts in the first batch, so nothing is written.
        (
            vec!["import", "s", "/nonexistent/file.jsonl"],
            "cannot read /nonexistent/file.jsonl",
        ),
        (
            vec!["import", "s", &missing_value],
            "line 2: not a JSON line",
        ),
        (
            vec!["import", "s", &missing_value],
            "missing member \"value\"",
        ),
        (vec!["import", "s", &extra], "unknown member \"other\""),
        (vec!["import", "s", &not_json], "line 2"),
        (vec!["import", "s", &not_obj], "line 1: not a JSON line"),
        (vec!["import", "s", &bad_key], "line 3: key [1]"),
        (
            vec!["import", "s", &inexact],
            "line 1: key 0.100000000000000001",
        ),
        (vec!["import", "obj", &obj_prim], "line 2: key 3"),
        (vec!["import", "s", &bad_utf8], "line 1"),
    ];
    for (args, msg) in &cases {
        fails(&db, args, msg);
    }
    // Standard input too.
    let mut child = Command::new(SOP)
        .arg("--db")
        .arg(&db)
        .args(["import", "s", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"key\":1000,\"value\":0}\nnot json\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        !o.status.success() && text(&o.stderr).contains("line 2"),
        "{}",
        text(&o.stderr)
    );

    assert!(
        snapshot(&db) == before,
        "a refused command changed the database"
    );
    assert!(ok(&db, &["check"]).contains("ok: no faults"));

    // A bad --redis URL creates nothing.
    let other = dir.path().join("other");
    fails(
        &other,
        &["init", "--redis", "http://localhost"],
        "invalid --redis URL",
    );
    assert!(!other.exists());
}

#[test]
fn commands_need_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none");
    let f = write(dir.path(), "in.jsonl", &lines(3));
    let f = f.to_str().unwrap();
    for args in [
        vec!["store", "create", "s"],
        vec!["store", "list"],
        vec!["store", "info", "s"],
        vec!["store", "drop", "s"],
        vec!["put", "s", "1", "1"],
        vec!["get", "s", "1"],
        vec!["del", "s", "1"],
        vec!["scan", "s"],
        vec!["import", "s", f],
        vec!["export", "s"],
        vec!["blob", "put", "s", "k", f],
        vec!["blob", "get", "s", "k"],
        vec!["stats"],
        vec!["check"],
        vec!["recover"],
    ] {
        fails(&db, &args, "no database at");
    }
    assert!(!db.exists(), "a failed command created the folder");

    // init --redis saves Clustered mode; with the test Redis it opens and works.
    let url = std::env::var("SOP_TEST_REDIS_URL")
        .expect("SOP_TEST_REDIS_URL is not set: run the tests with scripts/test.sh");
    let r = dir.path().join("clustered");
    ok(&r, &["init", "--redis", &url]);
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("sop.json")).unwrap()).unwrap();
    assert_eq!(cfg["coordination"], json!({"mode": "redis", "url": url}));
    ok(&r, &["store", "create", "s", "--unique"]);
    ok(&r, &["put", "s", "1", "\"one\""]);
    ok(&r, &["stats"]);
    // A Redis nobody answers at: the error names the address.
    let r2 = dir.path().join("unreachable");
    ok(&r2, &["init", "--redis", "redis://127.0.0.1:1/"]);
    fails(&r2, &["stats"], "127.0.0.1:1");
}

#[test]
fn exclusive_import_is_read_back_by_a_shared_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["--exclusive", "store", "create", "s"]);
    let f = write(dir.path(), "in.jsonl", &lines(500));
    ok(
        &db,
        &[
            "--exclusive",
            "import",
            "s",
            f.to_str().unwrap(),
            "--batch",
            "7",
        ],
    );
    // The journal is gone after the command; a shared open sees every item.
    assert!(std::fs::read_dir(&db).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("journal-")));
    assert_eq!(
        keys(&ok(&db, &["scan", "s"])),
        (0..500).collect::<Vec<i64>>()
    );
    assert!(ok(&db, &["check"]).contains("ok: no faults"));
    assert!(ok(&db, &["--exclusive", "check"]).contains("ok: no faults"));
}

#[test]
fn quickstart_creates_writes_reads_and_scans() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo");
    let out = ok(&db, &["quickstart"]);
    for want in [
        "created database",
        "wrote 4 people",
        "committed",
        r#"-> {"first":"Ada"}"#,
        "Hopper",
        "Knuth",
        "0 problems",
    ] {
        assert!(
            out.contains(want),
            "quickstart output lacks {want:?}: {out}"
        );
    }
    assert!(!out.contains("Turing\""), "the scan stops at L: {out}");
    // Again on the same folder: opens it, keeps 4 people.
    let v = ok_json(&db, &["quickstart"]);
    assert_eq!(v["items"], 4);
    assert_eq!(v["created"], false);
    assert_eq!(ok(&db, &["scan", "people"]).lines().count(), 4);
}

#[test]
fn bad_line_keeps_only_whole_committed_batches() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "s"]);
    let mut input = lines(95);
    input = input
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 56 {
                "{\"key\":\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let f = write(dir.path(), "in.jsonl", &input);
    let err = fails(
        &db,
        &["import", "s", f.to_str().unwrap(), "--batch", "10"],
        "line 57",
    );
    assert!(err.contains("50 items of the 5 batches"), "{err}");
    let got = ok(&db, &["export", "s"]);
    assert!(got == lines(50), "only whole batches before the bad line");
    assert!(ok(&db, &["check"]).contains("ok: no faults"));
}

#[test]
fn check_finds_a_flipped_byte_in_a_node_image() {
    let (_dir, db) = db_with(300, &["--slot-length", "16"], 1000);
    let recs = record_files(&db);
    let last = recs.last().unwrap();
    let mut b = std::fs::read(last).unwrap();
    b[16 + 40] ^= 0x20; // inside the first node image of the newest record
    std::fs::write(last, b).unwrap();
    check_finds(&db, "fails its checksum");
}

#[test]
fn check_finds_a_deleted_log_record() {
    let (_dir, db) = db_with(200, &[], 50);
    let recs = record_files(&db);
    assert_eq!(recs.len(), 5);
    std::fs::remove_file(&recs[2]).unwrap();
    check_finds(&db, "log record 3 is missing");
    // Other commands refuse the damaged database too.
    fails(&db, &["scan", "s"], "missing");
}

/// An unreferenced blob of a process no longer running (released by a commit
/// whose unlink a power cut undid, or of an uncommitted transaction) is garbage
/// that recovery removes, whether or not the process left its lock file: one rule
/// for check and recovery. A file not named like a blob is a fault.
#[test]
fn check_notes_an_orphan_blob_and_recover_removes_it() {
    let (_dir, db) = db_with(20, &["--values", "big"], 1000);
    assert!(ok(&db, &["check"]).contains("ok: no faults"));
    let id = ok_json(&db, &["store", "info", "s"])["info"]["id"]
        .as_u64()
        .unwrap();
    let dir = db.join("blobs").join(format!("{id:016x}"));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 20);
    let orphan = dir.join(format!("{:016x}{:016x}", 0x00c0_ffee_dead_beef_u64, 7));
    std::fs::write(&orphan, b"nobody refers to me").unwrap();
    let out = ok(&db, &["check"]);
    assert!(out.contains("ok: no faults"), "{out}");
    assert_eq!(out.matches("note:").count(), 1, "{out}");
    let r = ok_json(&db, &["recover"]);
    assert_eq!(r["removed_blobs"], 1);
    assert!(!orphan.exists());
    assert!(ok(&db, &["check"]).contains("ok: no faults"));
    assert_eq!(ok(&db, &["export", "s"]), lines(20));

    // What a crashed process leaves (its lock file is still there) is garbage for
    // recovery, not a fault: an unreferenced blob and a temporary record file.
    let crashed = 0x0bad_0bad_0bad_0bad_u64;
    std::fs::write(
        db.join("procs")
            .join(format!("{crashed:016x}{:016x}.lock", 1)),
        b"",
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{crashed:016x}{:016x}", 9)),
        b"uncommitted",
    )
    .unwrap();
    std::fs::write(
        db.join("tmp")
            .join(format!("{crashed:016x}{:016x}-00000000.tmp", 1)),
        b"x",
    )
    .unwrap();
    let out = ok(&db, &["check"]);
    assert!(out.contains("ok: no faults"), "{out}");
    assert_eq!(out.matches("note:").count(), 2, "{out}");
    let r = ok_json(&db, &["recover"]);
    assert_eq!(
        r,
        json!({"dead_processes": 1, "removed_temp_files": 1, "removed_blobs": 1, "head": 2})
    );
    let v = ok_json(&db, &["check"]);
    assert_eq!(
        (v["ok"].clone(), v["garbage"].clone()),
        (json!(true), json!([]))
    );

    std::fs::write(dir.join("stray.txt"), b"not a blob").unwrap();
    check_finds(&db, "unexpected file");
}

#[test]
fn check_finds_a_registry_entry_pointing_nowhere() {
    let (_dir, db) = db_with(30, &[], 1000);
    let id = ok_json(&db, &["store", "info", "s"])["info"]["id"]
        .as_u64()
        .unwrap();
    let head = ok_json(&db, &["stats"])["head"].as_u64().unwrap();
    // A valid commit record whose node put points past the end of its own file.
    let rec = Record {
        txn: 0x1234,
        base_seq: head,
        deltas: vec![StoreDelta {
            store: id,
            count_delta: 0,
            puts: vec![(
                0xabcdef,
                Placement {
                    off: 1 << 20,
                    len: 100,
                    checksum: 0,
                },
                None,
            )],
            deletes: vec![],
        }],
        ..Default::default()
    };
    let h = rec.encode_header();
    let mut file = Record::prefix().to_vec();
    let off = file.len() as u64;
    file.extend_from_slice(&h);
    file.extend_from_slice(&Record::trailer(off, &h));
    std::fs::write(
        db.join("log/00000000")
            .join(format!("{:016x}.rec", head + 1)),
        file,
    )
    .unwrap();
    let out = check_finds(&db, "past the end of the file");
    assert!(
        out.contains("not in the tree"),
        "the unreachable registry entry is named too: {out}"
    );
}

#[test]
fn sigkill_during_import_leaves_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "s", "--unique"]);
    let total = 300_000;
    let input = lines(total);
    let f = write(dir.path(), "in.jsonl", &input);
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
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = 0;
    let mut line = String::new();
    while seen < 3 {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "import ended early");
        assert!(line.starts_with("committed batch"), "{line}");
        seen += 1;
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed before it finished");

    // Check looks at the folder as the kill left it (no recovery first).
    let chk = ok(&db, &["check"]);
    assert!(chk.contains("ok: no faults"), "{chk}");
    let r = ok_json(&db, &["recover"]);
    assert_eq!(r["dead_processes"], 1);
    let got = ok(&db, &["export", "s"]);
    let n = got.lines().count();
    assert_eq!(n % batch, 0, "{n} items: whole batches only");
    assert!(n >= seen * batch && n < total, "{n} items");
    assert!(
        got == input
            .lines()
            .take(n)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
        "not the first {n} lines"
    );
    assert!(ok(&db, &["check"]).contains("ok: no faults"));
}

#[test]
fn reclaim_retires_dead_records_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "s", "--unique"]);
    for i in 0..40 {
        ok(&db, &["put", "s", "\"k\"", &i.to_string()]);
    }
    let out = ok(&db, &["--json", "reclaim"]);
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(r["retired"].as_u64().unwrap() >= 30, "{r}");
    assert!(ok(&db, &["get", "s", "\"k\""]).contains("39"));
    ok(&db, &["check"]);
}

#[test]
fn compact_moves_live_data_out_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "s", "--unique"]);
    for i in 0..30 {
        ok(&db, &["put", "s", &format!("\"k{i}\""), &i.to_string()]);
    }
    // Each put rewrote the leaf: older records hold dead images of it.
    ok(&db, &["put", "s", "\"k0\"", "100"]);
    let out = ok(&db, &["--json", "compact", "--min-dead", "0"]);
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(r["reclaim"]["retired"].as_u64().unwrap() >= 25, "{r}");
    assert!(ok(&db, &["get", "s", "\"k0\""]).contains("100"));
    assert!(ok(&db, &["get", "s", "\"k29\""]).contains("29"));
    ok(&db, &["check"]);
    fails(&db, &["compact", "--min-dead", "2"], "min_dead_fraction");
}

/// `sop scan … | head -1` and `sop export … | head -1`: the reader closing the
/// pipe early is not an error (exit 0, nothing on stderr).
#[test]
fn a_closed_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "s", "--unique"]);
    let lines: String = (0..20_000)
        .map(|i| format!("{{\"key\":{i},\"value\":\"{}\"}}\n", "x".repeat(40)))
        .collect();
    let file = dir.path().join("items.jsonl");
    std::fs::write(&file, lines).unwrap();
    ok(&db, &["import", "s", file.to_str().unwrap()]);
    for args in [
        &["scan", "s"][..],
        &["scan", "s", "--json"],
        &["export", "s"],
    ] {
        let mut child = Command::new(SOP)
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "sop {args:?} printed nothing");
        // The reader is gone (dropped above): the next writes hit a closed pipe.
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "sop {args:?} after the reader left: {:?}, stderr {}",
            out.status,
            text(&out.stderr)
        );
    }
}

/// A folder the user may only read (another user's database, as an unprivileged
/// user: uid 65534) and a read-only bind mount (as root): every reading command
/// works, opened read-only with a note saying so, `check` is clean (exit 0),
/// and a write fails with a message that says read-only, changing nothing.
#[test]
fn a_folder_that_is_not_writable_is_opened_read_only() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "s", "--unique"]);
    ok(&db, &["put", "s", "1", "\"one\""]);
    ok(&db, &["put", "s", "2", "\"two\""]);
    // The binary where any user may run it.
    let bin = dir.path().join("sop");
    std::fs::copy(SOP, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new(&bin)
            .arg("--db")
            .arg(&db)
            .args(args)
            .uid(65534)
            .gid(65534)
            .output()
            .expect("run sop as uid 65534 (the test command runs as root)")
    };
    let ro_mount = dir.path().join("ro");
    std::fs::create_dir(&ro_mount).unwrap();
    let mount = |args: &[&str]| {
        let out = Command::new("mount").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "mount {args:?}: {}",
            text(&out.stderr)
        );
    };
    mount(&["--bind", db.to_str().unwrap(), ro_mount.to_str().unwrap()]);
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(ro_mount.clone());
    mount(&["-o", "remount,bind,ro", ro_mount.to_str().unwrap()]);
    let on_mount = |args: &[&str]| sop(&ro_mount, args);

    type Run<'a> = &'a dyn Fn(&[&str]) -> Output;
    let runs: [(&str, Run); 2] = [("uid 65534", &as_nobody), ("read-only mount", &on_mount)];
    for (who, run) in runs {
        for (args, want) in [
            (&["store", "list"][..], "s"),
            (&["get", "s", "2"], "\"two\""),
            (&["scan", "s"], "\"one\""),
            (&["check"], ""),
            (&["stats"], ""),
        ] {
            let o = run(args);
            assert!(
                o.status.success(),
                "{who}: sop {args:?} failed ({:?}): {}{}",
                o.status,
                text(&o.stdout),
                text(&o.stderr)
            );
            assert!(
                text(&o.stdout).contains(want),
                "{who}: sop {args:?}: {}",
                text(&o.stdout)
            );
            assert!(
                text(&o.stderr).contains("opened read-only"),
                "{who}: sop {args:?} says nothing of read-only: {}",
                text(&o.stderr)
            );
        }
        let o = run(&["put", "s", "3", "\"three\""]);
        assert_eq!(o.status.code(), Some(1), "{who}: put: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("read-only"),
            "{who}: {}",
            text(&o.stderr)
        );
    }
    assert!(!ok(&db, &["scan", "s"]).contains("three"));
}

/// `sop pack DEST`: a copy that checks clean and exports the same items; a
/// second pack into the same folder is refused and changes nothing.
#[test]
fn pack_writes_a_compact_copy() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(
        &db,
        &[
            "store",
            "create",
            "people",
            "--unique",
            "--key-spec",
            "last,age:desc",
        ],
    );
    for i in 0..30 {
        let key = format!("{{\"last\":\"L{}\",\"age\":{i}}}", i % 4);
        ok(&db, &["put", "people", &key, &format!("{{\"n\":{i}}}")]);
    }
    let dest = dir.path().join("copy");
    let out = ok_json(&db, &["pack", dest.to_str().unwrap()]);
    assert_eq!(out["stores"], 1);
    assert_eq!(out["items"], 30);
    ok(&dest, &["check"]);
    assert_eq!(
        ok(&dest, &["export", "people"]),
        ok(&db, &["export", "people"])
    );
    let again = sop(&db, &["pack", dest.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert_eq!(
        ok(&dest, &["export", "people"]),
        ok(&db, &["export", "people"])
    );
}
