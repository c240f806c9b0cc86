//! The audit log: one JSON line per write (who, when, from where, what).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) struct Audit {
    file: Option<Mutex<File>>,
}

impl Audit {
    pub(crate) fn open(path: Option<&Path>) -> ApiResult<Audit> {
        let file = match path {
            None => None,
            Some(p) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| {
                        ApiError::bad_request(format!(
                            "cannot open the audit log {}: {e}",
                            p.display()
                        ))
                    })?,
            )),
        };
        Ok(Audit { file })
    }

    /// Record a write: `action` on `db`/`store`, with details. Called after
    /// the write succeeded (and for refused logins, with `ok: false`).
    pub(crate) fn write(&self, who: &Caller, action: &str, db: &str, store: &str, detail: Value) {
        let line = json!({
            "time": now_rfc3339(),
            "user": who.name,
            "role": who.role.as_str(),
            "action": action,
            "db": db,
            "store": store,
            "detail": detail,
        });
        tracing::info!(target: "sop_manager::audit", "{line}");
        if let Some(f) = &self.file {
            let mut f = f.lock();
            if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
                tracing::error!("cannot write the audit log: {e}");
            }
        }
    }
}

/// Now, as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}
