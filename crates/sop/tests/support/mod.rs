//! Shared test helpers (see the sop-testkit crate).
#![allow(unused_imports)]

pub use sop_testkit::{redis_url, OwnRedis};
