//! Key specs and store options given as text.

use crate::error::{engine, invalid, Result};
use sop::{IndexSpec, StoreOptions};

/// A key spec: its JSON form, or the short form `field[:asc|:desc],...`.
pub(crate) fn parse_spec(text: &str) -> Result<IndexSpec> {
    let t = text.trim();
    if t.starts_with(['[', '{', '"']) {
        return IndexSpec::parse(t).map_err(|e| engine(sop::Error::Codec(e)));
    }
    IndexSpec::parse_short(text).map_err(|e| invalid(e.0))
}

/// Store options from their JSON text (`{"unique":true,"slot_length":500}`).
pub(crate) fn store_options(json: Option<&str>) -> Result<StoreOptions> {
    let Some(text) = json else {
        return Ok(StoreOptions::default());
    };
    serde_json::from_str(text).map_err(|e| invalid(format!("invalid store options {text}: {e}")))
}
