//! Maintenance jobs (admin): stats, check, recover, reclaim, compact, run on a
//! blocking thread; the page polls `GET /api/jobs/{id}` for their state.
//!
//! `check`, `compact` and `reclaim` report progress through the engine's
//! [`sop::Progress`] (items verified of all items; planned moves done of those
//! planned so far; steps: a store's live records gathered, then the dead ones
//! retired); `stats` and `recover` are short and report only their state. A job is `running` (with its seconds so far and its
//! progress), then `done` or `failed` with the engine's report.
//!
//! A job runs in the process that started it. When sessions are shared (a
//! Clustered database's Redis), that process also publishes the job's state
//! there (`j:{id}`, every half second while it runs, and once at the end;
//! kept a day), so `GET /api/jobs/{id}` answers on every server. Each
//! publication carries the time it was made (`heartbeat_ms`, Unix ms): a
//! running job not published for [`LOST_AFTER`] is answered as `lost` (the
//! server running it died or was cut off; maintenance calls are safe to run
//! again, so the user starts it again). Ids are
//! random (below 2^53, exact in JavaScript), so servers never reuse each
//! other's. The engine work itself is safe from any number of processes.

use crate::error::{ApiError, ApiResult};
use crate::sessions::Kv;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Job {
    kind: String,
    db: String,
    started: Instant,
    finished: Option<Instant>,
    state: &'static str,
    result: Value,
    progress: Arc<sop::Progress>,
}

#[derive(Default)]
pub(crate) struct Jobs {
    jobs: Arc<Mutex<HashMap<u64, Job>>>,
}

/// How long a finished job's state stays in the shared store.
const KEEP: Duration = Duration::from_secs(24 * 3600);

/// A running job whose shared state is older than this is reported `lost`
/// (it is published every half second while it runs).
const LOST_AFTER: Duration = Duration::from_secs(5);

/// Now, in milliseconds since the Unix epoch (the servers' clocks are
/// compared only against [`LOST_AFTER`], far above their usual skew).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A job's state read from the shared store, as of `now_ms`: `lost` if it
/// says running but its last publication is older than [`LOST_AFTER`].
fn judged(mut v: Value, now_ms: u64) -> Value {
    let beat = v["heartbeat_ms"].as_u64().unwrap_or(0);
    if v["state"] == "running" && now_ms.saturating_sub(beat) > LOST_AFTER.as_millis() as u64 {
        v["state"] = json!("lost");
        v["result"] = json!({"error": "the server running this job stopped reporting it (it died or lost Redis); what it did is safe to keep, and the job safe to start again"});
    }
    v
}

/// The kinds of maintenance job.
pub(crate) const KINDS: [&str; 5] = ["stats", "check", "recover", "reclaim", "compact"];

impl Jobs {
    /// Start a job; its id.
    pub(crate) fn start(
        &self,
        kind: &str,
        db_name: &str,
        db: sop::Database,
        shared: Option<(Arc<dyn Kv>, String)>,
    ) -> ApiResult<u64> {
        if !KINDS.contains(&kind) {
            return Err(ApiError::bad_request(format!(
                "unknown job kind {kind:?}: one of {}",
                KINDS.join(", ")
            )));
        }
        let progress = Arc::new(sop::Progress::new());
        let id = loop {
            let id = rand::random::<u64>() & ((1 << 53) - 1);
            if id != 0 && !self.jobs.lock().contains_key(&id) {
                break id;
            }
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
                progress: progress.clone(),
            },
        );
        let jobs = self.jobs.clone();
        let kind = kind.to_string();
        tokio::task::spawn_blocking(move || {
            let r: sop::Result<Value> = (|| {
                Ok(match kind.as_str() {
                    "stats" => serde_json::to_value(db.stats()?).unwrap_or_default(),
                    "check" => {
                        let r = db.check_with_progress(&progress)?;
                        json!({"ok": r.is_ok(), "report": format!("{r:?}")})
                    }
                    "recover" => json!({"report": format!("{:?}", db.recover()?)}),
                    "reclaim" => {
                        json!({"report": format!("{:?}", db.reclaim_with_progress(&progress)?)})
                    }
                    _ => {
                        let o = sop::CompactOptions::default();
                        json!({"report": format!("{:?}", db.compact_with_progress(&o, &progress)?)})
                    }
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
        if let Some((kv, prefix)) = shared {
            let jobs = self.jobs.clone();
            tokio::spawn(async move {
                let key = format!("{prefix}j:{id}");
                loop {
                    let Ok(mut v) = state(&jobs.lock(), id) else {
                        return;
                    };
                    v["heartbeat_ms"] = json!(unix_ms());
                    let running = v["state"] == "running";
                    let (kv, key) = (kv.clone(), key.clone());
                    let _ = tokio::task::spawn_blocking(move || {
                        kv.set(&key, &v.to_string(), KEEP, false)
                    })
                    .await;
                    if !running {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
        Ok(id)
    }

    /// A job's state: this process's, else the shared store's.
    pub(crate) fn get(&self, id: u64, shared: Option<(Arc<dyn Kv>, String)>) -> ApiResult<Value> {
        if let Ok(v) = state(&self.jobs.lock(), id) {
            return Ok(v);
        }
        if let Some((kv, prefix)) = shared {
            if let Some(text) = kv.get(&format!("{prefix}j:{id}"))? {
                let v: Value = serde_json::from_str(&text)
                    .map_err(|e| ApiError::internal(format!("job {id}: {e}")))?;
                return Ok(judged(v, unix_ms()));
            }
        }
        Err(ApiError::not_found(format!("no job {id}")))
    }
}

/// The state of job `id` in `jobs`.
fn state(jobs: &HashMap<u64, Job>, id: u64) -> ApiResult<Value> {
    {
        let j = jobs
            .get(&id)
            .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
        let secs = j.finished.unwrap_or_else(Instant::now) - j.started;
        let unit = match j.kind.as_str() {
            "check" => Some("items"),
            "compact" => Some("moves"),
            "reclaim" => Some("steps"),
            _ => None,
        };
        let progress = unit.map(|u| {
            let (done, total) = (j.progress.done(), j.progress.total());
            let fraction = if j.state != "running" {
                1.0
            } else if total > 0 {
                (done as f64 / total as f64).min(1.0)
            } else {
                0.0
            };
            json!({"done": done, "total": total, "unit": u, "fraction": fraction})
        });
        Ok(
            json!({"id": id, "kind": j.kind, "db": j.db, "state": j.state,
                  "seconds": secs.as_secs_f64(), "progress": progress, "result": j.result}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_job_not_published_for_a_while_is_lost() {
        let running =
            |beat: u64| json!({"id": 7, "state": "running", "heartbeat_ms": beat, "result": null});
        let now = 1_000_000;
        assert_eq!(judged(running(now - 400), now)["state"], "running");
        assert_eq!(judged(running(now - 4_900), now)["state"], "running");
        let lost = judged(running(now - 5_100), now);
        assert_eq!(lost["state"], "lost");
        assert!(lost["result"]["error"]
            .as_str()
            .unwrap()
            .contains("stopped reporting"));
        // A finished job stays as it ended, however old.
        let done = json!({"id": 7, "state": "done", "heartbeat_ms": 0, "result": {"ok": true}});
        assert_eq!(judged(done.clone(), now), done);
        // A state published before heartbeats existed (no field) and running: lost.
        assert_eq!(judged(json!({"state": "running"}), now)["state"], "lost");
    }
}
