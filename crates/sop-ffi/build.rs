//! Generates the C header from the crate's `extern "C"` items into `OUT_DIR/sop.h`.
//! The checked-in `include/sop.h` must equal it (tests/header.rs; run that test
//! with `SOP_BLESS_HEADER=1` to rewrite the checked-in copy).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml"))
        .expect("crates/sop-ffi/cbindgen.toml is valid");
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write_to_file(format!("{out}/sop.h"));
}
