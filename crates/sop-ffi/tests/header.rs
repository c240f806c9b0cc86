//! The checked-in header `include/sop.h` is what cbindgen generates from the
//! code now (build.rs writes a fresh one into OUT_DIR). After changing the ABI,
//! run `SOP_BLESS_HEADER=1 cargo test -p sop-ffi --test header` and commit the
//! header.

#[test]
fn the_checked_in_header_is_the_generated_one() {
    let fresh =
        std::fs::read_to_string(concat!(env!("OUT_DIR"), "/sop.h")).expect("build.rs wrote sop.h");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/sop.h");
    if std::env::var_os("SOP_BLESS_HEADER").is_some() {
        std::fs::write(path, &fresh).expect("write include/sop.h");
    }
    let checked_in = std::fs::read_to_string(path).expect("include/sop.h is checked in");
    assert!(
        checked_in == fresh,
        "include/sop.h differs from the header cbindgen generates now: run \
         SOP_BLESS_HEADER=1 cargo test -p sop-ffi --test header and commit it"
    );
}
