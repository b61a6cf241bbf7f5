//! `bench-store`'s part of the report: reads judged warm and cold, and the table for the
//! terminal with the store's header, its query plans and the what-if experiments. The figures
//! themselves are the shared [`crate::report`]'s.

use crate::report::{P50, P99, Report, Target, fmt_val, write_figure_table, write_load};
use serde_json::{Value, json};

/// A read measured twice, judged against the same target: warm on its p99 (with `detail`), and
/// on fresh nodes ("cold", the first call) on its median.
#[allow(clippy::too_many_arguments)]
pub(super) fn add_warm_cold(
    report: &mut Report,
    id: &str,
    label: &str,
    cold_label: &str,
    (warm, cold): (&[f64], &[f64]),
    target: f64,
    required: bool,
    detail: Value,
) {
    report
        .add(
            &format!("{id}_warm"),
            format!("{label} (warm)"),
            "ms",
            warm,
            Some(Target::Below(target)),
            P99,
            detail,
        )
        .required(required);
    report
        .add(
            &format!("{id}_cold"),
            format!("{label} ({cold_label}, fresh Node)"),
            "ms",
            cold,
            Some(Target::Below(target)),
            P50,
            json!({}),
        )
        .required(required);
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
    write_load(&mut t, &out["machine"]);
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
    write_figure_table(&mut t, &report.figures, 78, &["p50", "p90", "p99", "max"]);
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
