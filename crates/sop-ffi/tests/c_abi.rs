//! Builds tests/c/abi_test.c with `cc -fsanitize=address,undefined` against this
//! crate's static library and runs it: every function of the C ABI, including
//! misuse, under AddressSanitizer and UBSan. A missing `cc` fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The static library cargo built with this test: target/<profile>/deps/, where
/// `cargo test` rebuilds it (target/<profile>/libsop_ffi.a is only refreshed by
/// `cargo build` and may be stale).
fn staticlib() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let p = exe
        .parent()
        .expect("target/<profile>/deps")
        .join("libsop_ffi.a");
    assert!(p.exists(), "{} not found", p.display());
    p
}

fn compile(out: &Path) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let result = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1"])
        .args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
        ])
        .arg("-I")
        .arg(dir.join("include"))
        .arg(dir.join("tests/c/abi_test.c"))
        .arg(staticlib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cc (a C compiler is required for this test): {e}"));
    assert!(
        result.status.success(),
        "cc failed:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}

#[test]
fn the_c_program_exercises_every_function_under_sanitizers() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let exe = tmp.path().join("abi_test");
    compile(&exe);
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("a data folder");
    let run = Command::new(&exe)
        .arg(&data)
        // Leaks: the registry and the engine's caches live until exit on purpose;
        // ASan's own checks (use after free, overflows) stay on.
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=0:abort_on_error=0:halt_on_error=1",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .output()
        .expect("run the C test program");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the C test program failed ({}):\n{stdout}\n{stderr}",
        run.status
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    let passed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("checks passed: "))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}"));
    let (ok, all) = passed.split_once(" of ").expect("N of M");
    assert_eq!(ok, all, "{stdout}");
    assert!(all.parse::<u32>().expect("a count") > 150, "{stdout}");
    assert!(!stderr.contains("runtime error"), "UBSan: {stderr}");
}
