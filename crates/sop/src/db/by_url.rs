//! Opening a database in a bucket by its URL, `s3://BUCKET/PREFIX`, with no
//! folder named by the user. The bucket holds the whole database; this host's
//! part of it (a copy of sop.json, the process locks, temporary record files)
//! goes in a folder of its own under the state folder:
//! `DbOptions::state_dir`, else `$SOP_STATE_DIR`, else `$XDG_STATE_HOME/sop`,
//! else `~/.local/state/sop`; below it `s3/<server>/<bucket>/<prefix>`, where
//! `<server>` is the endpoint's host and port (`aws` without one).
//!
//! The endpoint comes from the options' registry when it names the same URL,
//! else from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (as the AWS tools
//! read them). The first open on a host copies the bucket's sop.json (so a
//! Clustered database is Clustered here too); a URL with no database behind it
//! is `Error::NotFound` unless `create` is set.

use crate::engine::DbConfig;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::options::{DbOptions, Registry, S3Bucket};
use std::path::{Path, PathBuf};

/// `path` as given, or, for a bucket's URL, the folder of this host's state
/// and the options that open the bucket.
pub(crate) fn resolve(path: &Path, mut opts: DbOptions) -> Result<(PathBuf, DbOptions)> {
    let Some(url) = path.to_str().filter(|p| p.starts_with("s3://")) else {
        return Ok((path.to_path_buf(), opts));
    };
    let url = url.trim_end_matches('/');
    let bucket = match opts.registry.take() {
        None => {
            let mut b = S3Bucket::new(url);
            b.endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
            b
        }
        Some(Registry::S3(b)) if b.url.trim_end_matches('/') == url => b,
        Some(other) => {
            return Err(Error::InvalidOption(format!(
                "{url} is a database in a bucket; the options name another registry ({other:?})"
            )))
        }
    };
    let dir = state_dir(&opts)?.join(folder_of(&bucket)?);
    if !Layout::new(&dir).config().exists() {
        match bucket_config(&bucket)? {
            Some(theirs) => {
                let coordination = opts.coordination.clone().unwrap_or(theirs.coordination);
                match super::Database::create_config_with(
                    &dir,
                    coordination,
                    Registry::S3(bucket.clone()),
                ) {
                    // Another opener on this host made it first.
                    Ok(_) | Err(Error::AlreadyExists(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            None if !opts.create || opts.read_only => {
                return Err(Error::NotFound(PathBuf::from(url)));
            }
            None => {}
        }
    }
    opts.registry = Some(Registry::S3(bucket));
    Ok((dir, opts))
}

/// Where hosts keep their state of databases opened by URL.
fn state_dir(opts: &DbOptions) -> Result<PathBuf> {
    if let Some(d) = &opts.state_dir {
        return Ok(d.clone());
    }
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("SOP_STATE_DIR") {
        return Ok(d);
    }
    if let Some(d) = var("XDG_STATE_HOME") {
        return Ok(d.join("sop"));
    }
    if let Some(h) = var("HOME") {
        return Ok(h.join(".local/state/sop"));
    }
    Err(Error::InvalidOption(
        "a database opened by URL keeps this host's state in a folder: set DbOptions::state_dir or SOP_STATE_DIR (no HOME here)".into(),
    ))
}

/// `s3/<server>/<bucket>/<prefix>` for `bucket`.
fn folder_of(bucket: &S3Bucket) -> Result<PathBuf> {
    let rest = bucket.url.trim_start_matches("s3://");
    let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bad = |why: &str| {
        Error::InvalidOption(format!(
            "object store URL {:?}: {why}; expected s3://BUCKET/PREFIX",
            bucket.url
        ))
    };
    let part_ok = |p: &str| !p.is_empty() && p != "." && p != ".." && !p.contains(['\\', '\0']);
    if !part_ok(name) || prefix.split('/').any(|p| !p.is_empty() && !part_ok(p)) {
        return Err(bad("a bucket and prefix parts must be names"));
    }
    if prefix.contains("//") {
        return Err(bad("an empty part in the prefix"));
    }
    let server = match &bucket.endpoint {
        None => "aws".to_string(),
        Some(e) => {
            let host = e.split_once("://").map(|(_, h)| h).unwrap_or(e);
            host.trim_end_matches('/').replace([':', '/'], "_")
        }
    };
    if !part_ok(&server) {
        return Err(bad("the endpoint has no host"));
    }
    let mut dir = PathBuf::from("s3").join(server).join(name);
    for p in prefix.split('/').filter(|p| !p.is_empty()) {
        dir.push(p);
    }
    Ok(dir)
}

/// The bucket's sop.json, if it holds a database.
#[cfg(feature = "s3")]
fn bucket_config(bucket: &S3Bucket) -> Result<Option<DbConfig>> {
    let client = crate::objects::ObjectClient::connect(bucket)?;
    let Some(bytes) = client.get(Layout::CONFIG_FILE)? else {
        return Ok(None);
    };
    let at = client.location(Layout::CONFIG_FILE);
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::corrupt(at, e.to_string()))
}

#[cfg(not(feature = "s3"))]
fn bucket_config(_: &S3Bucket) -> Result<Option<DbConfig>> {
    Err(Error::FeatureDisabled {
        feature: "s3",
        needed_for: "a database in an object store",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(url: &str, endpoint: Option<&str>) -> Result<PathBuf> {
        let mut b = S3Bucket::new(url);
        b.endpoint = endpoint.map(str::to_string);
        folder_of(&b)
    }

    #[test]
    fn each_server_bucket_and_prefix_has_a_folder_of_its_own() {
        assert_eq!(
            folder("s3://b/p/q", Some("http://127.0.0.1:9000")).unwrap(),
            PathBuf::from("s3/127.0.0.1_9000/b/p/q")
        );
        assert_eq!(folder("s3://b", None).unwrap(), PathBuf::from("s3/aws/b"));
        assert_ne!(
            folder("s3://b/p", Some("http://h:1")).unwrap(),
            folder("s3://b/p", Some("http://h:2")).unwrap()
        );
    }

    #[test]
    fn names_that_would_leave_the_state_folder_are_refused() {
        for url in [
            "s3://../x",
            "s3://b/../../etc",
            "s3://b/./p",
            "s3:///p",
            "s3://b/p//q",
        ] {
            assert!(
                matches!(folder(url, None), Err(Error::InvalidOption(_))),
                "{url}"
            );
        }
        assert!(folder("s3://b/p", Some("http://")).is_err());
    }
}
