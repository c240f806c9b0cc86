//! The object store backend (`Registry::S3`) under the conformance suite.
//!
//! The suite cuts the power and fails single operations of the simulated disk
//! (`SimVfs`). A database in a bucket does nearly nothing on the disk, so the
//! bucket here is an in-memory object store behind a gate that the same faults
//! close: every request that changes the bucket (a PUT, a DELETE) passes the
//! gate twice, once before it is sent and once when its reply arrives, and
//! each pass is an operation of the simulated disk (a sync of its root). A
//! power cut at the first pass stops the request before it is sent; at the
//! second, after the store applied it and before the reply (a lost reply); an
//! I/O error fails the request the same two ways. The bucket outlives every
//! crash image, as a real bucket outlives the process. Reads are not gated.
//!
//! The real server runs under crates/sop/tests/s3.rs.

use super::Backend;
use crate::faulty_bucket::{BucketFaults, Change, FaultyBucket, Verdict};
use parking_lot::Mutex;
use sop::test_hooks::object_store::{memory::InMemory, path::Path as Key, ObjectStore};
use sop::{DbOptions, Vfs};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The simulated disk of the database being opened: its faults gate the bucket.
#[derive(Default)]
struct Gate {
    vfs: Mutex<Option<Arc<dyn Vfs>>>,
}

impl Gate {
    fn pass(&self, at: &Key, when: &str) -> Result<(), String> {
        let vfs = self.vfs.lock().clone();
        match vfs {
            Some(v) => v
                .sync_dir(Path::new("/"))
                .map_err(|e| format!("{when} {at}: {e}")),
            None => Ok(()),
        }
    }
}

impl BucketFaults for Gate {
    fn sending(&self, change: Change, at: &Key) -> Verdict {
        match self.pass(at, &format!("sending {change:?} of")) {
            Ok(()) => Verdict::Pass,
            Err(e) => Verdict::Fail(e),
        }
    }

    fn replied(&self, change: Change, at: &Key) -> Result<(), String> {
        self.pass(at, &format!("reply to {change:?} of"))
    }
}

/// A whole database in a bucket (`Registry::S3`), the bucket an in-memory
/// object store in this process behind the gate of the module docs. Every new
/// database gets a prefix of its own.
pub struct ObjectStoreBackend {
    name: String,
    store: Arc<InMemory>,
    gate: Arc<Gate>,
    n: AtomicU64,
}

impl ObjectStoreBackend {
    /// A new in-memory bucket, registered under a name of its own.
    pub fn in_memory() -> Self {
        let name = format!("conformance-{:016x}", fastrand::u64(..));
        let store = Arc::new(InMemory::new());
        let gate = Arc::new(Gate::default());
        sop::test_hooks::register_object_store(
            &name,
            Arc::new(FaultyBucket::new(store.clone(), gate.clone())),
        );
        ObjectStoreBackend {
            name,
            store,
            gate,
            n: AtomicU64::new(0),
        }
    }

    fn prefix(&self) -> String {
        format!("db{}", self.n.load(Ordering::SeqCst))
    }
}

impl Backend for ObjectStoreBackend {
    fn name(&self) -> &str {
        "object store"
    }

    fn options(&self, base: DbOptions) -> DbOptions {
        *self.gate.vfs.lock() = base.vfs.clone();
        let mut b = sop::S3Bucket::new(format!("memory://{}/{}", self.name, self.prefix()));
        b.timeout_ms = 10_000;
        DbOptions {
            exclusive: false,
            registry: Some(sop::Registry::S3(b)),
            ..base
        }
    }

    fn fresh_database(&self) {
        self.n.fetch_add(1, Ordering::SeqCst);
    }

    fn count_blobs(&self, _: &Path, store: u64) -> usize {
        use futures_util::StreamExt;
        let prefix = Key::from(format!("{}/blobs/{store:016x}", self.prefix()));
        let store = self.store.clone();
        futures_executor_block_on(async move { store.list(Some(&prefix)).count().await })
    }

    fn settles_lost_replies(&self) -> bool {
        true
    }
}

/// Run a future to completion on this thread (the in-memory store's futures
/// need no runtime).
fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Nop;
    impl Wake for Nop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Nop));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
