//! The native module of the Python package `sop` (`sop._sop`): PyO3 classes over
//! the `sop` crate. The package's `__init__.py` re-exports them with the
//! exceptions of `sop._errors`. Engine work runs with the GIL released.

use pyo3::prelude::*;

mod convert;
mod db;
mod errors;
mod fork;
mod range;
mod store;
mod tx;

#[pymodule]
fn _sop(m: &Bound<'_, PyModule>) -> PyResult<()> {
    fork::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(db::open, m)?)?;
    m.add_class::<db::PyDatabase>()?;
    m.add_class::<tx::PyTransaction>()?;
    m.add_class::<store::PyStore>()?;
    m.add_class::<range::PyRange>()?;
    Ok(())
}
