//! Creates (or opens) a database in ./sop-data (or the folder given), writes,
//! reads and scans a store, and prints what it did.
//!
//! Its store is `typed_people` (keys `(String, u32)`), not the `people` JSON store
//! that `sop quickstart` makes in the same folder: the two run one after the other
//! on one database, as the README has them.

use sop::{Database, DbOptions, StoreOptions, TxMode};

fn main() -> sop::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "sop-data".into());
    run(&path)
}

/// The example's steps on the database at `path` (created if need be).
pub fn run(path: &str) -> sop::Result<()> {
    let db = Database::open(path, DbOptions::default())?;
    // Not "people": `sop quickstart` makes a JSON store of that name here.
    const STORE: &str = "typed_people";
    println!("opened database at {path} (log head {})", db.head()?);

    let tx = db.begin(TxMode::ForWriting)?;
    let people =
        tx.open_or_create_store::<(String, u32), String>(STORE, StoreOptions::default())?;
    let rows = [
        ("lovelace", 1815, "Ada"),
        ("turing", 1912, "Alan"),
        ("hopper", 1906, "Grace"),
        ("knuth", 1938, "Donald"),
    ];
    for (last, born, first) in rows {
        people.upsert(&(last.to_string(), born), &first.to_string())?;
    }
    println!(
        "wrote {} people into store {STORE:?}; it holds {}",
        rows.len(),
        people.count()?
    );
    tx.commit()?;
    println!("committed (durable)");

    let tx = db.begin(TxMode::ForReading)?;
    let people = tx.open_store::<(String, u32), String>(STORE)?;
    let ada = people.get(&("lovelace".to_string(), 1815))?;
    println!("get (lovelace, 1815) -> {ada:?}");
    println!("scan from \"h\" to \"l\":");
    for item in people.range(("h".to_string(), 0)..("l".to_string(), 0))? {
        let ((last, born), first) = item?;
        println!("  {first} {last} ({born})");
    }
    tx.commit()?;

    let report = db.check()?;
    println!(
        "check: {} stores, {} log records, {} problems",
        report.stores.len(),
        report.records,
        report.problems.len()
    );
    Ok(())
}
