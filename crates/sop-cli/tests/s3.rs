//! `sop init --s3` against the test S3 server (`SOP_TEST_S3_ENDPOINT`,
//! `SOP_TEST_S3_BUCKET`, started by scripts/test.sh; this test fails without
//! it): the folder saves the bucket, a second folder naming the same bucket
//! opens the same database, JSON items and a streamed big value go through the
//! bucket, and a bad URL is refused before anything is made.

mod support;
use support::{ok, sop};

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: run through scripts/test.sh (it starts an S3 server)")
    })
}

#[test]
fn init_s3_puts_the_database_in_the_bucket_for_every_folder_naming_it() {
    let endpoint = var("SOP_TEST_S3_ENDPOINT");
    let url = format!(
        "s3://{}/cli/{:016x}",
        var("SOP_TEST_S3_BUCKET"),
        fastrand::u64(..)
    );
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let said = ok(&a, &["init", "--s3", &url, "--endpoint", &endpoint]);
    assert!(said.contains(&url), "{said}");
    let saved = std::fs::read_to_string(a.join("sop.json")).unwrap();
    assert!(
        saved.contains("\"kind\": \"s3\"") && saved.contains(&url),
        "{saved}"
    );
    assert!(
        !saved.to_lowercase().contains("secret"),
        "no credential in sop.json: {saved}"
    );
    ok(&a, &["store", "create", "people", "--key-spec", "last"]);
    ok(
        &a,
        &[
            "put",
            "people",
            r#"{"last":"Lovelace"}"#,
            r#"{"first":"Ada"}"#,
        ],
    );
    ok(
        &a,
        &["store", "create", "media", "--bytes", "--values", "big"],
    );
    let value: Vec<u8> = (0..(9 << 20) + 7).map(|i: u32| (i % 251) as u8).collect();
    let file = tmp.path().join("clip.bin");
    std::fs::write(&file, &value).unwrap();
    ok(
        &a,
        &["blob", "put", "media", "clip", file.to_str().unwrap()],
    );

    // Another folder (another host) naming the same bucket.
    ok(&b, &["init", "--s3", &url, "--endpoint", &endpoint]);
    assert_eq!(
        ok(&b, &["get", "people", r#"{"last":"Lovelace"}"#]).trim(),
        r#"{"first":"Ada"}"#
    );
    let back = tmp.path().join("back.bin");
    ok(
        &b,
        &["blob", "get", "media", "clip", back.to_str().unwrap()],
    );
    assert!(
        std::fs::read(&back).unwrap() == value,
        "the streamed value read back differs"
    );
    let part = sop(
        &b,
        &[
            "blob",
            "get",
            "media",
            "clip",
            "-",
            "--range",
            "8388600-8388615",
        ],
    );
    assert!(part.status.success());
    assert_eq!(part.stdout, value[8_388_600..=8_388_615]);
    let check = ok(&b, &["check"]);
    assert!(check.contains("no faults"), "{check}");
    // Nothing of the database in either folder's log/ or blobs/.
    for dir in [&a, &b] {
        for sub in ["log", "blobs", "checkpoints"] {
            let n = std::fs::read_dir(dir.join(sub)).map_or(0, |d| d.count());
            assert_eq!(n, 0, "{} holds files", dir.join(sub).display());
        }
    }

    let bad = sop(&tmp.path().join("c"), &["init", "--s3", "bucket/prefix"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected s3://BUCKET/PREFIX"));
    assert!(!tmp.path().join("c").exists(), "nothing made for a bad URL");
}
