//! Runs every workload at a tiny size on redb (and sop and sop-redis when sop is compiled in;
//! sop-redis starts its own redis-server, which scripts/test.sh installs) through the
//! library entry point, and checks the JSON report: every phase for every engine, with
//! positive throughput for timed phases and positive sizes for size phases. `swarm` runs on
//! sop and sop-redis only (redb is asked for and skipped), its writers being processes of the
//! sop-bench binary.

use clap::Parser;
use serde_json::Value;

fn engines() -> Vec<&'static str> {
    if cfg!(feature = "sop-engine") {
        vec!["redb", "sop", "sop-redis"]
    } else {
        vec!["redb"]
    }
}

fn run(workload: &str, extra: &[&str]) -> Value {
    run_on(workload, &engines().join(","), &engines(), extra)
}

/// Runs `workload` with `--engines asked` and checks that the table names each of `shown`.
fn run_on(workload: &str, asked: &str, shown: &[&str], extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let data = dir.path().join("data");
    let mut argv = vec![
        "sop-bench",
        workload,
        "--count",
        "2000",
        "--cache-mb",
        "64",
        "--engines",
        asked,
        "--dir",
        data.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        // Each engine runs in a child process: this binary (sop-bench itself).
        "--writer-exe",
        env!("CARGO_BIN_EXE_sop-bench"),
    ];
    argv.extend_from_slice(extra);
    let args = sop_bench::Args::try_parse_from(argv).unwrap();
    let report = sop_bench::run(&args).unwrap();
    // The text table names every engine and phase too.
    let table = report.render();
    for e in shown {
        assert!(table.contains(e), "table lacks {e}:\n{table}");
    }
    let text = std::fs::read_to_string(&json).unwrap();
    // Each engine's directory was removed after its run.
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
    serde_json::from_str(&text).unwrap()
}

fn result<'a>(v: &'a Value, engine: &str, phase: &str) -> &'a Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["engine"] == engine && r["phase"] == phase)
        .unwrap_or_else(|| panic!("no result for {engine}/{phase}"))
}

fn check_header(v: &Value, workload: &str) {
    assert_eq!(v["workload"], workload);
    assert_eq!(v["count"], 2000);
    assert!(v["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(v["machine"]["memory_bytes"].as_u64().unwrap() > 0);
    assert!(v["machine"]["os"].as_str().is_some());
    let listed: Vec<&str> = v["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(!e["version"].as_str().unwrap().is_empty());
            assert!(e["settings"].as_str().unwrap().contains("durability"));
            e["engine"].as_str().unwrap()
        })
        .collect();
    assert_eq!(listed, engines());
}

fn check_timed(v: &Value, phases: &[&str]) {
    for e in engines() {
        for p in phases {
            let r = result(v, e, p);
            let ops = r["ops_per_sec"].as_f64().unwrap();
            assert!(ops > 0.0, "{e}/{p}: ops_per_sec {ops}");
            assert!(r["ms"].as_f64().unwrap() >= 0.0, "{e}/{p}: ms");
            assert!(
                r.get("bytes").is_none(),
                "{e}/{p}: a timed phase has no bytes"
            );
        }
    }
}

#[test]
fn sop_go() {
    let v = run("sop-go", &[]);
    check_header(&v, "sop-go");
    check_timed(&v, &["insert", "read", "delete"]);
}

/// `--in-process` runs the engines one after the other in this process, with the same report.
#[test]
fn sop_go_in_process() {
    let v = run("sop-go", &["--in-process"]);
    check_header(&v, "sop-go");
    check_timed(&v, &["insert", "read", "delete"]);
}

/// `--runs 3` runs every engine three times and reports, per cell, the median of
/// the three figures, all of which the JSON keeps.
#[test]
fn sop_go_in_rounds() {
    let v = run_on(
        "sop-go",
        "redb",
        &["redb", "median of 3 rounds"],
        &["--runs", "3"],
    );
    assert_eq!(v["runs"], 3);
    assert_eq!(
        v["results"].as_array().unwrap().len(),
        3,
        "one cell per phase"
    );
    for phase in ["insert", "read", "delete"] {
        let r = result(&v, "redb", phase);
        let mut all: Vec<f64> = r["rounds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(all.len(), 3);
        all.sort_by(f64::total_cmp);
        assert_eq!(r["ms"].as_f64().unwrap(), all[1], "{phase}: the median");
    }
}

/// A child process that fails makes the run fail, naming the engine.
#[test]
fn a_failing_engine_run_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let args = sop_bench::Args::try_parse_from([
        "sop-bench",
        "sop-go",
        "--count",
        "100",
        "--engines",
        "redb",
        "--dir",
        dir.path().to_str().unwrap(),
        // Not sop-bench: `false` exits with 1.
        "--writer-exe",
        "false",
    ])
    .unwrap();
    let err = format!("{:#}", sop_bench::run(&args).unwrap_err());
    assert!(err.contains("engine redb"), "{err}");
}

#[test]
fn redb_workload() {
    let v = run(
        "redb",
        &[
            "--individual-writes",
            "20",
            "--batch-txns",
            "5",
            "--batch-size",
            "100",
        ],
    );
    check_header(&v, "redb");
    check_timed(
        &v,
        &[
            "bulk_load",
            "individual_writes",
            "batch_writes",
            "len",
            "random_reads",
            "random_reads_2",
            "range_reads",
            "range_reads_2",
            "threaded_reads",
            "removals",
        ],
    );
    for e in engines() {
        let size = result(&v, e, "size");
        assert!(size["bytes"].as_u64().unwrap() > 0, "{e}: size");
        assert!(size.get("ops_per_sec").is_none());
    }
    // redb compacts; its compacted file is no larger than before.
    let before = result(&v, "redb", "size")["bytes"].as_u64().unwrap();
    let after = result(&v, "redb", "compacted_size")["bytes"]
        .as_u64()
        .unwrap();
    assert!(
        after > 0 && after <= before,
        "redb compacted {before} -> {after}"
    );
}

/// `--breakdown`: the commits of the one-transaction write phases alone (never longer than
/// their phase), page faults per timed phase, the latency of single-insert commits, and each
/// engine's peak memory; `--sop-owned-reads` reads through SOP's owning calls, and says so.
#[test]
fn breakdown_and_owned_reads() {
    let v = run(
        "redb",
        &[
            "--individual-writes",
            "20",
            "--batch-txns",
            "5",
            "--batch-size",
            "100",
            "--breakdown",
            "--sop-owned-reads",
        ],
    );
    check_header(&v, "redb");
    check_timed(
        &v,
        &[
            "bulk_load",
            "bulk_load_commit",
            "individual_writes_p50",
            "individual_writes_p99",
            "random_reads",
            "range_reads",
            "removals",
            "removals_commit",
        ],
    );
    for e in engines() {
        for phase in ["bulk_load", "removals"] {
            let whole = result(&v, e, phase)["ms"].as_f64().unwrap();
            let commit = result(&v, e, &format!("{phase}_commit"))["ms"]
                .as_f64()
                .unwrap();
            assert!(
                commit <= whole,
                "{e}/{phase}: commit {commit} of {whole} ms"
            );
        }
        let (p50, p99) = (
            result(&v, e, "individual_writes_p50")["ms"]
                .as_f64()
                .unwrap(),
            result(&v, e, "individual_writes_p99")["ms"]
                .as_f64()
                .unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99, "{e}: p50 {p50}, p99 {p99}");
        assert!(result(&v, e, "bulk_load")["faults"].as_u64().is_some());
        assert!(result(&v, e, "peak_rss")["bytes"].as_u64().unwrap() > 1 << 20);
    }
    if cfg!(feature = "sop-engine") {
        let sop = v["engines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["engine"] == "sop")
            .unwrap();
        assert!(sop["settings"]
            .as_str()
            .unwrap()
            .contains("owning get/range"));
    }
    // Without the flags, none of it.
    let plain = run("sop-go", &[]);
    for r in plain["results"].as_array().unwrap() {
        assert!(r.get("faults").is_none(), "{r}");
        let phase = r["phase"].as_str().unwrap();
        assert!(
            !phase.ends_with("_commit") && phase != "peak_rss",
            "{phase}"
        );
    }
    let split = run("sop-go", &["--breakdown"]);
    check_timed(
        &split,
        &["insert", "insert_commit", "read", "delete", "delete_commit"],
    );
}

#[test]
fn mixed() {
    let v = run("mixed", &["--ops", "2000"]);
    check_header(&v, "mixed");
    assert_eq!(v["ops"], 2000);
    check_timed(&v, &["load", "mixed"]);
}

/// The swarm workload on sop (Standalone) and sop-redis (Clustered, its own redis-server):
/// writer processes of the sop-bench binary, 1, 2, 4 and 8 of them, 3 transactions each. A
/// peer named in --engines is skipped, and says so.
#[cfg(feature = "sop-engine")]
#[test]
fn swarm() {
    let v = run_on(
        "swarm",
        "redb,sop,sop-redis",
        &["sop", "sop-redis", "Skipped redb"],
        &["--txns", "3"],
    );
    assert_eq!(v["workload"], "swarm");
    assert_eq!(v["count"], 2000);
    assert_eq!(v["swarm"]["txns_per_process"], 3);
    assert_eq!(v["swarm"]["procs"], serde_json::json!([1, 2, 4, 8]));
    let listed: Vec<&str> = v["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["settings"].as_str().unwrap().contains("durability"));
            e["engine"].as_str().unwrap()
        })
        .collect();
    assert_eq!(listed, ["sop", "sop-redis"]);
    assert_eq!(v["skipped"][0]["engine"], "redb");
    assert!(v["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("multi-process"));
    let phases = [
        "procs_1_uniform",
        "procs_1_hot",
        "procs_2_uniform",
        "procs_2_hot",
        "procs_4_uniform",
        "procs_4_hot",
        "procs_8_uniform",
        "procs_8_hot",
    ];
    assert_eq!(v["results"].as_array().unwrap().len(), 2 * phases.len());
    for e in ["sop", "sop-redis"] {
        for (p, procs) in phases.iter().zip([1, 1, 2, 2, 4, 4, 8, 8]) {
            let r = result(&v, e, p);
            assert_eq!(r["procs"], procs, "{e}/{p}");
            assert_eq!(r["txns"], 3 * procs, "{e}/{p}");
            assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{e}/{p}");
            assert!(r["ms"].as_f64().unwrap() > 0.0, "{e}/{p}");
            let (p50, p99) = (r["p50_ms"].as_f64().unwrap(), r["p99_ms"].as_f64().unwrap());
            assert!(0.0 < p50 && p50 <= p99, "{e}/{p}: p50 {p50}, p99 {p99}");
            assert!(r["retry_rate"].as_f64().unwrap() >= 0.0, "{e}/{p}");
            assert!(r.get("bytes").is_none(), "{e}/{p}");
            check_swarm_diagnostics(r, &format!("{e}/{p}"));
        }
    }
}

/// Where a swarm phase's time went: begin + writes and commit per attempt, records of
/// other processes caught up with, CPU per committed transaction.
#[cfg(feature = "sop-engine")]
fn check_swarm_diagnostics(r: &Value, what: &str) {
    for f in ["exec_ms_mean", "commit_ms_mean", "cpu_ms_per_txn"] {
        let x = r[f]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}: no {f} in {r}"));
        assert!(x > 0.0, "{what}: {f} = {x}");
    }
    let foreign = r["foreign_records_per_txn"].as_f64().unwrap();
    assert!(foreign >= 0.0, "{what}: foreign {foreign}");
    if r["procs"] == 1 {
        assert_eq!(
            foreign, 0.0,
            "{what}: one writer reads no one else's records"
        );
    }
}

/// `swarm --redis URL`: sop-redis on a Redis the harness did not start (here the test
/// Redis of scripts/test.sh, which the run must leave running), with the diagnostics.
#[cfg(feature = "sop-engine")]
#[test]
fn swarm_on_a_given_redis() {
    let url = sop_testkit::redis_url();
    let v = run_on(
        "swarm",
        "sop-redis",
        &["sop-redis"],
        &["--txns", "5", "--procs", "1,2", "--redis", &url],
    );
    assert!(
        v["engines"][0]["settings"]
            .as_str()
            .unwrap()
            .contains(&format!("the Redis at {url}")),
        "{}",
        v["engines"][0]
    );
    let phases: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["engine"], "sop-redis");
            assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
            check_swarm_diagnostics(r, r["phase"].as_str().unwrap());
            r["phase"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        phases,
        [
            "procs_1_uniform",
            "procs_1_hot",
            "procs_2_uniform",
            "procs_2_hot"
        ]
    );
    // The given Redis is not the harness's to stop.
    sop_testkit::redis_url();
}

/// swarm with only peers asked for: a clear error, not an empty report.
#[test]
fn swarm_refuses_peers_only() {
    let args =
        sop_bench::Args::try_parse_from(["sop-bench", "swarm", "--engines", "redb,lmdb"]).unwrap();
    let err = format!("{:#}", sop_bench::run(&args).unwrap_err());
    if cfg!(feature = "sop-engine") {
        assert!(err.contains("sop and sop-redis only"), "{err}");
    } else {
        assert!(err.contains("sop-engine"), "{err}");
    }
}

#[test]
fn unknown_engine_is_refused() {
    let args =
        sop_bench::Args::try_parse_from(["sop-bench", "sop-go", "--engines", "nosuch"]).unwrap();
    let err = sop_bench::run(&args).unwrap_err().to_string();
    assert!(err.contains("nosuch"), "{err}");
}
