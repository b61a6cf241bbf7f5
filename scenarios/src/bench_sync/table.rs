//! The report for the terminal: the setup, the figure table, the message kinds of the in-memory
//! sessions, the catch-ups and the store's diagnosis.

use crate::report::{Report, write_figure_table, write_load};
use serde_json::Value;

/// The table for the terminal, from the report and the JSON document built around it.
pub(super) fn render_table(report: &Report, out: &Value) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let setup = &out["setup"];
    let _ = writeln!(
        t,
        "\nbench-sync: {} cases, {} changed, seed {}, {} CPUs; stores {}",
        out["cases"],
        out["changed"],
        out["seed"],
        out["machine"]["cpus"],
        if out["stores"]["reused"].as_bool() == Some(true) {
            "reused"
        } else {
            "generated now"
        }
    );
    let _ = writeln!(
        t,
        "workspace: {}",
        out["workspace_git_at_run"].as_str().unwrap_or("?")
    );
    write_load(&mut t, &out["machine"]);
    let _ = writeln!(
        t,
        "intake at the township: {:.1} s ({:.0} cases/s); stores {:.1} MiB (city) / {:.1} MiB (township)",
        setup["intake"]["seconds"].as_f64().unwrap_or(f64::NAN),
        setup["intake"]["cases_per_s"].as_f64().unwrap_or(f64::NAN),
        setup["store_mib_city"].as_f64().unwrap_or(f64::NAN),
        setup["store_mib_township"].as_f64().unwrap_or(f64::NAN),
    );
    let fc = &setup["first_contact"];
    let _ = writeln!(
        t,
        "first contact: {} msgs, Automerge encoding {} bytes ({} changes), ratio {:.3}",
        fc["msgs_in"].as_u64().unwrap_or(0) + fc["msgs_out"].as_u64().unwrap_or(0),
        fc["lower_bound_bytes"],
        fc["lower_bound_changes"],
        fc["ratio"].as_f64().unwrap_or(f64::NAN)
    );
    write_figure_table(&mut t, &report.figures, 72, &["p50", "p90", "max"]);
    let print_kinds = |t: &mut String, title: &str, link: &Value| {
        let _ = writeln!(
            t,
            "\n{title}: {} round trips, {} frames, {} bytes, {:.0} ms",
            link["rounds"],
            link["frames"],
            link["bytes"],
            link["wall_ms"].as_f64().unwrap_or(f64::NAN)
        );
        if let Some(kinds) = link["by_kind"].as_object() {
            for (k, v) in kinds {
                let _ = writeln!(
                    t,
                    "  {k:<28} {:>5} frames {:>10} bytes   handled in {:>8.1} ms ({:>6.0} ms CPU)",
                    v["frames"],
                    v["bytes"],
                    v["handle_ms"].as_f64().unwrap_or(f64::NAN),
                    v["cpu_ms"].as_f64().unwrap_or(f64::NAN)
                );
            }
        }
    };
    if !out["sections"]["idle_in_memory"].is_null() {
        print_kinds(
            &mut t,
            "idle session in memory",
            &out["sections"]["idle_in_memory"],
        );
    }
    if let Some(mem) = out["sections"]["in_memory"].as_array() {
        for m in mem {
            print_kinds(
                &mut t,
                &format!(
                    "catch-up in memory, {} docs (lower bound {} bytes)",
                    m["docs"], m["lower_bound_bytes"]
                ),
                m,
            );
        }
    }
    if let Some(runs) = out["sections"]["catch_up"].as_array() {
        for (i, cu) in runs.iter().enumerate() {
            let _ = writeln!(
                t,
                "{}catch-up {} over iroh: wall {:.0} ms, CPU of this process (both nodes) {:.0} ms, {} bytes / {} lower bound; {} actions on {} existing cases, {} new cases",
                if i == 0 { "\n" } else { "" },
                i + 1,
                cu["wall_ms"].as_f64().unwrap_or(f64::NAN),
                cu["process_cpu_ms"].as_f64().unwrap_or(f64::NAN),
                cu["report"]["bytes"],
                cu["lower_bound_bytes"],
                cu["actions"],
                cu["changed_existing"],
                cu["new"]
            );
        }
    }
    let fl = &out["sections"]["store_floor"];
    let floor_ms = |k: &str| -> Vec<f64> {
        fl[k]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let (changes, whole) = (floor_ms("as_changes_ms"), floor_ms("whole_ms"));
    for (i, (read, apply)) in floor_ms("read_ms")
        .into_iter()
        .zip(floor_ms("apply_remote_ms"))
        .enumerate()
    {
        let _ = writeln!(
            t,
            "store floor {}, {} docs without the session: township reads {read:.0} ms + city apply_remote {apply:.0} ms ({:.0} ms the held documents' changes, {:.0} ms the new ones whole)",
            i + 1,
            fl["docs"],
            changes.get(i).copied().unwrap_or(f64::NAN),
            whole.get(i).copied().unwrap_or(f64::NAN),
        );
    }
    let p = &out["sections"]["probe_city"];
    if !p.is_null() {
        let _ = writeln!(
            t,
            "store calls at the city over the {} caught-up docs (cache {} docs), µs/doc: heads_of {:.1}, known_heads over all {:.1}, known_heads loading {:.1}, known_heads cached {:.1}",
            p["docs"],
            p["cache_docs"],
            p["heads_of_us"].as_f64().unwrap_or(f64::NAN),
            p["known_heads_over_all_us"].as_f64().unwrap_or(f64::NAN),
            p["known_heads_load_us"].as_f64().unwrap_or(f64::NAN),
            p["known_heads_cached_us"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let missed = out["missed"].as_array().map(|a| a.len()).unwrap_or(0);
    let _ = writeln!(
        t,
        "\n{} ({:.0} s)",
        if missed == 0 {
            "all judged figures PASS".to_string()
        } else {
            format!("{missed} figure(s) MISS: {}", out["missed"])
        },
        out["seconds"].as_f64().unwrap_or(0.0)
    );
    t
}
