//! Results, the JSON report, and the text table.

use crate::engines::EngineInfo;
use crate::machine::Machine;
use serde::{Deserialize, Serialize};

/// One phase measured on one engine. A timed phase has `ms` and `ops_per_sec`; a size phase
/// has `bytes` (and `ms` when producing it took work, as compaction does). A swarm phase also
/// has `p50_ms`, `p99_ms`, `retry_rate`, `procs`, `txns` and the diagnostics `exec_ms_mean`,
/// `commit_ms_mean`, `foreign_records_per_txn`, `cpu_ms_per_txn`, `data_syncs_per_txn` and `dir_syncs_per_txn`. Fields a phase lacks are left out
/// of the JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PhaseResult {
    pub engine: String,
    pub phase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Median latency of one operation (swarm: a committed transaction, retries included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    /// 99th-percentile latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// Failed attempts per committed transaction (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_rate: Option<f64>,
    /// Writer processes (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procs: Option<u64>,
    /// Committed transactions of all writer processes (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txns: Option<u64>,
    /// Mean time of `begin` plus the writes, per attempt (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_ms_mean: Option<f64>,
    /// Mean time of `commit`, per attempt (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_ms_mean: Option<f64>,
    /// Log records of other processes each committed transaction caught up with (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_records_per_txn: Option<f64>,
    /// User + system CPU of the writer processes per committed transaction, opening the
    /// folder included (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_ms_per_txn: Option<f64>,
    /// File `fdatasync`s of the writer processes per committed transaction (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_syncs_per_txn: Option<f64>,
    /// Directory `fsync`s of the writer processes per committed transaction (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir_syncs_per_txn: Option<f64>,
    /// Minor page faults during the phase (`--breakdown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<u64>,
    /// With `--runs N` (N > 1): this cell's figure in each round (`ms` for a timed
    /// phase, `bytes` for a size phase), in round order; the cell holds the median.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<f64>,
}

/// One result per (engine, phase) out of several rounds of the same engines: the
/// round whose figure (`bytes` for a size phase, else `ms`) is the median (the lower
/// middle one for an even count), with every round's figure kept in `rounds`. One
/// round is returned as it is.
pub fn medians(rounds: Vec<Vec<PhaseResult>>) -> Vec<PhaseResult> {
    if rounds.len() <= 1 {
        return rounds.into_iter().next().unwrap_or_default();
    }
    let figure = |r: &PhaseResult| r.bytes.map(|b| b as f64).or(r.ms).unwrap_or(0.0);
    let mut out = Vec::new();
    for first in &rounds[0] {
        let mut same: Vec<&PhaseResult> = rounds
            .iter()
            .filter_map(|round| {
                round
                    .iter()
                    .find(|r| r.engine == first.engine && r.phase == first.phase)
            })
            .collect();
        let all: Vec<f64> = same.iter().map(|r| figure(r)).collect();
        same.sort_by(|a, b| figure(a).total_cmp(&figure(b)));
        let mut m = same[(same.len() - 1) / 2].clone();
        m.rounds = all;
        out.push(m);
    }
    out
}

/// The shape of a `swarm` run (what `count` does not say).
#[derive(Debug, Clone, Serialize)]
pub struct SwarmParams {
    /// Committed transactions per writer process in each phase.
    pub txns_per_process: u64,
    /// Upserts per transaction.
    pub writes_per_txn: u64,
    /// Share of writes that go to the hot keys in the `hot` phases.
    pub hot_fraction: f64,
    pub hot_keys: u64,
    /// Writer process counts, in the order measured.
    pub procs: Vec<usize>,
    /// Slot length of the benchmark store.
    pub slot_length: usize,
}

/// An engine named in `--engines` that the workload does not apply to.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedEngine {
    pub engine: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub workload: String,
    pub count: u64,
    /// Rounds run (`--runs`); each cell is the median of its rounds.
    pub runs: usize,
    /// Operations of the `mixed` phase (mixed workload only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops: Option<u64>,
    /// The shape of the run (swarm workload only; there `count` is the key space).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmParams>,
    pub machine: Machine,
    pub engines: Vec<EngineInfo>,
    /// Engines asked for but not run, with why (swarm runs on sop and sop-redis only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedEngine>,
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

    /// Whether any engine other than sop's own ran (otherwise there is no ratio to show).
    fn has_peer(&self) -> bool {
        self.engines.iter().any(|e| !e.engine.starts_with("sop"))
    }

    /// The text report: a header, one table (rows = phases, columns = engines, then the ratio of
    /// sop to the best peer when a peer ran) and each engine's settings.
    pub fn render(&self) -> String {
        let engines: Vec<&str> = self.engines.iter().map(|e| e.engine.as_str()).collect();
        let ratio = self.has_peer();
        let mut header = vec!["phase".to_string()];
        header.extend(engines.iter().map(|e| e.to_string()));
        if ratio {
            header.push("sop / best peer".to_string());
        }
        let mut rows = vec![header];
        for phase in self.phases() {
            let mut row = vec![phase.to_string()];
            for e in &engines {
                row.push(self.find(e, phase).map_or("-".to_string(), cell));
            }
            if ratio {
                row.push(self.ratio(phase));
            }
            rows.push(row);
        }

        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        let shape = match (&self.swarm, self.ops) {
            (Some(s), _) => format!(
                " keys, {} transactions per writer process of {} upserts each, hot phases: {}% of writes on {} keys, processes {}",
                s.txns_per_process,
                s.writes_per_txn,
                s.hot_fraction * 100.0,
                s.hot_keys,
                s.procs
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            (None, Some(o)) => format!(", ops {o}"),
            (None, None) => String::new(),
        };
        let shape = if self.runs > 1 {
            format!("{shape}; each cell the median of {} rounds", self.runs)
        } else {
            shape
        };
        out.push_str(&format!(
            "workload {}: count {}{}\nmachine: {} cores, {:.1} GiB, {}{}\n\n",
            self.workload,
            self.count,
            shape,
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
        out.push('\n');
        if ratio && self.runs > 1 {
            let led: Vec<String> = self
                .phases()
                .into_iter()
                .filter_map(|p| self.rounds_led(p).map(|(k, n)| format!("{p} {k} of {n}")))
                .collect();
            if !led.is_empty() {
                out.push_str(&format!(
                    "Rounds in which sop led every peer (each round's own figures; a median can hide a round run at a slow moment): {}.\n",
                    led.join(", ")
                ));
            }
        }
        if self.swarm.is_some() {
            out.push_str(
                "Swarm cells: committed transactions per second of all writer processes together; \
                 median and 99th-percentile latency of a committed transaction (first begin to \
                 commit Ok, retries included); failed attempts per committed transaction.\n",
            );
        } else {
            out.push_str(
                "Timed cells: wall time of the phase (begin and commit included) and operations per second.\n",
            );
            out.push_str("Size cells: bytes allocated on disk (as du counts them) by all files in the engine's directory.\n");
        }
        if !ratio {
            out.push_str("No peer engine ran, so there is no sop / best peer column.\n");
        }
        for s in &self.skipped {
            out.push_str(&format!("Skipped {}: {}\n", s.engine, s.reason));
        }
        out.push_str("\nEngines:\n");
        for e in &self.engines {
            out.push_str(&format!("- {}: {}; {}\n", e.engine, e.version, e.settings));
        }
        out
    }

    /// In how many of the rounds sop's figure beat every peer's of the same round
    /// (time or bytes: lower is better), out of how many; `None` without rounds or
    /// without a peer that ran in every round.
    fn rounds_led(&self, phase: &str) -> Option<(usize, usize)> {
        let n = self.runs;
        let sop = self.find("sop", phase).filter(|r| r.rounds.len() == n)?;
        let peers: Vec<&PhaseResult> = self
            .results
            .iter()
            .filter(|r| r.phase == phase && !r.engine.starts_with("sop") && r.rounds.len() == n)
            .collect();
        if peers.is_empty() {
            return None;
        }
        let led = (0..n)
            .filter(|&i| peers.iter().all(|p| sop.rounds[i] < p.rounds[i]))
            .count();
        Some((led, n))
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
    if let (Some(ops), Some(p50), Some(p99)) = (r.ops_per_sec, r.p50_ms, r.p99_ms) {
        let syncs = match (r.data_syncs_per_txn, r.dir_syncs_per_txn) {
            (Some(d), Some(s)) => format!(", syncs/txn {d:.2} + {s:.2} dir"),
            _ => String::new(),
        };
        return format!(
            "{} txn/s, p50 {}, p99 {}, retry rate {:.3}{syncs}",
            human_count(ops),
            human_ms(p50),
            human_ms(p99),
            r.retry_rate.unwrap_or(0.0)
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn result(engine: &str, phase: &str, rounds: &[f64]) -> PhaseResult {
        let ms = rounds[(rounds.len() - 1) / 2];
        PhaseResult {
            engine: engine.into(),
            phase: phase.into(),
            ms: Some(ms),
            ops_per_sec: Some(1000.0 / ms),
            rounds: rounds.to_vec(),
            ..Default::default()
        }
    }

    /// The text report says in how many rounds sop beat every peer, round by round
    /// (a peer that is best in one round and not in another counts in its round).
    #[test]
    fn rounds_led_compares_each_round() {
        let info = |e: &str| EngineInfo {
            engine: e.into(),
            version: String::new(),
            settings: String::new(),
        };
        let report = Report {
            workload: "w".into(),
            count: 1,
            runs: 3,
            ops: None,
            swarm: None,
            machine: Machine {
                cores: 2,
                memory_bytes: 1 << 30,
                os: "os".into(),
                cpu_model: None,
            },
            engines: vec![info("sop"), info("a"), info("b")],
            skipped: vec![],
            results: vec![
                result("sop", "insert", &[10.0, 30.0, 20.0]),
                result("a", "insert", &[12.0, 20.0, 25.0]),
                result("b", "insert", &[11.0, 40.0, 19.0]),
                result("sop", "read", &[5.0, 5.0, 5.0]),
                result("a", "read", &[6.0, 6.0, 6.0]),
            ],
        };
        assert_eq!(report.rounds_led("insert"), Some((1, 3)));
        assert_eq!(report.rounds_led("read"), Some((3, 3)));
        assert!(report
            .render()
            .contains("Rounds in which sop led every peer (each round's own figures; a median can hide a round run at a slow moment): insert 1 of 3, read 3 of 3."));
    }
}
