//! Creates (or opens) a database in ./sop-data (or the folder given), writes,
//! reads and scans a store, and prints what it did.

use sop::{Database, DbOptions, StoreOptions, TxMode};

fn main() -> sop::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "sop-data".into());
    let db = Database::open(&path, DbOptions::default())?;
    println!("opened database at {path} (log head {})", db.head()?);

    let tx = db.begin(TxMode::ForWriting)?;
    let people =
        tx.open_or_create_store::<(String, u32), String>("people", StoreOptions::default())?;
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
        "wrote {} people; the store holds {}",
        rows.len(),
        people.count()?
    );
    tx.commit()?;
    println!("committed (durable)");

    let tx = db.begin(TxMode::ForReading)?;
    let people = tx.open_store::<(String, u32), String>("people")?;
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
