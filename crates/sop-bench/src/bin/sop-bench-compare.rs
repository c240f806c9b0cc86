//! `sop-bench-compare --before A.json... --after B.json...`: the JSON reports of
//! `sop-bench` runs of two builds (one round per file, or several), each (engine, phase)
//! as the median of each side and the change in %. `scripts/bench-before-after.sh` runs it.

use anyhow::{Context, Result};
use clap::Parser;
use sop_bench::report::PhaseResult;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "sop-bench-compare",
    about = "Medians of two builds' sop-bench reports, side by side"
)]
struct Cli {
    /// Reports of the build before (`sop-bench --json`).
    #[arg(long, num_args = 1.., required = true)]
    before: Vec<PathBuf>,
    /// Reports of the build after.
    #[arg(long, num_args = 1.., required = true)]
    after: Vec<PathBuf>,
}

/// Every round of every file: a file with `--runs N` contributes its median rows only.
fn rounds(files: &[PathBuf]) -> Result<Vec<Vec<PhaseResult>>> {
    #[derive(serde::Deserialize)]
    struct File {
        results: Vec<PhaseResult>,
    }
    files
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let f: File = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a sop-bench report", p.display()))?;
            Ok(f.results)
        })
        .collect()
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rows = sop_bench::compare::compare(rounds(&cli.before)?, rounds(&cli.after)?);
    print!("{}", sop_bench::compare::render(&rows));
    Ok(())
}
