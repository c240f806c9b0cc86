//! An in-memory bucket behind a wrapper that injects faults a real S3 server
//! will not produce on demand: a request that fails before it is sent, one
//! that applies and loses its reply, listings that come back empty. What
//! happens to each request is decided by a [`BucketFaults`]; the conformance
//! suite's gate (power cuts and I/O errors of the simulated disk) and the
//! S3 tests' counters (every n-th PUT of a record) are two of them.

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sop::test_hooks::object_store::{
    self, memory::InMemory, path::Path as Key, CopyOptions, GetOptions, GetResult, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    PutResult,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A request that changes the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A PUT (create-only or not).
    Put,
    /// A DELETE.
    Delete,
    /// A server-side copy (to the key given).
    Copy,
    /// The start of a multipart upload (its parts and completion pass freely).
    Upload,
}

/// What becomes of one request that changes the bucket.
#[derive(Debug)]
pub enum Verdict {
    /// Sent, applied, and its reply arrives (unless [`BucketFaults::replied`]
    /// says otherwise).
    Pass,
    /// Fails before it is sent, with this message: nothing applies.
    Fail(String),
    /// Applies, and the caller gets an error with this message instead of
    /// the reply.
    LoseReply(String),
}

/// Decides the fate of the requests that change the bucket. Reads pass freely.
pub trait BucketFaults: Send + Sync + 'static {
    /// Before `change` of `at` is sent.
    fn sending(&self, change: Change, at: &Key) -> Verdict {
        let _ = (change, at);
        Verdict::Pass
    }

    /// After a request that passed was applied, before its reply: an error
    /// loses the reply. Not asked for [`Change::Upload`].
    fn replied(&self, change: Change, at: &Key) -> Result<(), String> {
        let _ = (change, at);
        Ok(())
    }

    /// Whether listings come back empty (a store whose listings lag).
    fn listings_hidden(&self) -> bool {
        false
    }

    /// How long a GET of `at` waits before it is answered (a store far away).
    fn read_delay(&self, at: &Key) -> std::time::Duration {
        let _ = at;
        std::time::Duration::ZERO
    }
}

/// An [`InMemory`] object store behind a [`BucketFaults`]; register it with
/// `sop::test_hooks::register_object_store` and open `memory://NAME/PREFIX`.
pub struct FaultyBucket<F: BucketFaults> {
    inner: Arc<InMemory>,
    faults: Arc<F>,
    reading: AtomicUsize,
    most_reading: AtomicUsize,
}

impl<F: BucketFaults> FaultyBucket<F> {
    /// `inner` behind `faults`.
    pub fn new(inner: Arc<InMemory>, faults: Arc<F>) -> Self {
        FaultyBucket {
            inner,
            faults,
            reading: AtomicUsize::new(0),
            most_reading: AtomicUsize::new(0),
        }
    }

    /// The most GETs that were in flight at once since the last call (and
    /// start counting again).
    pub fn most_reads_at_once(&self) -> usize {
        self.most_reading.swap(0, Ordering::SeqCst)
    }
}

fn injected(msg: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "FaultyBucket",
        source: msg.into(),
    }
}

/// Runs `apply` under the verdict of `faults` for `change` of `at`.
async fn judged<F: BucketFaults, T>(
    faults: &F,
    change: Change,
    at: &Key,
    apply: impl std::future::Future<Output = object_store::Result<T>>,
) -> object_store::Result<T> {
    match faults.sending(change, at) {
        Verdict::Fail(m) => Err(injected(m)),
        Verdict::LoseReply(m) => {
            let r = apply.await;
            Err(injected(format!(
                "{m} (it was {})",
                if r.is_ok() { "applied" } else { "refused" }
            )))
        }
        Verdict::Pass => {
            let r = apply.await;
            faults.replied(change, at).map_err(injected)?;
            r
        }
    }
}

impl<F: BucketFaults> std::fmt::Debug for FaultyBucket<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultyBucket(InMemory)")
    }
}

impl<F: BucketFaults> std::fmt::Display for FaultyBucket<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultyBucket(InMemory)")
    }
}

#[async_trait]
impl<F: BucketFaults> ObjectStore for FaultyBucket<F> {
    async fn put_opts(
        &self,
        location: &Key,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let apply = self.inner.put_opts(location, payload, opts);
        judged(&*self.faults, Change::Put, location, apply).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Key,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        if let Verdict::Fail(m) | Verdict::LoseReply(m) =
            self.faults.sending(Change::Upload, location)
        {
            return Err(injected(m));
        }
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Key,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let now = self.reading.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_reading.fetch_max(now, Ordering::SeqCst);
        let wait = self.faults.read_delay(location);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let r = self.inner.get_opts(location, options).await;
        self.reading.fetch_sub(1, Ordering::SeqCst);
        r
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Key>>,
    ) -> BoxStream<'static, object_store::Result<Key>> {
        let (inner, faults) = (self.inner.clone(), self.faults.clone());
        Box::pin(locations.then(move |l| {
            let (inner, faults) = (inner.clone(), faults.clone());
            async move {
                let l = l?;
                let at = l.clone();
                let one = futures_util::stream::once(std::future::ready(Ok(l.clone()))).boxed();
                let apply = async move {
                    let mut out = inner.delete_stream(one);
                    out.next().await.unwrap_or(Ok(l))
                };
                judged(&*faults, Change::Delete, &at, apply).await
            }
        }))
    }

    fn list(&self, prefix: Option<&Key>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        if self.faults.listings_hidden() {
            return Box::pin(futures_util::stream::empty());
        }
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Key>,
        offset: &Key,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        if self.faults.listings_hidden() {
            return Box::pin(futures_util::stream::empty());
        }
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Key>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Key,
        to: &Key,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let apply = self.inner.copy_opts(from, to, options);
        judged(&*self.faults, Change::Copy, to, apply).await
    }
}
