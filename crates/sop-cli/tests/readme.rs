//! The README followed in order: `sop quickstart`, then the Rust example
//! (`cargo run --release -p sop --example quickstart`) on the same folder, then the
//! README's code example, twice. Each step must work after the ones before it.

use std::path::Path;
use std::process::Command;

// The example's own code, compiled here so that the test runs exactly its steps.
#[allow(dead_code)]
#[path = "../../sop/examples/quickstart.rs"]
mod quickstart;

const SOP: &str = env!("CARGO_BIN_EXE_sop");

fn cli_quickstart(db: &Path) -> String {
    let o = Command::new(SOP)
        .arg("--db")
        .arg(db)
        .arg("quickstart")
        // As an installed `sop` is run (not through `cargo run`).
        .env_remove("CARGO_PKG_NAME")
        .output()
        .expect("run sop quickstart");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "sop quickstart failed ({:?}): {out}{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
fn cli_quickstart_then_the_rust_example_share_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sop-data");
    cli_quickstart(&db);
    let path = db.to_str().unwrap();
    quickstart::run(path).expect("the Rust example after `sop quickstart`");
    // And both again, in the other order, as a user repeating the steps would.
    quickstart::run(path).expect("the Rust example, a second time");
    cli_quickstart(&db);
}

/// The command `sop quickstart` suggests next, split into words.
fn next_command(out: &str) -> Vec<String> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("next: "))
        .unwrap_or_else(|| panic!("no \"next:\" line in: {out}"));
    line.split_whitespace().map(str::to_string).collect()
}

#[test]
fn quickstart_suggests_a_command_that_runs_without_an_installed_sop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sop-data");
    let next = next_command(&cli_quickstart(&db));
    // Run exactly as suggested, with a PATH that holds no `sop`.
    let o = Command::new(&next[0])
        .args(&next[1..])
        .env("PATH", "/usr/bin:/bin")
        .env_remove("CARGO_PKG_NAME")
        .output();
    let o = o.unwrap_or_else(|e| panic!("cannot run the suggested {next:?}: {e}"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{next:?} failed: {out}");
    assert!(out.contains("Lovelace"), "{next:?} printed: {out}");

    // Run through `cargo run`, it says how to run the tool through cargo.
    let o = Command::new(SOP)
        .arg("--db")
        .arg(&db)
        .arg("quickstart")
        .env("CARGO_PKG_NAME", "sop-cli")
        .output()
        .unwrap();
    let next = next_command(&String::from_utf8_lossy(&o.stdout)).join(" ");
    assert!(
        next.starts_with("cargo run") && next.contains("-p sop-cli -- --db"),
        "suggested: {next}"
    );
}

/// The README's "Use" example, as written there (the folder aside).
fn readme_use_example(path: &Path) -> sop::Result<Vec<(String, String)>> {
    use sop::{Database, DbOptions, StoreOptions, TxMode};
    let db = Database::open(path, DbOptions::default())?;

    let tx = db.begin(TxMode::ForWriting)?;
    let users = tx.open_or_create_store::<String, String>("users", StoreOptions::default())?;
    users.upsert(&"ada".to_string(), &"Ada Lovelace".to_string())?;
    tx.commit()?;

    let tx = db.begin(TxMode::ForReading)?;
    let users = tx.open_store::<String, String>("users")?;
    let mut seen = Vec::new();
    for item in users.range("a".to_string().."b".to_string())? {
        seen.push(item?);
    }
    tx.commit()?;
    Ok(seen)
}

#[test]
fn the_readme_code_example_runs_twice() {
    let readme = include_str!("../../../README.md");
    assert!(
        readme.contains(
            r#"tx.open_or_create_store::<String, String>("users", StoreOptions::default())?;"#
        ) && readme.contains(r#"users.upsert(&"ada".to_string(), &"Ada Lovelace".to_string())?;"#),
        "the README's example is no longer the one this test runs: update both"
    );
    let dir = tempfile::tempdir().unwrap();
    let ada = vec![("ada".to_string(), "Ada Lovelace".to_string())];
    assert_eq!(readme_use_example(dir.path()).expect("first run"), ada);
    assert_eq!(readme_use_example(dir.path()).expect("second run"), ada);
}
