//! Reads the resolved versions of the peer engines from the workspace's Cargo.lock, so the
//! report can say exactly which version of each engine was measured.

use std::path::PathBuf;

const CRATES: &[&str] = &[
    "redb",
    "heed",
    "sled",
    "fjall",
    "rusqlite",
    "libsqlite3-sys",
    "rocksdb",
    "librocksdb-sys",
    "sop",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let lock = manifest.join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    println!("cargo:rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for krate in CRATES {
        let version = find_version(&text, krate).unwrap_or_else(|| "unknown".to_string());
        let var = format!("SOP_BENCH_V_{}", krate.to_uppercase().replace('-', "_"));
        println!("cargo:rustc-env={var}={version}");
    }
}

/// Finds `version = "..."` right after `name = "<krate>"` in a Cargo.lock.
fn find_version(lock: &str, krate: &str) -> Option<String> {
    let needle = format!("name = \"{krate}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == needle {
            let next = lines.next()?.trim();
            let v = next.strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(v.to_string());
        }
    }
    None
}
