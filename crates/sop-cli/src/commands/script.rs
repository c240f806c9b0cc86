//! `sop script put|list|show|run|delete`: scripts stored in the database.

use super::swarm_common::{lift, open, open_with};
use crate::args::{json_arg, Cli, ScriptCmd};
use crate::output::emit;
use anyhow::{Context, Result};
use serde_json::json;
use sop_swarm::Limits;
use std::io::Read;

pub fn run(cli: &Cli, cmd: &ScriptCmd) -> Result<()> {
    match cmd {
        ScriptCmd::Put { name, file } => {
            let source = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("cannot read standard input")?;
                s
            } else {
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let swarm = open(cli, Limits::default())?;
            let version = lift(swarm.put_script(name, &source))?;
            emit(
                cli.json,
                format!("saved script {name} version {version}"),
                json!({"name": name, "version": version}),
            );
        }
        ScriptCmd::List => {
            let swarm = open(cli, Limits::default())?;
            let list = lift(swarm.scripts())?;
            if cli.json {
                println!("{}", serde_json::to_value(&list)?);
            } else if list.is_empty() {
                println!("no scripts");
            } else {
                for s in list {
                    println!("{}\tversion {}\t({} kept)", s.name, s.latest, s.versions);
                }
            }
        }
        ScriptCmd::Show { name, version } => {
            let swarm = open(cli, Limits::default())?;
            let s = lift(swarm.script(name, *version))?;
            if cli.json {
                println!("{}", serde_json::to_value(&s)?);
            } else {
                print!("{}", s.source);
                if !s.source.ends_with('\n') {
                    println!();
                }
            }
        }
        ScriptCmd::Run {
            name,
            args,
            version,
            limits,
        } => {
            let args = json_arg("--args", args)?;
            let swarm = open_with(cli, lift(limits.options())?)?;
            let result = lift(swarm.run_script(name, *version, &args))?;
            emit(cli.json, &result, json!({"result": result}));
        }
        ScriptCmd::Delete { name, version } => {
            let swarm = open(cli, Limits::default())?;
            let n = lift(swarm.delete_script(name, *version))?;
            emit(
                cli.json,
                format!(
                    "deleted {n} version{} of script {name}",
                    if n == 1 { "" } else { "s" }
                ),
                json!({"deleted": n}),
            );
        }
    }
    Ok(())
}
