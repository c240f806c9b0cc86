//! Test helpers shared by SOP's test suites.
//!
//! - [`SimVfs`] (module [`sim`]): an in-memory file system behind `sop::Vfs` that
//!   cuts the power, fails any single operation ([`Fault`]) or runs a hook before
//!   an operation ([`HookOp`]) to force an interleaving of threads;
//! - [`redis_url`]: the Redis that `scripts/test.sh` starts for the whole run
//!   (tests that need it fail, never skip, without it);
//! - [`OwnRedis`]: a Redis server owned by one test, which it can stop and start;
//! - [`faulty_bucket`]: an in-memory bucket that fails requests, loses replies
//!   and hides listings on demand;
//! - [`s3_proxy`]: the same faults (and 503s, and requests held past the
//!   client's timeout) in front of a real S3 server, as an HTTP proxy.

pub mod faulty_bucket;
pub mod s3_proxy;
pub mod sim;

pub use sim::{Fault, Hook, HookOp, SimVfs};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Redis the test command started. Tests that need it fail (never skip) without it.
pub fn redis_url() -> String {
    let url = std::env::var("SOP_TEST_REDIS_URL").expect(
        "SOP_TEST_REDIS_URL is not set: run the tests with scripts/test.sh, which installs and starts a private Redis",
    );
    let client = redis::Client::open(url.as_str()).expect("SOP_TEST_REDIS_URL is a Redis URL");
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("the test Redis at {url} does not answer: {e}"));
    let _: String = redis::cmd("PING")
        .query(&mut c)
        .unwrap_or_else(|e| panic!("the test Redis at {url}: {e}"));
    url
}

fn server_binary() -> String {
    std::env::var("SOP_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Redis server owned by one test: it can be stopped and started again on the same port.
pub struct OwnRedis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start() -> OwnRedis {
        let mut r = OwnRedis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        r.up();
        r
    }
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
    pub fn up(&mut self) {
        let child = Command::new(server_binary())
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.down();
    }
}

pub mod conformance;
