//! `sop job submit|status|list|result|cancel`: jobs released into the swarm.

use super::swarm_common::{lift, open};
use crate::args::{json_arg, Cli, JobCmd};
use crate::output::{emit, failure};
use anyhow::Result;
use serde_json::json;
use sop_swarm::{Job, JobFilter, JobState, Limits, SubmitOptions};

pub fn run(cli: &Cli, cmd: &JobCmd) -> Result<()> {
    let swarm = open(cli, Limits::default())?;
    match cmd {
        JobCmd::Submit {
            script,
            args,
            key,
            priority,
            not_before,
            max_attempts,
            queue,
            after,
        } => {
            let args = json_arg("--args", args)?;
            let opts = SubmitOptions {
                key: key.clone(),
                priority: *priority,
                not_before_ms: *not_before,
                max_attempts: *max_attempts,
                queue: queue.clone(),
                after: after.clone(),
                ..SubmitOptions::default()
            };
            let (id, created) = lift(swarm.submit(script, args, &opts))?;
            emit(cli.json, &id, json!({"id": id, "created": created}));
        }
        JobCmd::Status { id } => {
            let job = lift(swarm.job(id))?;
            if cli.json {
                println!("{}", job.to_json());
            } else {
                print_status(&job);
            }
        }
        JobCmd::List {
            state,
            queue,
            limit,
        } => {
            let filter = JobFilter {
                state: state.map(JobState::from),
                queue: queue.clone(),
                script: None,
                limit: *limit,
            };
            for job in lift(swarm.jobs(&filter))? {
                if cli.json {
                    println!("{}", job.to_json());
                } else {
                    println!(
                        "{}\t{}\t{}\tattempts {}/{}",
                        job.id, job.state, job.script, job.attempts, job.max_attempts
                    );
                }
            }
        }
        JobCmd::Result { id } => {
            let job = lift(swarm.job(id))?;
            match (&job.state, &job.result) {
                (JobState::Done, Some(r)) => emit(cli.json, r, json!({"result": r})),
                _ => {
                    return Err(failure(
                        "bad_state",
                        format!("job {id} is {}: it has no result", job.state),
                    ))
                }
            }
        }
        JobCmd::Cancel { id } => {
            lift(swarm.cancel(id))?;
            emit(cli.json, "cancelled", json!({"cancelled": true}));
        }
    }
    Ok(())
}

fn print_status(job: &Job) {
    println!("job {}", job.id);
    println!("  script    {}", job.script);
    println!("  state     {}", job.state);
    println!("  attempts  {} of {}", job.attempts, job.max_attempts);
    println!("  queue     {} (priority {})", job.queue, job.priority);
    if let Some(k) = &job.key {
        println!("  key       {k}");
    }
    if let Some(l) = &job.lease {
        println!(
            "  lease     {} (attempt {}, until {} ms)",
            l.owner, l.attempt, l.deadline_ms
        );
    }
    if !job.after.is_empty() {
        println!("  after     {}", job.after.join(", "));
    }
    for e in &job.errors {
        println!("  attempt {} failed on {}: {}", e.attempt, e.owner, e.error);
    }
}
