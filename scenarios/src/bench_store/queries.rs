//! The read side: filtered lists, statistics and searches, each timed warm and on fresh nodes
//! with SQLite's plan, the search index's size, and the schema what-ifs on a scratch copy.

use super::{BenchArgs, open_node};
use crate::county::{CITY, County};
use crate::measure::{summarize, time_ms};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::Path;
use yizhan_node::Node;
use yizhan_node::case::{Light, Status};
use yizhan_node::diagnostics::NO_PARAMS;
use yizhan_node::query::{CaseFilter, GroupBy, Sort};
use yizhan_node::station::Tier;
use yizhan_node::store::index::LIGHT_SQL;

/// A list query of the benchmark.
pub(super) struct ListCase {
    pub(super) id: &'static str,
    pub(super) label: String,
    pub(super) filter: CaseFilter,
    pub(super) required: bool,
}

pub(super) fn list_cases(county: &County) -> Vec<ListCase> {
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

pub(super) fn explain<P: rusqlite::ToSql>(
    node: &mut Node,
    sql: &str,
    params: &[P],
) -> Result<Vec<String>> {
    Ok(node.diagnostics().explain(sql, params)?)
}

/// The statistics' SQL (from `query.rs`, whole network), for EXPLAIN and per-query timing.
pub(super) fn stats_sqls() -> Vec<(&'static str, String)> {
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

/// Timings of one list query.
pub(super) struct ListTiming {
    pub(super) warm: Vec<f64>,
    pub(super) cold: Vec<f64>,
    pub(super) detail: Value,
}

/// Fresh `Node`s for each first-query ("cold") figure; judged on their median, because a single
/// first query is at the mercy of whatever else the machine is doing.
pub(super) const COLD_NODES: usize = 5;

/// The first page of a filtered list: on 5 fresh `Node`s (first query) and `iterations` times on
/// one `Node` (warm); with the match count, the plan and the SQL.
pub(super) fn measure_list(
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
pub(super) const STATS_CASES: [(&str, &str, Option<GroupBy>, bool); 5] = [
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
pub(super) fn measure_stats(
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
pub(super) const WHAT_IFS: [(&str, &str, &str); 5] = [
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
pub(super) fn time_sql(
    node: &mut Node,
    sql: &str,
    params: &[rusqlite::types::Value],
) -> Result<(f64, usize)> {
    let (samples, rows) = node.diagnostics().time_query(sql, params, 5)?;
    Ok((summarize(&samples).p50, rows))
}

/// The searches a clerk makes for one villager (issue #10), from a case in the middle of the
/// store (oldest first) whose applicant is a person with an ID number and a mobile phone. Labels
/// show only what the masked output shows anyway (last 4 characters).
pub(super) fn search_cases(node: &mut Node) -> Result<Vec<ListCase>> {
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

/// What the search keys cost on disk: `search_keys` and the keys waiting to be merged into it
/// (`search_keys_new`) from SQLite's dbstat, beside the whole file and the `cases` table with
/// its indexes.
pub(super) fn search_index(node: &mut Node) -> Result<Value> {
    let d = node.diagnostics();
    let count = |sql: &str| -> Result<i64> { Ok(d.integer(sql, NO_PARAMS)?) };
    let bytes = |names: &str| -> Result<i64> {
        count(&format!(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat('main', 1) WHERE name IN ({names})"
        ))
    };
    let keys = bytes("'search_keys', 'search_keys_new'")?;
    let cases_tables = bytes("SELECT name FROM sqlite_master WHERE tbl_name = 'cases'")?;
    let file = count("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")?;
    let rows = count(
        "SELECT (SELECT count(*) FROM search_keys) + (SELECT count(*) FROM search_keys_new)",
    )?;
    let cases = count("SELECT count(*) FROM cases")?;
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
pub(super) fn what_ifs(
    args: &BenchArgs,
    scratch: &Path,
    today_ms: i64,
    county: &County,
) -> Result<Value> {
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
        let (r, apply_ms) = time_ms(|| node.diagnostics().apply_what_if(sql));
        r.with_context(|| format!("what-if {id}"))?;
        drop(node);
        eprintln!("bench-store: what-if {id} applied in {apply_ms:.0} ms");
        steps.push(json!({"id": id, "description": description, "sql": sql,
                          "apply_ms": apply_ms, "figures": measure()?}));
    }
    Ok(Value::Array(steps))
}
