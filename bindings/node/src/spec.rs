//! Key specs and store options given as text.

use crate::error::{engine, invalid, Result};
use sop::{IndexField, IndexSpec, SortOrder, StoreOptions};

/// A key spec: its JSON form, or the short form `field[:asc|:desc],...`.
pub(crate) fn parse_spec(text: &str) -> Result<IndexSpec> {
    let t = text.trim();
    if t.starts_with(['[', '{', '"']) {
        return IndexSpec::parse(t).map_err(|e| engine(sop::Error::Codec(e)));
    }
    let mut fields = Vec::new();
    for part in t.split(',') {
        let (field, order) = match part.rsplit_once(':') {
            Some((f, "asc")) => (f, SortOrder::Asc),
            Some((f, "desc")) => (f, SortOrder::Desc),
            Some((_, o)) => {
                return Err(invalid(format!(
                    "invalid key spec {text:?}: order {o:?} is neither asc nor desc"
                )))
            }
            None => (part, SortOrder::Asc),
        };
        fields.push(IndexField {
            field: field.trim().to_string(),
            order,
        });
    }
    let spec = IndexSpec { fields };
    spec.validate()
        .map_err(|e| invalid(format!("{e} (in {text:?})")))?;
    Ok(spec)
}

/// Store options from their JSON text (`{"unique":true,"slot_length":500}`).
pub(crate) fn store_options(json: Option<&str>) -> Result<StoreOptions> {
    let Some(text) = json else {
        return Ok(StoreOptions::default());
    };
    serde_json::from_str(text).map_err(|e| invalid(format!("invalid store options {text}: {e}")))
}
