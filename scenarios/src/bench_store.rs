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

use crate::county::{CITY, County, People};
use crate::generate::{self, GenArgs, GenMode, SIDECAR};
use crate::measure::{Summary, memory_mib, summarize, time_ms};
use crate::rng::Rng;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use yizhan_node::case::{Light, Status};
use yizhan_node::query::{CaseFilter, GroupBy, Sort};
use yizhan_node::station::Tier;
use yizhan_node::store::STORE_FILE;
use yizhan_node::store::index::LIGHT_SQL;
use yizhan_node::{Clock, NewCase, Node};

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

/// One reported figure.
#[derive(Debug, Clone)]
struct Figure {
    id: String,
    label: String,
    unit: &'static str,
    summary: Summary,
    target: Option<f64>,
    /// Which statistics must be under the target.
    judged: &'static [&'static str],
    required: bool,
    extra: Value,
}

impl Figure {
    fn stat(&self, name: &str) -> f64 {
        match name {
            "p50" => self.summary.p50,
            "p90" => self.summary.p90,
            "p99" => self.summary.p99,
            "mean" => self.summary.mean,
            _ => self.summary.max,
        }
    }

    /// `None` without a target; otherwise the judged statistics over the target.
    fn misses(&self) -> Option<Vec<&'static str>> {
        let t = self.target?;
        Some(
            self.judged
                .iter()
                .copied()
                .filter(|s| self.stat(s).is_nan() || self.stat(s) >= t)
                .collect(),
        )
    }

    fn result(&self) -> String {
        match self.misses() {
            None => "info".into(),
            Some(m) if m.is_empty() => "PASS".into(),
            Some(m) => format!("MISS ({})", m.join(",")),
        }
    }

    fn to_json(&self) -> Value {
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
struct Report {
    figures: Vec<Figure>,
    sections: serde_json::Map<String, Value>,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    fn add(
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
}

const P50_P90_P99: &[&str] = &["p50", "p90", "p99"];
const P99: &[&str] = &["p99"];
const MAX: &[&str] = &["max"];
const P50: &[&str] = &["p50"];

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

/// A list query of the benchmark.
struct ListCase {
    id: &'static str,
    label: String,
    filter: CaseFilter,
    required: bool,
}

fn list_cases(county: &County) -> Vec<ListCase> {
    let township = &county.stations[county.of_tier(Tier::Township)[0]];
    // The busiest village of that township.
    let village = county
        .stations
        .iter()
        .filter(|s| s.tier == Tier::Village && s.township == county.index_of(&township.code))
        .max_by(|a, b| {
            a.weight
                .partial_cmp(&b.weight)
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .unwrap_or(township);
    vec![
        ListCase {
            id: "list_newest",
            label: "newest page, unfiltered".into(),
            filter: CaseFilter::default(),
            required: true,
        },
        ListCase {
            id: "list_red_township",
            label: format!(
                "red lights in township {} ({})",
                township.code, township.short
            ),
            filter: CaseFilter {
                light: Some(Light::Red),
                area: Some(township.code.clone()),
                ..CaseFilter::default()
            },
            required: true,
        },
        ListCase {
            id: "list_accepted_village",
            label: format!(
                "status accepted in village {} ({})",
                village.code, village.short
            ),
            filter: CaseFilter {
                status: Some(Status::Accepted),
                area: Some(village.code.clone()),
                ..CaseFilter::default()
            },
            required: true,
        },
        ListCase {
            id: "list_search_1",
            label: "search: name part 王 (1 char, a surname)".into(),
            filter: CaseFilter {
                search: Some("王".into()),
                ..CaseFilter::default()
            },
            required: true,
        },
        ListCase {
            id: "list_search_2",
            label: "search: name part 王秀 (2 chars)".into(),
            filter: CaseFilter {
                search: Some("王秀".into()),
                ..CaseFilter::default()
            },
            required: true,
        },
        ListCase {
            id: "list_yellow_city",
            label: "yellow lights, whole city".into(),
            filter: CaseFilter {
                light: Some(Light::Yellow),
                ..CaseFilter::default()
            },
            required: false,
        },
        ListCase {
            id: "list_red_township_due",
            label: format!("red lights in township {}, by due date", township.code),
            filter: CaseFilter {
                light: Some(Light::Red),
                area: Some(township.code.clone()),
                sort: Sort::Due,
                ..CaseFilter::default()
            },
            required: false,
        },
        ListCase {
            id: "list_queue_city_due",
            label: "city work queue: held by C01, accepted, by due date".into(),
            filter: CaseFilter {
                holder: Some(CITY.into()),
                status: Some(Status::Accepted),
                sort: Sort::Due,
                ..CaseFilter::default()
            },
            required: false,
        },
        ListCase {
            id: "list_item_newest",
            label: "one item (CT-008), newest".into(),
            filter: CaseFilter {
                item: Some("CT-008".into()),
                ..CaseFilter::default()
            },
            required: false,
        },
    ]
}

fn explain<P: rusqlite::ToSql>(node: &mut Node, sql: &str, params: &[P]) -> Result<Vec<String>> {
    let conn = node.store().conn();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            r.get::<_, String>(3)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The statistics' SQL (from `query.rs`, whole network), for EXPLAIN and per-query timing.
fn stats_sqls() -> Vec<(&'static str, String)> {
    vec![
        (
            "case_counts",
            "SELECT township, village, item_code, kind, status, on_time, rating, delegated, conflict, consults, n
             FROM case_counts WHERE n != 0 AND ?1 IS NOT NULL"
                .to_string(),
        ),
        (
            "open_lights",
            format!(
                "SELECT township, village, item_code, {LIGHT_SQL} AS light, count(*) FROM cases
                 WHERE clock IN (1, 2) GROUP BY township, village, item_code, light"
            ),
        ),
        (
            "follow_ups",
            "SELECT township, village, item_code, follow_up_due < ?1, count(*) FROM cases
             WHERE follow_up_due IS NOT NULL GROUP BY 1, 2, 3, 4"
                .to_string(),
        ),
        (
            "dept_counts",
            "SELECT dept, decision, sum(n) FROM dept_counts WHERE ?1 IS NOT NULL GROUP BY dept, decision"
                .to_string(),
        ),
    ]
}

/// `/proc/loadavg`: other work on the machine skews the timings; the report says how much.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The workspace's commit and whether `node/` has uncommitted changes, when git is at hand.
fn workspace_git() -> String {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let run = |args: &[&str]| {
        Command::new("git")
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
            let dirty =
                run(&["status", "--porcelain", "--", "node"]).is_some_and(|s| !s.is_empty());
            format!(
                "{head}{}",
                if dirty {
                    " + uncommitted changes in node/"
                } else {
                    ""
                }
            )
        }
        None => "unknown".into(),
    }
}

fn open_node(dir: &Path, today_ms: i64) -> Result<Node> {
    Ok(Node::open(dir, Clock::Fixed(today_ms))?)
}

/// Timings of one list query.
struct ListTiming {
    warm: Vec<f64>,
    cold: Vec<f64>,
    detail: Value,
}

/// Fresh `Node`s for each first-query ("cold") figure; judged on their median, because a single
/// first query is at the mercy of whatever else the machine is doing.
const COLD_NODES: usize = 5;

/// The first page of a filtered list: on 5 fresh `Node`s (first query) and `iterations` times on
/// one `Node` (warm); with the match count, the plan and the SQL.
fn measure_list(
    dir: &Path,
    today_ms: i64,
    f: &CaseFilter,
    iterations: usize,
) -> Result<ListTiming> {
    let mut cold = Vec::new();
    for _ in 0..COLD_NODES {
        let mut node = open_node(dir, today_ms)?;
        let (r, ms) = time_ms(|| node.list(f));
        r?;
        cold.push(ms);
    }
    let mut node = open_node(dir, today_ms)?;
    let mut warm = Vec::with_capacity(iterations);
    let mut rows = 0;
    for _ in 0..iterations.max(1) {
        let (r, ms) = time_ms(|| node.list(f));
        rows = r?.len();
        warm.push(ms);
    }
    let (matches, count_ms) = time_ms(|| node.count(f));
    let matches = matches?;
    // The very SQL `Node::list` runs (its parameters may be personal data: not reported).
    let (sql, params) = node.list_sql(f)?;
    let plan = explain(&mut node, &sql, &params)?;
    Ok(ListTiming {
        warm,
        cold,
        detail: json!({"rows": rows, "matches": matches, "count_ms": count_ms, "plan": plan,
                       "sql": sql}),
    })
}

/// The statistics of the benchmark: (id, label, grouping, required).
const STATS_CASES: [(&str, &str, Option<GroupBy>, bool); 5] = [
    ("stats_all", "stats, no grouping", None, true),
    (
        "stats_township",
        "stats by township",
        Some(GroupBy::Township),
        true,
    ),
    (
        "stats_dept",
        "stats by department",
        Some(GroupBy::Dept),
        true,
    ),
    (
        "stats_village",
        "stats by village",
        Some(GroupBy::Village),
        false,
    ),
    ("stats_item", "stats by item", Some(GroupBy::Item), false),
];

/// Full statistics: 5 first calls on fresh `Node`s, then `iterations` on one `Node`. Returns
/// (warm, cold, totals).
fn measure_stats(
    dir: &Path,
    today_ms: i64,
    by: Option<GroupBy>,
    iterations: usize,
) -> Result<(Vec<f64>, Vec<f64>, Value)> {
    let mut cold = Vec::new();
    for _ in 0..COLD_NODES {
        let mut node = open_node(dir, today_ms)?;
        let (r, ms) = time_ms(|| node.stats(by, None));
        r?;
        cold.push(ms);
    }
    let mut node = open_node(dir, today_ms)?;
    let mut warm = Vec::new();
    let mut totals = Value::Null;
    for _ in 0..iterations.max(1) {
        let (r, ms) = time_ms(|| node.stats(by, None));
        totals = serde_json::to_value(&r?.totals)?;
        warm.push(ms);
    }
    Ok((warm, cold, totals))
}

/// Schema changes tried on the scratch copy (cumulatively), each followed by the lists and the
/// statistics again: (id, what it is, SQL). They are the fixes proposed in the report for
/// `node/src/store/schema.rs`; the node's code is unchanged.
const WHAT_IFS: [(&str, &str, &str); 5] = [
    (
        "follow_up_covering",
        "cases_follow_up covering (township, village, item_code, follow_up_due)",
        "DROP INDEX IF EXISTS cases_follow_up;
         CREATE INDEX cases_follow_up ON cases (township, village, item_code, follow_up_due)
             WHERE follow_up_due IS NOT NULL;",
    ),
    (
        "open_by_created",
        "open cases in created order (light filters over the whole city)",
        "CREATE INDEX cases_open_created ON cases (created_at, clock, due_on, yellow_on, legal_due_on, frozen_light)
             WHERE clock IN (1, 2);",
    ),
    (
        "area_status",
        "(township, status, created_at) and (village, status, created_at)",
        "CREATE INDEX cases_township_status_created ON cases (township, status, created_at);
         CREATE INDEX cases_village_status_created ON cases (village, status, created_at);",
    ),
    (
        "holder_queue",
        "work queue by due date: (holder, status, due_on IS NULL, due_on, created_at)",
        "CREATE INDEX cases_holder_status_due ON cases (holder, status, due_on IS NULL, due_on, created_at);",
    ),
    (
        "analyze",
        "ANALYZE with analysis_limit 1000 (what PRAGMA optimize does)",
        "PRAGMA analysis_limit = 1000; ANALYZE;",
    ),
];

/// One SQL statement's warm median over 5 runs, and its row count.
fn time_sql(node: &mut Node, sql: &str, params: &[rusqlite::types::Value]) -> Result<(f64, usize)> {
    let conn = node.store().conn();
    let mut stmt = conn.prepare(sql)?;
    let mut samples = Vec::new();
    let mut rows = 0;
    for _ in 0..5 {
        let (r, ms) = time_ms(|| -> rusqlite::Result<usize> {
            let mut q = stmt.query(rusqlite::params_from_iter(params.iter()))?;
            let mut n = 0;
            while q.next()?.is_some() {
                n += 1;
            }
            Ok(n)
        });
        rows = r?;
        samples.push(ms);
    }
    Ok((summarize(&samples).p50, rows))
}

/// The searches a clerk makes for one villager (issue #10), from a case in the middle of the
/// store (oldest first) whose applicant is a person with an ID number and a mobile phone. Labels
/// show only what the masked output shows anyway (last 4 characters).
fn search_cases(node: &mut Node) -> Result<Vec<ListCase>> {
    let total = node.count(&CaseFilter::default())?;
    let rows = node.list(&CaseFilter {
        sort: Sort::Oldest,
        offset: usize::try_from(total / 2).unwrap_or(0),
        limit: 500,
        ..CaseFilter::default()
    })?;
    let mut found = None;
    for r in rows {
        let doc = node.case(&r.id)?.doc;
        let a = &doc.applicant;
        if a.id_number.chars().count() == 18 && a.phone.len() == 11 && a.name.chars().count() == 3 {
            found = Some(doc);
            break;
        }
    }
    let Some(doc) = found else {
        bail!("no case with an ID number and a phone in the middle of the store");
    };
    let a = &doc.applicant;
    let last = |s: &str, n: usize| s.chars().skip(s.chars().count() - n).collect::<String>();
    let given: String = a.name.chars().skip(1).collect();
    let segments: Vec<&str> = doc.number.split('-').collect();
    let tail = segments[1..].join("-");
    let case = |id: &'static str, label: String, q: String, required: bool| ListCase {
        id,
        label,
        filter: CaseFilter {
            search: Some(q),
            ..CaseFilter::default()
        },
        required,
    };
    Ok(vec![
        case(
            "search_id4",
            format!("search: last 4 of an ID number ({})", last(&a.id_number, 4)),
            last(&a.id_number, 4),
            true,
        ),
        case(
            "search_id6",
            "search: last 6 of an ID number".into(),
            last(&a.id_number, 6),
            false,
        ),
        case(
            "search_id_full",
            "search: a whole ID number".into(),
            a.id_number.clone(),
            false,
        ),
        case(
            "search_phone4",
            format!("search: last 4 of a phone ({})", last(&a.phone, 4)),
            last(&a.phone, 4),
            true,
        ),
        case(
            "search_given_name",
            format!("search: a given name ({given})"),
            given,
            true,
        ),
        case(
            "search_full_name",
            format!("search: a whole name ({})", a.name),
            a.name.clone(),
            false,
        ),
        case(
            "search_number_tail",
            format!("search: date-node-counter of a case number ({tail})"),
            tail,
            true,
        ),
        case(
            "search_counter",
            format!("search: a case number's counter alone ({})", segments[3]),
            segments[3].to_string(),
            false,
        ),
    ])
}

/// What the search keys cost on disk: `search_keys` from SQLite's dbstat, beside the whole file
/// and the `cases` table with its indexes.
fn search_index(node: &mut Node) -> Result<Value> {
    let conn = node.store().conn();
    let bytes = |names: &str| -> Result<i64> {
        Ok(conn.query_row(
            &format!(
                "SELECT coalesce(sum(pgsize), 0) FROM dbstat('main', 1) WHERE name IN ({names})"
            ),
            [],
            |r| r.get(0),
        )?)
    };
    let keys = bytes("'search_keys'")?;
    let cases_tables = bytes("SELECT name FROM sqlite_master WHERE tbl_name = 'cases'")?;
    let file = conn.query_row(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        [],
        |r| r.get::<_, i64>(0),
    )?;
    let rows: i64 = conn.query_row("SELECT count(*) FROM search_keys", [], |r| r.get(0))?;
    let cases: i64 = conn.query_row("SELECT count(*) FROM cases", [], |r| r.get(0))?;
    let per = |x: i64| x as f64 / cases.max(1) as f64;
    Ok(json!({
        "search_keys_bytes": keys,
        "search_keys_mib": keys as f64 / 1_048_576.0,
        "search_keys_rows": rows,
        "rows_per_case": per(rows),
        "bytes_per_case": per(keys),
        "bytes_per_row": keys as f64 / rows.max(1) as f64,
        "share_of_file": keys as f64 / file.max(1) as f64,
        "cases_table_and_indexes_bytes": cases_tables,
        "file_bytes": file,
    }))
}

/// Re-measures the lists and the statistics on the scratch copy after each schema change.
fn what_ifs(args: &BenchArgs, scratch: &Path, today_ms: i64, county: &County) -> Result<Value> {
    let iterations = (args.iterations / 2).max(10);
    let measure = || -> Result<serde_json::Map<String, Value>> {
        let mut m = serde_json::Map::new();
        for lc in list_cases(county) {
            let t = measure_list(scratch, today_ms, &lc.filter, iterations)?;
            m.insert(
                lc.id.into(),
                json!({"warm_p99": summarize(&t.warm).p99, "cold_p50": summarize(&t.cold).p50,
                       "count_ms": t.detail["count_ms"], "plan": t.detail["plan"]}),
            );
        }
        for (id, _, by, _) in STATS_CASES {
            let (warm, cold, _) = measure_stats(scratch, today_ms, by, 10)?;
            m.insert(
                id.into(),
                json!({"warm_p99": summarize(&warm).p99, "cold_p50": summarize(&cold).p50}),
            );
        }
        Ok(m)
    };
    let mut steps = vec![
        json!({"id": "baseline", "description": "the node's schema (scratch copy after the writes)",
                                "apply_ms": 0.0, "figures": measure()?}),
    ];
    for (id, description, sql) in WHAT_IFS {
        let mut node = open_node(scratch, today_ms)?;
        let (r, apply_ms) = time_ms(|| node.store().conn().execute_batch(sql));
        r.with_context(|| format!("what-if {id}"))?;
        drop(node);
        eprintln!("bench-store: what-if {id} applied in {apply_ms:.0} ms");
        steps.push(json!({"id": id, "description": description, "sql": sql,
                          "apply_ms": apply_ms, "figures": measure()?}));
    }
    Ok(Value::Array(steps))
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
        Some(1000.0),
        MAX,
        true,
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
        Some(1000.0),
        MAX,
        true,
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
        report.add(
            &format!("{}_warm", lc.id),
            format!("list: {} (warm)", lc.label),
            "ms",
            &t.warm,
            Some(20.0),
            P99,
            lc.required,
            t.detail,
        );
        report.add(
            &format!("{}_cold", lc.id),
            format!("list: {} (first query, fresh Node)", lc.label),
            "ms",
            &t.cold,
            Some(20.0),
            P50,
            lc.required,
            json!({}),
        );
    }

    // ---- Statistics.
    let mut store_stats = Value::Null;
    for (id, label, by, required) in STATS_CASES {
        let (warm, cold, totals) = measure_stats(&dir, today_ms, by, 20)?;
        if by.is_none() {
            store_stats = totals;
        }
        report.add(
            &format!("{id}_warm"),
            format!("{label} (warm)"),
            "ms",
            &warm,
            Some(300.0),
            P99,
            required,
            json!({}),
        );
        report.add(
            &format!("{id}_cold"),
            format!("{label} (first call, fresh Node)"),
            "ms",
            &cold,
            Some(300.0),
            P50,
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
        Some(500.0),
        MAX,
        true,
        json!({"vm_rss_mib": rss_read}),
    );
    report.add(
        "memory_probe_hwm",
        "resident memory peak (VmHWM), fresh-process open-to-ready",
        "MiB",
        &[probe_hwm],
        Some(500.0),
        MAX,
        true,
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
    let figures: Vec<Value> = report.figures.iter().map(Figure::to_json).collect();
    let missed: Vec<&str> = report
        .figures
        .iter()
        .filter(|f| f.required && f.misses().is_some_and(|m| !m.is_empty()))
        .map(|f| f.id.as_str())
        .collect();
    let out = json!({
        "benchmark": "bench-store",
        "cases": args.cases,
        "seed": args.seed,
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "sqlite": rusqlite::version(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
        },
        "node": {
            "schema_version": yizhan_node::store::SCHEMA_VERSION,
            "workspace_git_at_run": workspace_git(),
        },
        "generation": side["generation"],
        "generation_writer": side["gen"],
        "store": store,
        "figures": figures,
        "required_missed": missed,
        "sections": report.sections,
        "seconds": started.elapsed().as_secs_f64(),
    });
    let table = render_table(&report, &out);
    if args.json {
        eprint!("{table}");
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

fn city_new_case(rng: &mut Rng, people: &People, county: &County, node: &Node) -> NewCase {
    let items: Vec<_> = node
        .catalog()
        .items()
        .filter(|i| i.tier == Tier::City)
        .cloned()
        .collect();
    let item = rng.pick(&items).clone();
    people.new_case(rng, county, 0, &item)
}

/// Takes in `n` cases one at a time, moving the clock a second each time; returns the
/// timings and the new case ids.
fn intake_singles(
    node: &mut Node,
    news: &[NewCase],
    clock: &mut i64,
) -> Result<(Vec<f64>, Vec<String>)> {
    let mut samples = Vec::with_capacity(news.len());
    let mut ids = Vec::with_capacity(news.len());
    for new in news {
        *clock += 1_000;
        node.set_clock(Clock::Fixed(*clock));
        let (r, ms) = time_ms(|| node.new_case(new));
        ids.push(r?.doc.id);
        samples.push(ms);
    }
    Ok((samples, ids))
}

#[allow(clippy::too_many_lines)]
fn bench_writes(
    args: &BenchArgs,
    scratch: &Path,
    today_ms: i64,
    county: &County,
    report: &mut Report,
) -> Result<()> {
    let people = People::new();
    let mut rng = Rng::derive(args.seed, 99, 0);
    let mut node = open_node(scratch, today_ms)?;
    let mut clock = today_ms;
    let mut news = |n: usize, node: &Node| -> Vec<NewCase> {
        (0..n)
            .map(|_| city_new_case(&mut rng, &people, county, node))
            .collect()
    };
    // One at a time.
    let singles = news(args.singles.max(1), &node);
    let (samples, ids) = intake_singles(&mut node, &singles, &mut clock)?;
    let slow = samples.iter().filter(|ms| **ms >= 2.0).count();
    report.add(
        "create_one",
        "create-and-commit one case (new_case, one transaction)",
        "ms",
        &samples,
        Some(2.0),
        P50_P90_P99,
        true,
        json!({"calls_at_or_over_2ms": slow}),
    );
    // Diagnostic: the same with SQLite's automatic WAL checkpoints off on this connection. If
    // the slow calls disappear, they are the checkpoints (copying WAL pages back and fsync).
    let singles = news(args.singles.max(1), &node);
    let autockpt: i64 = node
        .store()
        .conn()
        .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?;
    node.store()
        .conn()
        .pragma_update(None, "wal_autocheckpoint", 0)?;
    let (samples, _) = intake_singles(&mut node, &singles, &mut clock)?;
    let (ck, ck_ms) = time_ms(|| -> rusqlite::Result<(i64, i64, i64)> {
        node.store()
            .conn()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
    });
    let (_, wal_pages, _) = ck?;
    node.store()
        .conn()
        .pragma_update(None, "wal_autocheckpoint", autockpt)?;
    report.add(
        "create_one_no_autocheckpoint",
        "(diagnostic) create one case, automatic WAL checkpoints off",
        "ms",
        &samples,
        Some(2.0),
        P50_P90_P99,
        false,
        json!({"calls_at_or_over_2ms": samples.iter().filter(|ms| **ms >= 2.0).count(),
               "then_one_checkpoint_ms": ck_ms, "wal_pages_checkpointed": wal_pages,
               "node_wal_autocheckpoint": autockpt}),
    );
    // Acting on one case at a time (accept), for reference.
    let mut acts = Vec::new();
    for id in ids.iter().take(200) {
        clock += 1_000;
        node.set_clock(Clock::Fixed(clock));
        let (r, ms) = time_ms(|| node.act(id, &yizhan_node::case::Action::Accept, "综合受理窗口"));
        r?;
        acts.push(ms);
    }
    report.add(
        "act_one",
        "act on one case (accept, one transaction)",
        "ms",
        &acts,
        None,
        P50,
        false,
        json!({}),
    );
    // Batches.
    let mut runs = Vec::new();
    let mut hwm_runs = Vec::new();
    for _ in 0..args.batch_runs.max(1) {
        let batch = news(args.batch, &node);
        clock += 60_000;
        node.set_clock(Clock::Fixed(clock));
        let (r, ms) = time_ms(|| node.new_cases(&batch));
        let n = r?.len();
        if n != args.batch {
            bail!("new_cases returned {n} views for {} cases", args.batch);
        }
        runs.push(ms / 1000.0);
        hwm_runs.push(memory_mib().1);
    }
    report.add(
        "create_batch",
        format!(
            "{} cases in one batch (new_cases, one transaction)",
            args.batch
        ),
        "s",
        &runs,
        Some(5.0),
        P50,
        true,
        json!({"runs_s": runs, "cases_per_s": args.batch as f64 / summarize(&runs).p50,
               "hwm_mib_after_each_run": hwm_runs}),
    );
    let (rss, hwm) = memory_mib();
    report.add(
        "memory_write_hwm",
        "resident memory peak (VmHWM), after the writes too",
        "MiB",
        &[hwm],
        Some(500.0),
        MAX,
        false,
        json!({"vm_rss_mib": rss}),
    );
    if args.check_index {
        let (r, ms) = time_ms(|| -> Result<bool> {
            let before = node.index_dump()?;
            node.reindex()?;
            Ok(before == node.index_dump()?)
        });
        let same = r?;
        report.sections.insert(
            "index_check".into(),
            json!({"rebuilt_index_equals_generated": same, "ms": ms}),
        );
        if !same {
            eprintln!("bench-store: WARNING: the rebuilt index differs from the generated one");
        }
    }
    Ok(())
}

fn fmt_val(v: f64, unit: &str) -> String {
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

fn render_table(report: &Report, out: &Value) -> String {
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

fn plan_text(plan: &Value) -> String {
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
fn display_width(s: &str) -> usize {
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
