//! Results, the JSON report, and the text table.

use crate::engines::EngineInfo;
use crate::machine::Machine;
use serde::Serialize;

/// One phase measured on one engine. A timed phase has `ms` and `ops_per_sec`; a size phase
/// has `bytes` (and `ms` when producing it took work, as compaction does).
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    pub engine: String,
    pub phase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub workload: String,
    pub count: u64,
    /// Operations of the `mixed` phase (mixed workload only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops: Option<u64>,
    pub machine: Machine,
    pub engines: Vec<EngineInfo>,
    pub results: Vec<PhaseResult>,
}

impl Report {
    fn find(&self, engine: &str, phase: &str) -> Option<&PhaseResult> {
        self.results
            .iter()
            .find(|r| r.engine == engine && r.phase == phase)
    }

    /// Phases in the order they were first measured.
    pub fn phases(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for r in &self.results {
            if !v.contains(&r.phase.as_str()) {
                v.push(&r.phase);
            }
        }
        v
    }

    /// The text report: a header, one table (rows = phases, columns = engines, then the ratio of
    /// sop to the best peer) and each engine's settings.
    pub fn render(&self) -> String {
        let engines: Vec<&str> = self.engines.iter().map(|e| e.engine.as_str()).collect();
        let mut header = vec!["phase".to_string()];
        header.extend(engines.iter().map(|e| e.to_string()));
        header.push("sop / best peer".to_string());
        let mut rows = vec![header];
        for phase in self.phases() {
            let mut row = vec![phase.to_string()];
            for e in &engines {
                row.push(self.find(e, phase).map_or("-".to_string(), cell));
            }
            row.push(self.ratio(phase));
            rows.push(row);
        }

        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        out.push_str(&format!(
            "workload {}: count {}{}\nmachine: {} cores, {:.1} GiB, {}{}\n\n",
            self.workload,
            self.count,
            self.ops.map_or(String::new(), |o| format!(", ops {o}")),
            self.machine.cores,
            self.machine.memory_bytes as f64 / (1u64 << 30) as f64,
            self.machine.os,
            self.machine
                .cpu_model
                .as_ref()
                .map_or(String::new(), |m| format!(", {m}")),
        ));
        for (i, row) in rows.iter().enumerate() {
            let line: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, s)| {
                    if c == 0 {
                        format!("{s:<w$}", w = widths[c])
                    } else {
                        format!("{s:>w$}", w = widths[c])
                    }
                })
                .collect();
            out.push_str(&format!("| {} |\n", line.join(" | ")));
            if i == 0 {
                let rule: Vec<String> = widths
                    .iter()
                    .enumerate()
                    .map(|(c, w)| {
                        if c == 0 {
                            "-".repeat(*w)
                        } else {
                            format!("{}:", "-".repeat(w - 1))
                        }
                    })
                    .collect();
                out.push_str(&format!("| {} |\n", rule.join(" | ")));
            }
        }
        out.push_str(
            "\nTimed cells: wall time of the phase (begin and commit included) and operations per second.\n",
        );
        out.push_str("Size cells: bytes allocated on disk (as du counts them) by all files in the engine's directory.\n\nEngines:\n");
        for e in &self.engines {
            out.push_str(&format!("- {}: {}; {}\n", e.engine, e.version, e.settings));
        }
        out
    }

    /// sop's figure over the best peer's: throughput (higher is better) for timed phases,
    /// bytes (lower is better) for size phases.
    fn ratio(&self, phase: &str) -> String {
        let Some(sop) = self.find("sop", phase) else {
            return if self.engines.iter().any(|e| e.engine == "sop") {
                "n/a (not for sop)".to_string()
            } else {
                "n/a (sop not run)".to_string()
            };
        };
        let peers = self
            .results
            .iter()
            .filter(|r| r.phase == phase && !r.engine.starts_with("sop"));
        if let Some(s) = sop.ops_per_sec {
            let best = peers.filter_map(|r| r.ops_per_sec).fold(f64::NAN, f64::max);
            if best.is_nan() || best <= 0.0 {
                return "n/a (no peer)".to_string();
            }
            format!("{:.2}x (higher is better)", s / best)
        } else if let Some(b) = sop.bytes {
            let best = peers.filter_map(|r| r.bytes).min();
            match best {
                Some(best) if best > 0 => {
                    format!("{:.2}x (lower is better)", b as f64 / best as f64)
                }
                _ => "n/a (no peer)".to_string(),
            }
        } else {
            "-".to_string()
        }
    }
}

fn cell(r: &PhaseResult) -> String {
    match (r.ms, r.ops_per_sec, r.bytes) {
        (Some(ms), Some(ops), _) => format!("{} ({}/s)", human_ms(ms), human_count(ops)),
        (ms, None, Some(b)) => match ms {
            Some(ms) => format!("{} (in {})", human_bytes(b), human_ms(ms)),
            None => human_bytes(b),
        },
        (Some(ms), None, None) => human_ms(ms),
        _ => "-".to_string(),
    }
}

pub fn human_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

pub fn human_count(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}K", x / 1e3)
    } else {
        format!("{x:.1}")
    }
}

pub fn human_bytes(b: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    if b >= 1 << 30 {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    } else if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / MIB)
    } else {
        format!("{:.1} KiB", b as f64 / 1024.0)
    }
}
