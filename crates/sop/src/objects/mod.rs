//! An S3-compatible object store behind a synchronous interface (feature `s3`).
//!
//! The client (Apache Arrow's `object_store` crate) is async; this file owns a
//! small runtime of its own and runs every request there, waiting on a plain
//! channel, so it may be called from any thread (a caller inside another async
//! runtime included). Nothing async leaves this file.
//!
//! Every name is relative to the database's prefix in its bucket
//! (`s3://BUCKET/PREFIX`): `log/<seq>.rec`, `checkpoints/<seq>.ckpt`,
//! `blobs/<store>/<blob>`, `sop.json` (docs/FORMAT.md, "A database in a
//! bucket"). The only conditional request used is a create-only write
//! (`If-None-Match: *`), which S3, MinIO, R2 and the test servers enforce.
//!
//! Requests are retried with backoff on throttling (503, 429), 5xx and broken
//! connections by the client, within a bound (`S3Bucket::timeout_ms`); what
//! still fails comes back as `Error::Registry` (kind `Unavailable`).

mod leases;

pub(crate) use leases::ObjectLeases;

use crate::error::{Error, Result};
use crate::options::S3Bucket;
use bytes::Bytes;
use object_store::path::Path as Key;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
use parking_lot::Mutex;
use std::future::Future;
use std::io;
use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The runtime every object store request of this process runs on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sop-objects")
            .enable_all()
            .build()
            .expect("a tokio runtime for the object store client")
    })
}

/// In-process stores for tests (`memory://NAME/PREFIX`), registered through
/// `sop::test_hooks::register_object_store`.
static IN_PROCESS: Mutex<Vec<(String, Arc<dyn ObjectStore>)>> = Mutex::new(Vec::new());

/// Make `store` reachable as `memory://NAME/...` in this process (tests: an
/// in-memory store, or one that injects faults in front of another).
#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
pub(crate) fn register(name: &str, store: Arc<dyn ObjectStore>) {
    let mut all = IN_PROCESS.lock();
    all.retain(|(n, _)| n != name);
    all.push((name.to_string(), store));
}

/// One database's prefix in one bucket.
pub(crate) struct ObjectClient {
    store: Arc<dyn ObjectStore>,
    /// The prefix, without a trailing `/` (may be empty).
    prefix: String,
    /// `s3://BUCKET/PREFIX`, for messages.
    url: String,
    /// How long one call may take, retries included.
    limit: Duration,
    /// Requests and bytes, for `Database::read_stats`.
    transfer: Arc<crate::read_cache::Transfer>,
}

/// The bucket and the prefix of `s3://BUCKET/PREFIX` (or `memory://NAME/PREFIX`).
pub(crate) fn parse_url(url: &str) -> Result<(&str, &str, &str)> {
    let bad = || {
        Error::InvalidOption(format!(
            "object store URL {url:?}: expected s3://BUCKET/PREFIX"
        ))
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if scheme != "s3" && scheme != "memory" {
        return Err(bad());
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || prefix.contains("//") {
        return Err(bad());
    }
    Ok((scheme, bucket, prefix.trim_end_matches('/')))
}

fn err(url: &str, what: &str, key: &str, e: impl std::fmt::Display) -> Error {
    Error::Registry(format!("object store {url}: {what} {key}: {e}"))
}

impl ObjectClient {
    /// A client for the database at `cfg.url`, with credentials from the
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_REGION`, ..., as the AWS tools read them).
    pub fn connect(cfg: &S3Bucket) -> Result<Arc<ObjectClient>> {
        let (scheme, bucket, prefix) = parse_url(&cfg.url)?;
        let limit = Duration::from_millis(cfg.timeout_ms.max(1));
        let store: Arc<dyn ObjectStore> = if scheme == "memory" {
            IN_PROCESS
                .lock()
                .iter()
                .find(|(n, _)| n == bucket)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| {
                    Error::InvalidOption(format!("no in-process object store named {bucket:?}"))
                })?
        } else {
            Arc::new(Self::s3(cfg, bucket, limit)?)
        };
        Ok(Arc::new(ObjectClient {
            store,
            prefix: prefix.to_string(),
            url: cfg.url.clone(),
            limit,
            transfer: Default::default(),
        }))
    }

    fn s3(cfg: &S3Bucket, bucket: &str, limit: Duration) -> Result<object_store::aws::AmazonS3> {
        use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
        use object_store::{BackoffConfig, ClientOptions, RetryConfig};
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(20),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 8,
                retry_timeout: limit,
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(limit)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_allow_http(
                        cfg.endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            );
        if let Some(e) = &cfg.endpoint {
            // A custom endpoint (MinIO, R2, a test server) takes path-style
            // requests: http://HOST:PORT/BUCKET/KEY.
            b = b
                .with_endpoint(e.trim_end_matches('/'))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(r) = &cfg.region {
            b = b.with_region(r);
        } else if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            b = b.with_region("us-east-1");
        }
        b.build()
            .map_err(|e| Error::InvalidOption(format!("object store {}: {e}", cfg.url)))
    }

    /// What this client's requests moved.
    pub fn transfer(&self) -> Arc<crate::read_cache::Transfer> {
        self.transfer.clone()
    }

    /// `s3://BUCKET/PREFIX`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The object `rel` under the prefix.
    pub fn key(&self, rel: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(rel)
        } else {
            Key::from(format!("{}/{rel}", self.prefix))
        }
    }

    /// Where `rel` is, for messages and as a blob's location.
    pub fn location(&self, rel: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("{}/{rel}", self.url.trim_end_matches('/')))
    }

    fn run<T: Send + 'static>(
        &self,
        what: &str,
        rel: &str,
        f: impl Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> Result<std::result::Result<T, object_store::Error>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime().spawn(async move {
            let _ = tx.send(f.await);
        });
        // The client's own timeout and retry bound come first; this one only
        // keeps a caller from waiting forever on a wedged runtime.
        rx.recv_timeout(self.limit * 2 + Duration::from_secs(5))
            .map_err(|_| err(&self.url, what, rel, "no answer"))
    }

    /// Create `rel` with `bytes` unless it exists: `Ok(false)` if it does.
    pub fn put_new(&self, rel: &str, bytes: Bytes) -> Result<bool> {
        let (store, key) = (self.store.clone(), self.key(rel));
        let opts = PutOptions::from(PutMode::Create);
        self.transfer.sent(bytes.len());
        match self.run("create", rel, async move {
            store.put_opts(&key, PutPayload::from(bytes), opts).await
        })? {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(err(&self.url, "create", rel, e)),
        }
    }

    /// Write `rel`, replacing what it holds.
    pub fn put(&self, rel: &str, bytes: Bytes) -> Result<()> {
        let (store, key) = (self.store.clone(), self.key(rel));
        self.transfer.sent(bytes.len());
        self.run("write", rel, async move {
            store
                .put_opts(&key, PutPayload::from(bytes), PutOptions::default())
                .await
        })?
        .map(|_| ())
        .map_err(|e| err(&self.url, "write", rel, e))
    }

    fn get_opts(&self, rel: &str, opts: GetOptions) -> Result<Option<(Bytes, u64)>> {
        let (store, key) = (self.store.clone(), self.key(rel));
        match self.run("read", rel, async move {
            let r = store.get_opts(&key, opts).await?;
            let size = r.meta.size;
            Ok((r.bytes().await?, size))
        })? {
            Ok(got) => {
                self.transfer.got(got.0.len());
                Ok(Some(got))
            }
            Err(object_store::Error::NotFound { .. }) => {
                self.transfer.got(0);
                Ok(None)
            }
            Err(e) => Err(err(&self.url, "read", rel, e)),
        }
    }

    /// The whole of `rel`; `None` if it does not exist.
    pub fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        Ok(self.get_opts(rel, GetOptions::default())?.map(|(b, _)| b))
    }

    /// The last `n` bytes of `rel` (all of it if shorter) and its size.
    pub fn get_tail(&self, rel: &str, n: u64) -> Result<Option<(Bytes, u64)>> {
        let opts = GetOptions {
            range: Some(GetRange::Suffix(n)),
            ..Default::default()
        };
        self.get_opts(rel, opts)
    }

    /// Bytes `range` of `rel`, exactly (a short object is an error).
    pub fn get_range(&self, rel: &str, range: Range<u64>) -> io::Result<Bytes> {
        let want = range.end - range.start;
        if want == 0 {
            return Ok(Bytes::new());
        }
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        match self.get_opts(rel, opts) {
            Ok(Some((b, _))) if b.len() as u64 == want => Ok(b),
            Ok(Some(_)) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: shorter than expected", self.location(rel).display()),
            )),
            Ok(None) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such object", self.location(rel).display()),
            )),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }

    /// The size of `rel`; `None` if it does not exist.
    pub fn head(&self, rel: &str) -> Result<Option<u64>> {
        let (store, key) = (self.store.clone(), self.key(rel));
        self.transfer.got(0);
        match self.run("look up", rel, async move {
            store
                .get_opts(
                    &key,
                    GetOptions {
                        head: true,
                        ..Default::default()
                    },
                )
                .await
                .map(|r| r.meta.size)
        })? {
            Ok(size) => Ok(Some(size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(err(&self.url, "look up", rel, e)),
        }
    }

    /// Objects under `dir/` (names relative to it, with their sizes), those
    /// after `after` only if given (a name under `dir/`). A listing may lag
    /// behind writes on some stores: callers never rely on it being complete.
    pub fn list(&self, dir: &str, after: Option<&str>) -> Result<Vec<(String, u64)>> {
        use futures_util::TryStreamExt;
        let store = self.store.clone();
        let prefix = self.key(dir);
        let offset = after.map(|a| self.key(&format!("{dir}/{a}")));
        let strip = format!("{}/", prefix.as_ref());
        let metas = self.run("list", dir, async move {
            let s = match &offset {
                Some(o) => store.list_with_offset(Some(&prefix), o),
                None => store.list(Some(&prefix)),
            };
            s.try_collect::<Vec<_>>().await
        })?;
        let metas = metas.map_err(|e| err(&self.url, "list", dir, e))?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let loc = m.location.as_ref();
                loc.strip_prefix(&strip).map(|n| (n.to_string(), m.size))
            })
            .collect())
    }

    /// Remove `rel`; Ok if it is gone or was never there.
    pub fn delete(&self, rel: &str) -> Result<()> {
        let (store, key) = (self.store.clone(), self.key(rel));
        match self.run("remove", rel, async move { store.delete(&key).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(err(&self.url, "remove", rel, e)),
        }
    }
}
