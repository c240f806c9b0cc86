//! The Node.js binding of SOP, built with napi-rs. This crate is the native
//! half: classes that hold a database, a transaction and the stores and cursors
//! opened in it, with blocking (`get`) and Promise-returning (`getAsync`, run on
//! libuv's thread pool) methods. Keys and values of JSON stores cross the
//! boundary as JSON text; the package's `index.js` turns them into JavaScript
//! values (BigInt for integers beyond 2^53, `-0` kept) and maps the errors this
//! crate throws (`[CODE] message`) to `SopError` classes.

// napi-derive registers the exported functions only outside `cfg(test)`, so
// a test build of this crate sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod cursor;
mod db;
mod error;
mod job;
mod spec;
mod store;
mod tx;

/// The version of the SOP library this module was built from.
#[napi_derive::napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
