//! The benchmarks' report: figures judged against their targets, the machine and the workspace
//! they ran on, and the figure table for the terminal.
//!
//! `bench-store` and `bench-sync` both collect their measurements as [`Figure`]s in a
//! [`Report`], write them out with [`Figure::to_json`] inside their own JSON document, print
//! their own header and sections around [`write_figure_table`], and hand both to
//! [`print_report`]. A figure's result is `PASS`, `MISS (statistics)` or `info` (no target).

use crate::measure::{Summary, summarize};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// How a figure compares with its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Target {
    /// Strictly below.
    Below(f64),
    /// At most.
    AtMost(f64),
    /// At least.
    AtLeast(f64),
}

impl Target {
    fn ok(self, v: f64) -> bool {
        match self {
            Target::Below(t) => v < t,
            Target::AtMost(t) => v <= t,
            Target::AtLeast(t) => v >= t,
        }
    }

    pub(crate) fn text(self, unit: &str) -> String {
        match self {
            Target::Below(t) => format!("<{}{unit}", fmt_val(t, unit)),
            Target::AtMost(t) => format!("≤{}{unit}", fmt_val(t, unit)),
            Target::AtLeast(t) => format!("≥{}{unit}", fmt_val(t, unit)),
        }
    }

    fn limit(self) -> f64 {
        match self {
            Target::Below(t) | Target::AtMost(t) | Target::AtLeast(t) => t,
        }
    }
}

/// The statistics a figure is judged on.
pub(crate) const P50: &[&str] = &["p50"];
pub(crate) const P99: &[&str] = &["p99"];
pub(crate) const MAX: &[&str] = &["max"];
pub(crate) const P50_P90: &[&str] = &["p50", "p90"];
pub(crate) const P50_P90_P99: &[&str] = &["p50", "p90", "p99"];

/// One reported figure.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) unit: &'static str,
    pub(crate) summary: Summary,
    pub(crate) target: Option<Target>,
    /// Which statistics must meet the target.
    pub(crate) judged: &'static [&'static str],
    /// Whether a miss counts against the benchmark; the others are printed as "(extra)".
    pub(crate) required: bool,
    pub(crate) extra: Value,
}

impl Figure {
    pub(crate) fn stat(&self, name: &str) -> f64 {
        match name {
            "p50" => self.summary.p50,
            "p90" => self.summary.p90,
            "p99" => self.summary.p99,
            "mean" => self.summary.mean,
            _ => self.summary.max,
        }
    }

    /// `None` without a target; otherwise the judged statistics that miss it.
    pub(crate) fn misses(&self) -> Option<Vec<&'static str>> {
        let t = self.target?;
        Some(
            self.judged
                .iter()
                .copied()
                .filter(|s| self.stat(s).is_nan() || !t.ok(self.stat(s)))
                .collect(),
        )
    }

    /// Whether the figure is required and misses its target.
    pub(crate) fn missed(&self) -> bool {
        self.required && self.misses().is_some_and(|m| !m.is_empty())
    }

    pub(crate) fn result(&self) -> String {
        match self.misses() {
            None => "info".into(),
            Some(m) if m.is_empty() => "PASS".into(),
            Some(m) => format!("MISS ({})", m.join(",")),
        }
    }

    /// Marks the figure as required or as an extra (see [`Figure::required`]).
    pub(crate) fn required(&mut self, required: bool) {
        self.required = required;
    }

    pub(crate) fn to_json(&self) -> Value {
        let s = &self.summary;
        json!({
            "id": self.id, "label": self.label, "unit": self.unit, "n": s.n,
            "min": s.min, "p50": s.p50, "p90": s.p90, "p99": s.p99, "max": s.max, "mean": s.mean,
            "target": self.target.map(Target::limit),
            "target_text": self.target.map(|t| t.text(self.unit)),
            "judged_on": self.judged, "required": self.required,
            "result": self.result(), "detail": self.extra,
        })
    }
}

/// The figures of a run, and the sections of detail its JSON carries beside them.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) figures: Vec<Figure>,
    pub(crate) sections: serde_json::Map<String, Value>,
}

impl Report {
    /// Adds a required figure summarising `samples`; returns it for [`Figure::required`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        id: &str,
        label: impl Into<String>,
        unit: &'static str,
        samples: &[f64],
        target: Option<Target>,
        judged: &'static [&'static str],
        extra: Value,
    ) -> &mut Figure {
        self.figures.push(Figure {
            id: id.into(),
            label: label.into(),
            unit,
            summary: summarize(samples),
            target,
            judged,
            required: true,
            extra,
        });
        let last = self.figures.len() - 1;
        &mut self.figures[last]
    }

    /// Adds a figure reported for information only: no target, its largest sample shown.
    pub(crate) fn info(
        &mut self,
        id: &str,
        label: impl Into<String>,
        unit: &'static str,
        samples: &[f64],
        extra: Value,
    ) {
        self.add(id, label, unit, samples, None, MAX, extra);
    }

    /// The ids of the required figures that missed their targets.
    pub(crate) fn missed(&self) -> Vec<&str> {
        self.figures
            .iter()
            .filter(|f| f.missed())
            .map(|f| f.id.as_str())
            .collect()
    }

    pub(crate) fn figures_json(&self) -> Vec<Value> {
        self.figures.iter().map(Figure::to_json).collect()
    }
}

/// A value in its unit's precision; `-` for a missing one.
pub(crate) fn fmt_val(v: f64, unit: &str) -> String {
    if v.is_nan() {
        return "-".into();
    }
    match unit {
        "ms" if v < 10.0 => format!("{v:.2}"),
        "ms" | "MiB" => format!("{v:.1}"),
        "s" => format!("{v:.2}"),
        "x" => format!("{v:.3}"),
        "B" if v >= 10_000.0 => format!("{:.0}k", v / 1000.0),
        _ => format!("{v:.0}"),
    }
}

/// Writes the figure table: one row a figure with `stats` (of "p50", "p90", "p99", "max"), its
/// target and its result; labels are cut to `width` terminal columns.
pub(crate) fn write_figure_table(t: &mut String, figures: &[Figure], width: usize, stats: &[&str]) {
    let _ = write!(t, "\n{:<width$} {:>5}", "figure", "n");
    for s in stats {
        let _ = write!(t, " {s:>9}");
    }
    let _ = writeln!(t, " {:>9}  result", "target");
    for f in figures {
        let mut label = format!("{}{}", if f.required { "" } else { "(extra) " }, f.label);
        if !f.unit.is_empty() {
            let _ = write!(label, " [{}]", f.unit);
        }
        if label.chars().count() > width {
            label = label.chars().take(width - 1).collect::<String>() + "…";
        }
        let pad = width.saturating_sub(display_width(&label));
        let _ = write!(t, "{label}{} {:>5}", " ".repeat(pad), f.summary.n);
        for s in stats {
            let _ = write!(t, " {:>9}", fmt_val(f.stat(s), f.unit));
        }
        let target = f.target.map_or_else(|| "-".into(), |x| x.text(f.unit));
        let _ = writeln!(t, " {target:>9}  {}", f.result());
    }
}

/// Writes the load average before and after the run, from [`machine`]'s JSON.
pub(crate) fn write_load(t: &mut String, machine: &Value) {
    let _ = writeln!(
        t,
        "load average before / after: {} / {}",
        machine["loadavg_before"].as_str().unwrap_or("?"),
        machine["loadavg_after"].as_str().unwrap_or("?")
    );
}

/// Terminal width of a string: CJK characters take two columns.
pub(crate) fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// `/proc/loadavg`: other work on the machine skews the timings; the report says how much.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The machine a run measured: its CPUs and its load before (`load_before`) and after.
pub(crate) fn machine(load_before: &str) -> Value {
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    })
}

/// The workspace's commit and which of `dirs` have uncommitted changes, when git is at hand:
/// the figures are of the working tree.
pub(crate) fn workspace_git(dirs: &[&str]) -> String {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short", "HEAD"]) {
        Some(head) => {
            let dirty: Vec<&str> = dirs
                .iter()
                .copied()
                .filter(|d| run(&["status", "--porcelain", "--", d]).is_some_and(|s| !s.is_empty()))
                .collect();
            if dirty.is_empty() {
                head
            } else {
                format!("{head} + uncommitted changes in {}", dirty.join(", "))
            }
        }
        None => "unknown".into(),
    }
}

/// Prints the table, and with `json` the JSON report on stdout (the table then on stderr, so
/// that stdout stays one JSON document).
pub(crate) fn print_report(json: bool, table: &str, out: &Value) -> anyhow::Result<()> {
    if json {
        eprint!("{table}");
        println!("{}", serde_json::to_string_pretty(out)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_judged_statistics() {
        let f = Figure {
            id: "x".into(),
            label: "x".into(),
            unit: "ms",
            summary: summarize(&[1.0, 1.0, 1.0, 3.0]),
            target: Some(Target::Below(2.0)),
            judged: P50_P90,
            required: true,
            extra: Value::Null,
        };
        assert_eq!(f.result(), "MISS (p90)");
        assert!(f.missed());
        let g = Figure {
            judged: P50,
            ..f.clone()
        };
        assert_eq!(g.result(), "PASS");
        let extra = Figure {
            required: false,
            ..f.clone()
        };
        assert!(!extra.missed());
        let ratio = Figure {
            unit: "x",
            summary: summarize(&[1.5]),
            target: Some(Target::AtMost(1.5)),
            judged: MAX,
            ..f.clone()
        };
        assert_eq!(ratio.result(), "PASS");
        let below = Figure {
            target: Some(Target::Below(1.5)),
            ..ratio
        };
        assert_eq!(below.result(), "MISS (max)");
        let info = Figure { target: None, ..f };
        assert_eq!(info.result(), "info");
        assert_eq!(Target::AtMost(1.5).text("x"), "≤1.500x");
        assert_eq!(Target::Below(8192.0).text("B"), "<8192B");
        assert_eq!(display_width("王a"), 3);
    }

    #[test]
    fn the_table_cuts_labels_to_their_width() {
        let mut report = Report::default();
        report.info("a", "王".repeat(40), "ms", &[1.0], json!({}));
        report
            .add(
                "b",
                "b",
                "MiB",
                &[600.0],
                Some(Target::Below(500.0)),
                MAX,
                json!({}),
            )
            .required(false);
        let mut t = String::new();
        write_figure_table(&mut t, &report.figures, 30, &["p50", "max"]);
        let rows: Vec<&str> = t.lines().skip(2).collect();
        assert!(rows[0].starts_with(&format!("{}…", "王".repeat(29))), "{t}");
        assert!(rows[0].ends_with("info"), "{t}");
        assert!(rows[1].starts_with("(extra) b [MiB]"), "{t}");
        assert!(rows[1].ends_with("<500.0MiB  MISS (max)"), "{t}");
        assert!(report.missed().is_empty());
    }
}
