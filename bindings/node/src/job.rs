//! Engine work run off the event loop: a closure computed on libuv's thread
//! pool, its result turned into a JavaScript value back on the main thread.

use crate::error::Result;
use napi::bindgen_prelude::{AsyncTask, Buffer, ToNapiValue, TypeName};
use napi::{Env, Task};

/// What a job computes, and how it becomes a JavaScript value.
pub trait IntoJs: Send + 'static {
    type Js: ToNapiValue + TypeName;
    fn into_js(self) -> Result<Self::Js>;
}

macro_rules! as_is {
    ($($t:ty),*) => {$(
        impl IntoJs for $t {
            type Js = $t;
            fn into_js(self) -> Result<$t> {
                Ok(self)
            }
        }
    )*};
}
as_is!(
    (),
    bool,
    u32,
    f64,
    String,
    Option<String>,
    Vec<Option<String>>
);

/// Bytes become a `Buffer` (created on the main thread).
pub struct Bytes(pub Vec<u8>);
impl IntoJs for Bytes {
    type Js = Buffer;
    fn into_js(self) -> Result<Buffer> {
        Ok(self.0.into())
    }
}
impl IntoJs for Option<Bytes> {
    type Js = Option<Buffer>;
    fn into_js(self) -> Result<Option<Buffer>> {
        Ok(self.map(|b| b.0.into()))
    }
}
impl IntoJs for Vec<Option<Bytes>> {
    type Js = Vec<Option<Buffer>>;
    fn into_js(self) -> Result<Vec<Option<Buffer>>> {
        Ok(self.into_iter().map(|b| b.map(|b| b.0.into())).collect())
    }
}
impl IntoJs for Vec<Bytes> {
    type Js = Vec<Buffer>;
    fn into_js(self) -> Result<Vec<Buffer>> {
        Ok(self.into_iter().map(|b| b.0.into()).collect())
    }
}

type Work<T> = Box<dyn FnOnce() -> Result<T> + Send>;

/// A closure to run on the thread pool.
pub struct Job<T: IntoJs> {
    work: Option<Work<T>>,
}

impl<T: IntoJs> Task for Job<T> {
    type Output = T;
    type JsValue = T::Js;
    fn compute(&mut self) -> Result<T> {
        match self.work.take() {
            Some(f) => f(),
            None => Err(crate::error::fail("OTHER", "a job ran twice")),
        }
    }
    fn resolve(&mut self, _env: Env, output: T) -> Result<T::Js> {
        output.into_js()
    }
}

/// A Promise of what `f` computes on the thread pool.
pub fn job<T: IntoJs>(f: impl FnOnce() -> Result<T> + Send + 'static) -> AsyncTask<Job<T>> {
    AsyncTask::new(Job {
        work: Some(Box::new(f)),
    })
}
