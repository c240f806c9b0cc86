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

/// Files anywhere under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
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
    // With a disk cache: the first read keeps what it fetched (the value's
    // two chunks among it), the second reads the same bytes from it.
    let cache = tmp.path().join("cache");
    let cache_arg = cache.to_str().unwrap();
    for _ in 0..2 {
        let back = tmp.path().join("cached.bin");
        ok(
            &b,
            &[
                "--cache-dir",
                cache_arg,
                "blob",
                "get",
                "media",
                "clip",
                back.to_str().unwrap(),
            ],
        );
        assert!(std::fs::read(&back).unwrap() == value);
    }
    let kept: u64 = walk(&cache)
        .iter()
        .map(|p| p.metadata().unwrap().len())
        .sum();
    assert!(kept > 9 << 20, "the cache folder holds {kept} bytes");
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

/// `sop --db s3://BUCKET/PREFIX ...` with no folder at all: the endpoint from
/// `AWS_ENDPOINT_URL`, this host's state under `SOP_STATE_DIR`; a second state
/// folder (another host) reads what the first wrote; init twice is refused;
/// nothing is made in the working folder.
#[test]
fn a_bucket_opens_by_its_url_with_no_folder() {
    let url = format!(
        "s3://{}/cli-url/{:016x}",
        var("SOP_TEST_S3_BUCKET"),
        fastrand::u64(..)
    );
    let tmp = tempfile::tempdir().unwrap();
    let (host1, host2, cwd) = (
        tmp.path().join("host1"),
        tmp.path().join("host2"),
        tmp.path().join("cwd"),
    );
    std::fs::create_dir(&cwd).unwrap();
    let run = |state: &std::path::Path, args: &[&str]| {
        std::process::Command::new(support::SOP)
            .current_dir(&cwd)
            .env("SOP_STATE_DIR", state)
            .env("AWS_ENDPOINT_URL", var("SOP_TEST_S3_ENDPOINT"))
            .arg("--db")
            .arg(&url)
            .args(args)
            .output()
            .unwrap()
    };
    let ok_on = |state: &std::path::Path, args: &[&str]| {
        let o = run(state, args);
        assert!(
            o.status.success(),
            "sop {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let missing = run(&host1, &["store", "list"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains(&format!("no database at {url}")),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let said = ok_on(&host1, &["init"]);
    assert!(said.contains(&url), "{said}");
    let again = run(&host1, &["init"]);
    assert!(
        !again.status.success()
            && String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    ok_on(&host1, &["store", "create", "s", "--unique"]);
    ok_on(&host1, &["put", "s", "1", r#""one""#]);
    assert_eq!(ok_on(&host2, &["get", "s", "1"]).trim(), r#""one""#);
    ok_on(&host2, &["put", "s", "2", r#""two""#]);
    assert_eq!(ok_on(&host1, &["get", "s", "2"]).trim(), r#""two""#);
    assert!(
        std::fs::read_dir(&cwd).unwrap().next().is_none(),
        "nothing is made in the working folder"
    );
    for h in [&host1, &host2] {
        let server = var("SOP_TEST_S3_ENDPOINT")
            .trim_start_matches("http://")
            .replace(':', "_");
        let prefix = url.trim_start_matches("s3://");
        let saved = h.join("s3").join(server).join(prefix).join("sop.json");
        assert!(saved.exists(), "{} is missing", saved.display());
    }
}
