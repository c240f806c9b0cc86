//! `sop.json` carries a checksum: a flipped bit anywhere in it (the database id
//! included, which names the database's keys in Redis) is refused, not read as
//! another configuration; files written before the checksum still open.

use sop::{Database, DbOptions, Error};
use std::path::Path;

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        create: false,
        ..Default::default()
    }
}

fn new_db() -> (tempfile::TempDir, Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            recovery_interval: None,
            ..Default::default()
        },
    )
    .unwrap();
    let id = db.config().id.clone();
    drop(db);
    let bytes = std::fs::read(dir.path().join("sop.json")).unwrap();
    (dir, bytes, id)
}

fn open_with(dir: &Path, bytes: &[u8]) -> sop::Result<Database> {
    std::fs::write(dir.join("sop.json"), bytes).unwrap();
    Database::open(dir, opts())
}

#[test]
fn a_flipped_character_in_the_id_is_refused() {
    let (dir, bytes, id) = new_db();
    let text = String::from_utf8(bytes).unwrap();
    // One bit: '0' <-> '1', 'a' <-> 'c' ... keep it a valid hex id.
    let first = id.as_bytes()[0];
    let flipped_char = if first.is_ascii_digit() {
        first ^ 1
    } else {
        first ^ 2
    };
    let mut flipped = id.clone().into_bytes();
    flipped[0] = flipped_char;
    let flipped = String::from_utf8(flipped).unwrap();
    assert_ne!(flipped, id);
    let text = text.replace(&id, &flipped);
    match open_with(dir.path(), text.as_bytes()) {
        Err(Error::Corrupt { .. }) => {}
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(db) => panic!("opened with id {} (was {id})", db.config().id),
    }
}

/// Every single-bit flip of every byte is refused (as corrupt, an unsupported
/// version or not a SOP database), never read as another configuration.
#[test]
fn every_bit_flip_is_refused() {
    let (dir, bytes, _) = new_db();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            if let Ok(db) = open_with(dir.path(), &b) {
                panic!(
                    "byte {i} bit {bit} ({:?} -> {:?}) opened: {:?}",
                    bytes[i] as char,
                    b[i] as char,
                    db.config()
                );
            }
        }
    }
    assert!(open_with(dir.path(), &bytes).is_ok());
}

/// A `sop.json` written before the checksum existed still opens, with its id.
#[test]
fn a_file_without_a_checksum_still_opens() {
    let (dir, _, _) = new_db();
    let id = "0123456789abcdef0123456789abcdef";
    let old = format!(
        "{{\n  \"format\": \"sop\",\n  \"version\": 1,\n  \"id\": \"{id}\",\n  \"coordination\": {{\n    \"mode\": \"standalone\"\n  }}\n}}"
    );
    let db = open_with(dir.path(), old.as_bytes()).unwrap();
    assert_eq!(db.config().id, id);
}
