//! `bench-store`: the station-core benchmark.
//!
//! Measures, on a generated county store of N cases (1,000,000 by default):
//!
//! - taking in one case (`Node::new_case`, one transaction each) and a batch of 10,000
//!   (`Node::new_cases`, one transaction) — on a copy of the store, so that the store stays as
//!   generated and can be reused;
//! - open-to-ready: `Node::open` + `count` of all cases + the first page, in fresh processes
//!   (cold SQLite page cache, warm OS page cache) and as fresh `Node`s in this process;
//! - the first page (50 rows) of filtered lists, and of the searches a clerk makes for one
//!   villager (last 4 of the ID number, last 4 of the phone, the given name, a case number's
//!   tail), with the search index's size on disk (SQLite's dbstat);
//! - full statistics (`stats` without grouping, by township, by department);
//! - resident memory (VmRSS / VmHWM).
//!
//! Each figure is checked against its target and reported PASS or MISS; a miss does not change
//! the exit status (this is a report, not a test).
//!
//! `mod.rs` prepares the store and runs the measurements in order; [`queries`] times the read
//! side, [`writes`] the intake, and [`report`] judges and prints the figures.

mod queries;
mod report;
mod writes;

use queries::{
    STATS_CASES, explain, list_cases, measure_list, measure_stats, search_cases, search_index,
    stats_sqls, time_sql, what_ifs,
};
use report::{add_warm_cold, render_table};
use writes::bench_writes;

use crate::county::{CITY, County};
use crate::generate::{self, GenArgs, GenMode, SIDECAR};
use crate::measure::{memory_mib, summarize, time_ms};
use crate::report::{MAX, Report, Target, loadavg, machine, print_report, workspace_git};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use yizhan_node::query::CaseFilter;
use yizhan_node::store::STORE_FILE;
use yizhan_node::{Clock, Node};

/// Arguments of `bench-store`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Number of cases in the store.
    #[arg(long, default_value_t = 1_000_000)]
    pub cases: u64,
    /// Directory of the store; an existing store generated with the same --cases and --seed is
    /// reused (a temporary directory, deleted afterwards, when left out).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the JSON report on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Seed of the simulated county.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How to generate the store.
    #[arg(long = "gen", value_enum, default_value_t = GenMode::Direct)]
    pub writer: GenMode,
    /// Delete a store in --dir that does not match and generate a new one.
    #[arg(long)]
    pub regenerate: bool,
    /// Cases taken in one at a time for the single-intake figure.
    #[arg(long, default_value_t = 500)]
    pub singles: usize,
    /// Size of the batch-intake figure.
    #[arg(long, default_value_t = 10_000)]
    pub batch: usize,
    /// Runs of the batch-intake figure.
    #[arg(long, default_value_t = 3)]
    pub batch_runs: usize,
    /// Warm iterations of each list query.
    #[arg(long, default_value_t = 100)]
    pub iterations: usize,
    /// Fresh processes for the cold open-to-ready figure.
    #[arg(long, default_value_t = 5)]
    pub cold_runs: usize,
    /// Generate the store without the glibc malloc tuning (see the report's notes).
    #[arg(long)]
    pub no_malloc_tuning: bool,
    /// Skip the what-if experiments (proposed schema changes tried on the scratch copy).
    #[arg(long)]
    pub no_what_if: bool,
    /// Also rebuild the index of the scratch copy and compare it with the generated one
    /// (proves the index agrees with the documents; slow on big stores).
    #[arg(long)]
    pub check_index: bool,
}

/// Arguments of the internal `probe-open` command (one cold open in a fresh process).
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// The store.
    #[arg(long)]
    pub dir: PathBuf,
    /// The clock, ms since the epoch.
    #[arg(long)]
    pub today_ms: i64,
}

/// glibc malloc settings for the generator process only (see the notes in the report).
const GEN_MALLOC_TUNABLES: &str = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=67108864";

/// Opens the store in a fresh process and prints the open-to-ready timings as JSON.
pub fn probe_open(args: &ProbeArgs) -> Result<()> {
    let t0 = Instant::now();
    let (node, open_ms) = time_ms(|| Node::open(&args.dir, Clock::Fixed(args.today_ms)));
    let mut node = node?;
    let (count, count_ms) = time_ms(|| node.count(&CaseFilter::default()));
    let count = count?;
    let (page, page_ms) = time_ms(|| node.list(&CaseFilter::default()));
    let rows = page?.len();
    let ready_ms = t0.elapsed().as_secs_f64() * 1e3;
    let (rss, hwm) = memory_mib();
    println!(
        "{}",
        json!({"open_ms": open_ms, "count_ms": count_ms, "page_ms": page_ms, "ready_ms": ready_ms,
               "cases": count, "rows": rows, "rss_mib": rss, "hwm_mib": hwm})
    );
    Ok(())
}

fn read_sidecar(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join(SIDECAR)).ok()?;
    serde_json::from_str(&text).ok()
}

fn remove_store(dir: &Path) -> Result<()> {
    for name in [
        STORE_FILE.to_string(),
        format!("{STORE_FILE}-wal"),
        format!("{STORE_FILE}-shm"),
        SIDECAR.to_string(),
    ] {
        let p = dir.join(name);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    Ok(())
}

/// Makes sure `dir` holds a generated store of `args.cases` cases; returns its sidecar.
fn ensure_store(args: &BenchArgs, dir: &Path) -> Result<(Value, bool)> {
    if dir.join(STORE_FILE).exists() {
        let side = read_sidecar(dir);
        let matches = side.as_ref().is_some_and(|s| {
            s["cases"].as_u64() == Some(args.cases) && s["seed"].as_u64() == Some(args.seed)
        });
        if matches {
            let today_ms = side
                .as_ref()
                .and_then(|s| s["today_ms"].as_i64())
                .unwrap_or(0);
            let mut node = Node::open(dir, Clock::Fixed(today_ms))?;
            let n = node.count(&CaseFilter::default())?;
            if n == args.cases && node.identity().station == CITY {
                eprintln!(
                    "bench-store: reusing the store in {} ({n} cases)",
                    dir.display()
                );
                return Ok((side.unwrap_or(Value::Null), true));
            }
            eprintln!(
                "bench-store: the store in {} has {n} cases at station {}, expected {} at {CITY}",
                dir.display(),
                node.identity().station,
                args.cases
            );
        }
        if !args.regenerate {
            bail!(
                "{} holds a store that was not generated with --cases {} --seed {}; pass --regenerate to replace it, or choose another --dir",
                dir.display(),
                args.cases,
                args.seed
            );
        }
        remove_store(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    eprintln!(
        "bench-store: generating {} cases in {} ({} writer){}",
        args.cases,
        dir.display(),
        args.writer.as_str(),
        if args.no_malloc_tuning {
            ""
        } else {
            " with GLIBC_TUNABLES malloc tuning"
        }
    );
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("gen-store")
        .arg("--dir")
        .arg(dir)
        .arg("--cases")
        .arg(args.cases.to_string())
        .arg("--seed")
        .arg(args.seed.to_string())
        .arg("--gen")
        .arg(args.writer.as_str());
    if !args.no_malloc_tuning {
        cmd.env("GLIBC_TUNABLES", GEN_MALLOC_TUNABLES);
    }
    let status = cmd.status().context("running the generator")?;
    if !status.success() {
        bail!("the generator failed ({status})");
    }
    let side = read_sidecar(dir).context("the generator wrote no sidecar")?;
    Ok((side, false))
}

/// `gen-store` entry point.
pub fn gen_store(args: &GenArgs) -> Result<()> {
    let side = generate::generate(args)?;
    eprintln!(
        "gen: done: {} cases in {:.1} s ({:.0} cases/s), store {:.1} MiB",
        side["cases"],
        side["generation"]["seconds"].as_f64().unwrap_or(0.0),
        side["generation"]["cases_per_s"].as_f64().unwrap_or(0.0),
        side["store_bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0
    );
    Ok(())
}

fn open_node(dir: &Path, today_ms: i64) -> Result<Node> {
    Ok(Node::open(dir, Clock::Fixed(today_ms))?)
}

/// Runs the benchmark.
#[allow(clippy::too_many_lines)]
pub fn bench_store(args: &BenchArgs) -> Result<()> {
    let started = Instant::now();
    let load_before = loadavg();
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("yizhan-bench-store-")
                .tempdir_in(std::env::temp_dir())?;
            tmp.path().to_path_buf()
        }
    };
    let (side, reused) = ensure_store(args, &dir)?;
    let today_ms = side["today_ms"]
        .as_i64()
        .context("the sidecar has no today_ms")?;
    // A running node's store thread merges a burst's waiting search keys and checkpoints within
    // seconds of it (`Store::idle`); so does this, before anything is measured.
    {
        let mut node = open_node(&dir, today_ms)?;
        while node.diagnostics().idle()? {}
    }
    let county = County::new();
    let mut report = Report::default();
    let store_bytes = generate::store_bytes(&dir);
    eprintln!(
        "bench-store: store {:.1} MiB; measuring (today = {})",
        store_bytes as f64 / 1_048_576.0,
        side["today"].as_str().unwrap_or("?")
    );

    // ---- Open-to-ready, fresh processes (cold SQLite cache, warm OS page cache).
    let exe = std::env::current_exe()?;
    let mut cold = Vec::new();
    let mut cold_detail = Vec::new();
    let mut probe_hwm: f64 = 0.0;
    for _ in 0..args.cold_runs.max(1) {
        let (out, wall_ms) = time_ms(|| {
            Command::new(&exe)
                .arg("probe-open")
                .arg("--dir")
                .arg(&dir)
                .arg("--today-ms")
                .arg(today_ms.to_string())
                .output()
        });
        let out = out?;
        if !out.status.success() {
            bail!(
                "probe-open failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut v: Value = serde_json::from_slice(&out.stdout)?;
        cold.push(v["ready_ms"].as_f64().unwrap_or(f64::NAN));
        probe_hwm = probe_hwm.max(v["hwm_mib"].as_f64().unwrap_or(0.0));
        v["process_wall_ms"] = json!(wall_ms);
        cold_detail.push(v);
    }
    report.add(
        "open_ready_cold",
        "open-to-ready, fresh process: open + count(all) + first page",
        "ms",
        &cold,
        Some(Target::Below(1000.0)),
        MAX,
        json!({"runs": cold_detail}),
    );

    // ---- Open-to-ready, fresh Node in this process.
    let mut warm = Vec::new();
    let mut parts = (Vec::new(), Vec::new(), Vec::new());
    let mut cases_total = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let (node, o) = time_ms(|| open_node(&dir, today_ms));
        let mut node = node?;
        let (n, c) = time_ms(|| node.count(&CaseFilter::default()));
        cases_total = n?;
        let (page, p) = time_ms(|| node.list(&CaseFilter::default()));
        page?;
        warm.push(t.elapsed().as_secs_f64() * 1e3);
        parts.0.push(o);
        parts.1.push(c);
        parts.2.push(p);
    }
    report.add(
        "open_ready_fresh_node",
        "open-to-ready, fresh Node in a warm process",
        "ms",
        &warm,
        Some(Target::Below(1000.0)),
        MAX,
        json!({"open_ms": summarize(&parts.0), "count_ms": summarize(&parts.1), "first_page_ms": summarize(&parts.2)}),
    );

    // ---- Filtered lists, and the searches for one villager.
    let searches = {
        let mut node = open_node(&dir, today_ms)?;
        report
            .sections
            .insert("search_index".into(), search_index(&mut node)?);
        search_cases(&mut node)?
    };
    for lc in list_cases(&county).into_iter().chain(searches) {
        let t = measure_list(&dir, today_ms, &lc.filter, args.iterations)?;
        add_warm_cold(
            &mut report,
            lc.id,
            &format!("list: {}", lc.label),
            "first query",
            (&t.warm, &t.cold),
            20.0,
            lc.required,
            t.detail,
        );
    }

    // ---- Statistics.
    let mut store_stats = Value::Null;
    for (id, label, by, required) in STATS_CASES {
        let (warm, cold, totals) = measure_stats(&dir, today_ms, by, 20)?;
        if by.is_none() {
            store_stats = totals;
        }
        add_warm_cold(
            &mut report,
            id,
            label,
            "first call",
            (&warm, &cold),
            300.0,
            required,
            json!({}),
        );
    }
    // The statistics' queries one by one, with their plans.
    {
        let mut node = open_node(&dir, today_ms)?;
        let today = node.today().format("%Y-%m-%d").to_string();
        let mut per_query = serde_json::Map::new();
        for (name, sql) in stats_sqls() {
            let params = vec![rusqlite::types::Value::Text(today.clone())];
            let plan = explain(&mut node, &sql, &params)?;
            let (ms, rows) = time_sql(&mut node, &sql, &params)?;
            per_query.insert(
                name.into(),
                json!({"rows": rows, "p50_ms": ms, "plan": plan, "sql": sql}),
            );
        }
        report
            .sections
            .insert("stats_queries".into(), Value::Object(per_query));
    }
    let (rss_read, hwm_read) = memory_mib();
    report.add(
        "memory_read_hwm",
        "resident memory peak (VmHWM), open + lists + stats, this process",
        "MiB",
        &[hwm_read],
        Some(Target::Below(500.0)),
        MAX,
        json!({"vm_rss_mib": rss_read}),
    );
    report.add(
        "memory_probe_hwm",
        "resident memory peak (VmHWM), fresh-process open-to-ready",
        "MiB",
        &[probe_hwm],
        Some(Target::Below(500.0)),
        MAX,
        json!({}),
    );

    // ---- Writes and what-ifs, on a scratch copy of the store.
    let scratch = dir.join("bench-scratch");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    std::fs::create_dir_all(&scratch)?;
    let (copied, copy_ms) = time_ms(|| -> Result<()> {
        for s in ["", "-wal"] {
            let from = dir.join(format!("{STORE_FILE}{s}"));
            if from.exists() {
                let to = scratch.join(format!("{STORE_FILE}{s}"));
                std::fs::copy(&from, &to)?;
                // Flush the copy now: otherwise the first WAL checkpoint's fsync pays for
                // writing gigabytes of the copy and shows up as a multi-second intake.
                std::fs::File::open(&to)?.sync_all()?;
            }
        }
        Ok(())
    });
    copied?;
    let result = (|| -> Result<()> {
        bench_writes(args, &scratch, today_ms, &county, &mut report)?;
        if !args.no_what_if {
            report.sections.insert(
                "what_if".into(),
                what_ifs(args, &scratch, today_ms, &county)?,
            );
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result?;

    // ---- Report.
    let store = json!({
        "dir": dir.display().to_string(),
        "reused": reused,
        "cases": cases_total,
        "bytes": store_bytes,
        "mib": store_bytes as f64 / 1_048_576.0,
        "bytes_per_case": store_bytes as f64 / (cases_total.max(1)) as f64,
        "today": side["today"],
        "sim_start": side["sim_start"],
        "sim_end": side["sim_end"],
        "totals": store_stats,
        "scratch_copy_ms": copy_ms,
    });
    let mut machine = machine(&load_before);
    machine["sqlite"] = json!(rusqlite::version());
    let out = json!({
        "benchmark": "bench-store",
        "cases": args.cases,
        "seed": args.seed,
        "machine": machine,
        "node": {
            "schema_version": yizhan_node::store::SCHEMA_VERSION,
            "workspace_git_at_run": workspace_git(&["node"]),
        },
        "generation": side["generation"],
        "generation_writer": side["gen"],
        "store": store,
        "figures": report.figures_json(),
        "required_missed": report.missed(),
        "sections": report.sections,
        "seconds": started.elapsed().as_secs_f64(),
    });
    print_report(args.json, &render_table(&report, &out), &out)
}
