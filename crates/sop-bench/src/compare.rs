//! Before and after: the median of each (engine, phase) over the rounds of two builds, and
//! the change from one to the other (`sop-bench-compare`, run by
//! `scripts/bench-before-after.sh`).

use crate::report::{medians, PhaseResult};
use std::fmt::Write;

/// A slowdown beyond this share is flagged (issue 18's bar for a restructuring: 3%).
pub const FLAG_ABOVE: f64 = 0.03;

/// One (engine, phase) measured on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub engine: String,
    pub phase: String,
    /// The medians: `bytes` for a size row, `ms` otherwise.
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// A size row (bytes), not a timed one (ms).
    pub size: bool,
}

impl Row {
    /// After over before, less one: above 0 is slower (or larger).
    pub fn change(&self) -> Option<f64> {
        match (self.before, self.after) {
            (Some(b), Some(a)) if b > 0.0 => Some(a / b - 1.0),
            _ => None,
        }
    }
}

fn figure(r: &PhaseResult) -> (Option<f64>, bool) {
    match r.bytes {
        Some(b) => (Some(b as f64), true),
        None => (r.ms, false),
    }
}

/// Rows in the order of the first round of `after` (then what only `before` has).
pub fn compare(before: Vec<Vec<PhaseResult>>, after: Vec<Vec<PhaseResult>>) -> Vec<Row> {
    let (before, after) = (medians(before), medians(after));
    let find = |list: &[PhaseResult], r: &PhaseResult| {
        list.iter()
            .find(|x| x.engine == r.engine && x.phase == r.phase)
            .and_then(|x| figure(x).0)
    };
    let mut rows: Vec<Row> = after
        .iter()
        .map(|r| Row {
            engine: r.engine.clone(),
            phase: r.phase.clone(),
            before: find(&before, r),
            after: figure(r).0,
            size: figure(r).1,
        })
        .collect();
    for r in &before {
        if find(&after, r).is_none()
            && !rows
                .iter()
                .any(|x| x.engine == r.engine && x.phase == r.phase)
        {
            rows.push(Row {
                engine: r.engine.clone(),
                phase: r.phase.clone(),
                before: figure(r).0,
                after: None,
                size: figure(r).1,
            });
        }
    }
    rows
}

fn cell(x: Option<f64>, size: bool) -> String {
    match x {
        None => "-".to_string(),
        Some(b) if size => format!("{:.1} MiB", b / (1 << 20) as f64),
        Some(ms) if ms >= 100.0 => format!("{ms:.0} ms"),
        Some(ms) => format!("{ms:.2} ms"),
    }
}

/// The table: engine, phase, the two medians, the change (`!` where slower or larger by
/// more than [`FLAG_ABOVE`]).
pub fn render(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<12} {:<22} {:>14} {:>14} {:>9}",
        "engine", "phase", "before", "after", "change"
    );
    for r in rows {
        let (change, flag) = match r.change() {
            Some(c) => (
                format!("{:+.1}%", c * 100.0),
                if c > FLAG_ABOVE { " !" } else { "" },
            ),
            None => ("-".to_string(), ""),
        };
        let _ = writeln!(
            s,
            "{:<12} {:<22} {:>14} {:>14} {:>9}{flag}",
            r.engine,
            r.phase,
            cell(r.before, r.size),
            cell(r.after, r.size),
            change
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(engine: &str, phase: &str, ms: f64) -> PhaseResult {
        PhaseResult {
            engine: engine.into(),
            phase: phase.into(),
            ms: Some(ms),
            ..Default::default()
        }
    }

    #[test]
    fn medians_of_each_side_and_the_change() {
        let before = vec![
            vec![timed("sop", "insert", 10.0), timed("sop", "read", 5.0)],
            vec![timed("sop", "insert", 30.0), timed("sop", "read", 5.0)],
            vec![timed("sop", "insert", 20.0), timed("sop", "read", 5.0)],
        ];
        let after = vec![
            vec![timed("sop", "insert", 21.0), timed("sop", "new", 1.0)],
            vec![timed("sop", "insert", 23.0), timed("sop", "new", 1.0)],
            vec![timed("sop", "insert", 99.0), timed("sop", "new", 1.0)],
        ];
        let rows = compare(before, after);
        let insert = &rows[0];
        assert_eq!((insert.before, insert.after), (Some(20.0), Some(23.0)));
        assert!((insert.change().unwrap() - 0.15).abs() < 1e-9);
        assert_eq!(rows[1].phase, "new");
        assert_eq!(rows[1].before, None);
        assert_eq!(rows[2].phase, "read");
        assert_eq!(rows[2].after, None);
        let table = render(&rows);
        assert!(table.contains("+15.0% !"), "{table}");
        assert_eq!(table.lines().count(), 4);
    }

    #[test]
    fn a_size_row_compares_bytes() {
        let size = |b: u64| PhaseResult {
            engine: "sop".into(),
            phase: "size".into(),
            bytes: Some(b),
            ms: Some(1.0),
            ..Default::default()
        };
        let rows = compare(vec![vec![size(100)]], vec![vec![size(98)]]);
        assert!(rows[0].size);
        assert!((rows[0].change().unwrap() + 0.02).abs() < 1e-9);
        assert!(!render(&rows).contains('!'));
    }
}
