//! The report: figures against their targets, as JSON and as a table for the terminal.

use crate::measure::{Summary, summarize};
use serde_json::{Value, json};

/// One reported figure.
#[derive(Debug, Clone)]
pub(super) struct Figure {
    pub(super) id: String,
    pub(super) label: String,
    pub(super) unit: &'static str,
    pub(super) summary: Summary,
    pub(super) target: Option<f64>,
    /// Which statistics must be under the target.
    pub(super) judged: &'static [&'static str],
    pub(super) required: bool,
    pub(super) extra: Value,
}

impl Figure {
    pub(super) fn stat(&self, name: &str) -> f64 {
        match name {
            "p50" => self.summary.p50,
            "p90" => self.summary.p90,
            "p99" => self.summary.p99,
            "mean" => self.summary.mean,
            _ => self.summary.max,
        }
    }

    /// `None` without a target; otherwise the judged statistics over the target.
    pub(super) fn misses(&self) -> Option<Vec<&'static str>> {
        let t = self.target?;
        Some(
            self.judged
                .iter()
                .copied()
                .filter(|s| self.stat(s).is_nan() || self.stat(s) >= t)
                .collect(),
        )
    }

    pub(super) fn result(&self) -> String {
        match self.misses() {
            None => "info".into(),
            Some(m) if m.is_empty() => "PASS".into(),
            Some(m) => format!("MISS ({})", m.join(",")),
        }
    }

    pub(super) fn to_json(&self) -> Value {
        let s = &self.summary;
        json!({
            "id": self.id, "label": self.label, "unit": self.unit, "n": s.n,
            "min": s.min, "p50": s.p50, "p90": s.p90, "p99": s.p99, "max": s.max, "mean": s.mean,
            "target": self.target, "judged_on": self.judged, "required": self.required,
            "result": self.result(), "detail": self.extra,
        })
    }
}

#[derive(Debug, Default)]
pub(super) struct Report {
    pub(super) figures: Vec<Figure>,
    pub(super) sections: serde_json::Map<String, Value>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &mut self,
        id: &str,
        label: impl Into<String>,
        unit: &'static str,
        samples: &[f64],
        target: Option<f64>,
        judged: &'static [&'static str],
        required: bool,
        extra: Value,
    ) {
        self.figures.push(Figure {
            id: id.into(),
            label: label.into(),
            unit,
            summary: summarize(samples),
            target,
            judged,
            required,
            extra,
        });
    }

    /// A read measured twice, judged against the same target: warm on its p99 (with `detail`),
    /// and on fresh nodes ("cold", the first call) on its median.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_warm_cold(
        &mut self,
        id: &str,
        label: &str,
        cold_label: &str,
        (warm, cold): (&[f64], &[f64]),
        target: f64,
        required: bool,
        detail: Value,
    ) {
        self.add(
            &format!("{id}_warm"),
            format!("{label} (warm)"),
            "ms",
            warm,
            Some(target),
            P99,
            required,
            detail,
        );
        self.add(
            &format!("{id}_cold"),
            format!("{label} ({cold_label}, fresh Node)"),
            "ms",
            cold,
            Some(target),
            P50,
            required,
            json!({}),
        );
    }
}

pub(super) const P50_P90_P99: &[&str] = &["p50", "p90", "p99"];
pub(super) const P99: &[&str] = &["p99"];
pub(super) const MAX: &[&str] = &["max"];
pub(super) const P50: &[&str] = &["p50"];

pub(super) fn fmt_val(v: f64, unit: &str) -> String {
    if v.is_nan() {
        return "-".into();
    }
    match unit {
        "ms" if v < 10.0 => format!("{v:.2}"),
        "ms" => format!("{v:.1}"),
        "s" => format!("{v:.2}"),
        _ => format!("{v:.0}"),
    }
}

pub(super) fn render_table(report: &Report, out: &Value) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let g = &out["generation"];
    let st = &out["store"];
    let _ = writeln!(
        t,
        "\nbench-store: {} cases, seed {}, {} CPUs, SQLite {}, store schema {}, node at {}",
        out["cases"],
        out["seed"],
        out["machine"]["cpus"],
        out["machine"]["sqlite"],
        out["node"]["schema_version"],
        out["node"]["workspace_git_at_run"]
    );
    let _ = writeln!(
        t,
        "load average before / after: {} / {}",
        out["machine"]["loadavg_before"].as_str().unwrap_or("?"),
        out["machine"]["loadavg_after"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        t,
        "store: {:.1} MiB on disk ({:.0} bytes/case), today {}, {}",
        st["mib"].as_f64().unwrap_or(0.0),
        st["bytes_per_case"].as_f64().unwrap_or(0.0),
        st["today"].as_str().unwrap_or("?"),
        if st["reused"].as_bool() == Some(true) {
            "reused"
        } else {
            "generated now"
        }
    );
    let _ = writeln!(
        t,
        "generation ({} writer): {:.1} s, {:.0} cases/s",
        out["generation_writer"].as_str().unwrap_or("?"),
        g["seconds"].as_f64().unwrap_or(0.0),
        g["cases_per_s"].as_f64().unwrap_or(0.0)
    );
    let totals = &st["totals"];
    if totals.is_object() {
        let _ = writeln!(
            t,
            "cases: {} open, {} completed ({} on time, {} late), {} rated; lights {}",
            totals["open"],
            totals["completed"],
            totals["on_time"],
            totals["late"],
            totals["rated"],
            totals["lights"]
        );
    }
    let _ = writeln!(
        t,
        "\n{:<78} {:>5} {:>9} {:>9} {:>9} {:>9} {:>8}  result",
        "figure", "n", "p50", "p90", "p99", "max", "target"
    );
    for f in &report.figures {
        let s = &f.summary;
        let target = f
            .target
            .map(|x| format!("<{}{}", fmt_val(x, f.unit), f.unit))
            .unwrap_or_else(|| "-".into());
        let mut label = format!(
            "{}{} [{}]",
            if f.required { "" } else { "(extra) " },
            f.label,
            f.unit
        );
        if label.chars().count() > 78 {
            label = label.chars().take(77).collect::<String>() + "…";
        }
        let pad = 78usize.saturating_sub(display_width(&label));
        let _ = writeln!(
            t,
            "{label}{} {:>5} {:>9} {:>9} {:>9} {:>9} {:>8}  {}",
            " ".repeat(pad),
            s.n,
            fmt_val(s.p50, f.unit),
            fmt_val(s.p90, f.unit),
            fmt_val(s.p99, f.unit),
            fmt_val(s.max, f.unit),
            target,
            f.result()
        );
    }
    if let Some(stats) = out["sections"]["stats_queries"].as_object() {
        let _ = writeln!(t, "\nstatistics, query by query (warm p50):");
        for (name, q) in stats {
            let _ = writeln!(
                t,
                "  {name:<12} {:>8} ms  {:>6} rows  plan: {}",
                fmt_val(q["p50_ms"].as_f64().unwrap_or(f64::NAN), "ms"),
                q["rows"],
                plan_text(&q["plan"])
            );
        }
    }
    let _ = writeln!(t, "\nplans of the list queries:");
    for f in &report.figures {
        if f.extra["plan"].is_array() {
            let _ = writeln!(
                t,
                "  {:<24} {:>7} matches, count {:>7} ms  {}",
                f.id.trim_end_matches("_warm"),
                f.extra["matches"],
                fmt_val(f.extra["count_ms"].as_f64().unwrap_or(f64::NAN), "ms"),
                plan_text(&f.extra["plan"])
            );
        }
    }
    let si = &out["sections"]["search_index"];
    if si.is_object() {
        let _ = writeln!(
            t,
            "\nsearch index (search_keys, dbstat): {:.1} MiB, {} rows ({:.1} per case, {:.1} bytes each), {:.0} bytes per case, {:.1} % of the file; cases table and its indexes {:.1} MiB",
            si["search_keys_mib"].as_f64().unwrap_or(f64::NAN),
            si["search_keys_rows"],
            si["rows_per_case"].as_f64().unwrap_or(f64::NAN),
            si["bytes_per_row"].as_f64().unwrap_or(f64::NAN),
            si["bytes_per_case"].as_f64().unwrap_or(f64::NAN),
            100.0 * si["share_of_file"].as_f64().unwrap_or(f64::NAN),
            si["cases_table_and_indexes_bytes"]
                .as_f64()
                .unwrap_or(f64::NAN)
                / 1_048_576.0,
        );
    }
    if let Some(steps) = out["sections"]["what_if"].as_array() {
        let _ = writeln!(
            t,
            "\nwhat-if on the scratch copy, cumulative (warm p99 / first-call p50, ms):"
        );
        for (i, st) in steps.iter().enumerate() {
            let _ = writeln!(
                t,
                "  [{i}] {}: {} (applied in {:.0} ms)",
                st["id"].as_str().unwrap_or(""),
                st["description"].as_str().unwrap_or(""),
                st["apply_ms"].as_f64().unwrap_or(0.0)
            );
        }
        let _ = write!(t, "  {:<28}", "figure");
        for i in 0..steps.len() {
            let _ = write!(t, " {:>17}", format!("[{i}]"));
        }
        let _ = writeln!(t);
        if let Some(first) = steps.first().and_then(|s| s["figures"].as_object()) {
            for key in first.keys() {
                let _ = write!(t, "  {key:<28}");
                for st in steps {
                    let f = &st["figures"][key];
                    let cell = format!(
                        "{} / {}",
                        fmt_val(f["warm_p99"].as_f64().unwrap_or(f64::NAN), "ms"),
                        fmt_val(f["cold_p50"].as_f64().unwrap_or(f64::NAN), "ms")
                    );
                    let _ = write!(t, " {cell:>17}");
                }
                let _ = writeln!(t);
            }
        }
    }
    let missed = out["required_missed"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    let _ = writeln!(
        t,
        "\n{}",
        if missed == 0 {
            "all required figures PASS".to_string()
        } else {
            format!(
                "{missed} required figure(s) MISS: {}",
                out["required_missed"]
            )
        }
    );
    t
}

pub(super) fn plan_text(plan: &Value) -> String {
    plan.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

/// Terminal width of a string: CJK characters take two columns.
pub(super) fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judged_statistics_decide_the_result() {
        let f = Figure {
            id: "x".into(),
            label: "x".into(),
            unit: "ms",
            summary: summarize(&[1.0, 1.0, 3.0]),
            target: Some(2.0),
            judged: P50_P90_P99,
            required: true,
            extra: Value::Null,
        };
        assert_eq!(f.result(), "MISS (p90,p99)");
        let g = Figure { judged: P50, ..f };
        assert_eq!(g.result(), "PASS");
        assert_eq!(display_width("王a"), 3);
    }
}
