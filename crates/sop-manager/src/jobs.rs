//! Maintenance jobs (admin): stats, check, recover, reclaim, compact, run on a
//! blocking thread; the page polls `GET /api/jobs/{id}` for their state.
//!
//! The engine reports no progress inside one maintenance call, so a job's
//! progress is its state (`running` with the seconds so far, then `done` or
//! `failed` with the engine's report).

use crate::error::{ApiError, ApiResult};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

struct Job {
    kind: String,
    db: String,
    started: Instant,
    finished: Option<Instant>,
    state: &'static str,
    result: Value,
}

#[derive(Default)]
pub(crate) struct Jobs {
    next: Mutex<u64>,
    jobs: Arc<Mutex<HashMap<u64, Job>>>,
}

/// The kinds of maintenance job.
pub(crate) const KINDS: [&str; 5] = ["stats", "check", "recover", "reclaim", "compact"];

impl Jobs {
    /// Start a job; its id.
    pub(crate) fn start(&self, kind: &str, db_name: &str, db: sop::Database) -> ApiResult<u64> {
        if !KINDS.contains(&kind) {
            return Err(ApiError::bad_request(format!(
                "unknown job kind {kind:?}: one of {}",
                KINDS.join(", ")
            )));
        }
        let id = {
            let mut n = self.next.lock();
            *n += 1;
            *n
        };
        self.jobs.lock().insert(
            id,
            Job {
                kind: kind.to_string(),
                db: db_name.to_string(),
                started: Instant::now(),
                finished: None,
                state: "running",
                result: Value::Null,
            },
        );
        let jobs = self.jobs.clone();
        let kind = kind.to_string();
        tokio::task::spawn_blocking(move || {
            let r: sop::Result<Value> = (|| {
                Ok(match kind.as_str() {
                    "stats" => serde_json::to_value(db.stats()?).unwrap_or_default(),
                    "check" => {
                        let r = db.check()?;
                        json!({"ok": r.is_ok(), "report": format!("{r:?}")})
                    }
                    "recover" => json!({"report": format!("{:?}", db.recover()?)}),
                    "reclaim" => json!({"report": format!("{:?}", db.reclaim()?)}),
                    _ => json!({"report": format!("{:?}", db.compact()?)}),
                })
            })();
            if let Some(j) = jobs.lock().get_mut(&id) {
                j.finished = Some(Instant::now());
                match r {
                    Ok(v) => {
                        j.state = "done";
                        j.result = v;
                    }
                    Err(e) => {
                        j.state = "failed";
                        j.result = json!({"error": e.to_string()});
                    }
                }
            }
        });
        Ok(id)
    }

    /// A job's state.
    pub(crate) fn get(&self, id: u64) -> ApiResult<Value> {
        let jobs = self.jobs.lock();
        let j = jobs
            .get(&id)
            .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
        let secs = j.finished.unwrap_or_else(Instant::now) - j.started;
        Ok(
            json!({"id": id, "kind": j.kind, "db": j.db, "state": j.state,
                  "seconds": secs.as_secs_f64(), "result": j.result}),
        )
    }
}
