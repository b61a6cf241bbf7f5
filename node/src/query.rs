//! Lists, filters and statistics over the case index.
//!
//! Lists read the `cases` table through its indexes and compute each row's light in SQL
//! ([`index::LIGHT_SQL`]), so a filtered first page costs a short index range, not a scan.
//! Statistics add up the counter tables that the index keeps in step with every write, plus the
//! small set of open cases for the time-dependent lights: their cost follows the number of open
//! cases and of distinct counter rows, not the number of cases ever handled.

use crate::case::Light;
use crate::case::fold::Status;
use crate::clock::china;
use crate::error::{NodeError, Result};
use crate::node::Node;
use crate::search;
use crate::station::Tier;
use crate::store::index::{self, LIGHT_SQL};
use chrono::{NaiveDate, TimeZone as _};
use rusqlite::ToSql;
use serde::Serialize;

mod ranking;
mod stats;

pub use ranking::{RankBy, RankRow};
pub use stats::{DeptRow, Group, GroupBy, Stats, Totals};

/// Key rows counted at most when choosing the rarest pair of a long name query.
const PAIR_COUNT_CAP: i64 = 20_000;

/// How a list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Newest first.
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// Earliest promised due date first (cases without a clock last).
    Due,
}

/// A case list filter. Empty fields do not filter.
#[derive(Clone, Default)]
pub struct CaseFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this light (today).
    pub light: Option<Light>,
    /// Only cases that came from this station's area (a township: its villages and itself; a
    /// village: itself; the city: everything).
    pub area: Option<String>,
    /// Only cases held by this station now (its work queue).
    pub holder: Option<String>,
    /// Only this item.
    pub item: Option<String>,
    /// What a clerk types to find a case: a case number or a run of its trailing segments
    /// (`261122-1-001`, `001`), a resident ID number or its last 4–6 characters, a phone number
    /// or its last 4 digits, or any part of the applicant's name ([`crate::search`]).
    pub search: Option<String>,
    /// Only cases with an unsettled conflict.
    pub conflict_only: bool,
    /// Only cases with an open follow-up (整改) after a bad rating.
    pub open_follow_up: bool,
    /// Only cases whose clock runs and whose light is at least yellow today.
    pub due_soon: bool,
    /// Only cases with a 督办 not yet replied to.
    pub supervised: bool,
    /// Only cases changed after this time (ms), and held by another station than this one
    /// (what happened elsewhere to cases a village agent took in).
    pub changed_elsewhere_after: Option<(i64, String)>,
    /// Created on or after this date.
    pub created_from: Option<NaiveDate>,
    /// Created on or before this date.
    pub created_to: Option<NaiveDate>,
    /// Order.
    pub sort: Sort,
    /// Page size (0 means 50).
    pub limit: usize,
    /// Rows to skip.
    pub offset: usize,
}

// The search may be an ID or phone number, which never goes to logs: `Debug` says only how long
// it is.
impl std::fmt::Debug for CaseFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseFilter")
            .field("status", &self.status)
            .field("light", &self.light)
            .field("area", &self.area)
            .field("holder", &self.holder)
            .field("item", &self.item)
            .field(
                "search",
                &self
                    .search
                    .as_ref()
                    .map(|q| format!("({} characters)", q.chars().count())),
            )
            .field("conflict_only", &self.conflict_only)
            .field("open_follow_up", &self.open_follow_up)
            .field("due_soon", &self.due_soon)
            .field("supervised", &self.supervised)
            .field("changed_elsewhere_after", &self.changed_elsewhere_after)
            .field("created_from", &self.created_from)
            .field("created_to", &self.created_to)
            .field("sort", &self.sort)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .finish()
    }
}

/// How a search is looked up in `search_keys` (see [`Node::plan_search`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum SearchPlan {
    /// No key of the query is in the index: nothing matches.
    Nothing,
    /// One key; when `contains` is given, the applicant's name must also contain it. A list in
    /// creation order walks this key's rows in that order and stops after one page.
    One { key: i64, contains: Option<String> },
    /// Several keys (a phone number typed with separators, or a long query that is both an
    /// exact term and a name part): their cases are gathered, then sorted.
    Many(Vec<(i64, Option<String>)>),
}

/// A filter as SQL: `SELECT … FROM {from}{where_sql}`.
struct FilterSql {
    from: String,
    where_sql: String,
    params: Vec<Box<dyn ToSql>>,
    /// A one-key search: the key's rows (`k`) give the creation order.
    keyed: bool,
    /// Every condition is on the key rows alone, so a count need not read `cases`.
    keys_only: bool,
}

/// One row of a case list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseRow {
    /// Case id.
    pub id: String,
    /// Case number.
    pub number: String,
    /// Item code.
    pub item_code: String,
    /// Item name.
    pub item_name: String,
    /// Item kind.
    pub kind: String,
    /// Status name.
    pub status: String,
    /// Unsettled conflict.
    pub conflict: bool,
    /// Origin station.
    pub origin: String,
    /// Holder station.
    pub holder: String,
    /// Applicant name.
    pub applicant: String,
    /// 代办.
    pub delegated: bool,
    /// Creation time (ms).
    pub created_at: i64,
    /// Promised due date.
    pub due_on: Option<String>,
    /// Whether `due_on` is provisional (counted into a year the calendar has no rule for).
    pub due_provisional: bool,
    /// Whether any of the case's due dates (promised or legal) is provisional.
    pub provisional: bool,
    /// Light today.
    pub light: Option<String>,
    /// 督办 notices not yet replied to.
    pub supervisions_open: i64,
    /// The 整改期限 of an open follow-up after a bad rating.
    pub follow_up_due: Option<String>,
}

/// A count from SQLite (never negative) as the unsigned number the views carry.
fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn day_start_ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .and_then(|t| china().from_local_datetime(&t).single())
        .map_or(0, |t| t.timestamp_millis())
}

impl Node {
    fn area_clause(
        &self,
        area: Option<&str>,
        params: &mut Vec<Box<dyn ToSql>>,
    ) -> Result<Option<String>> {
        let Some(code) = area else { return Ok(None) };
        let station = self
            .roster()
            .station(code)
            .ok_or_else(|| NodeError::UnknownStation(code.to_string()))?;
        let column = match station.tier() {
            Tier::City => return Ok(None),
            Tier::Township => "township",
            Tier::Village => "village",
        };
        params.push(Box::new(code.to_string()));
        Ok(Some(format!("{column} = ?{}", params.len())))
    }

    /// How a search is looked up: each exact term of the query ([`search::query_terms`]) that
    /// has a key in the index and, for a query longer than a name pair, the rarest of its pairs
    /// with the name checked to contain the whole query. A query none of whose keys is indexed
    /// matches nothing. The probes read a few index entries each (the pair counts at most
    /// [`PAIR_COUNT_CAP`]).
    fn plan_search(&self, query: &str, keys: &str) -> Result<SearchPlan> {
        let q = search::normalize(query);
        let conn = self.store_conn();
        let count = |key: i64, cap: i64| -> Result<i64> {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM (SELECT 1 FROM {keys} WHERE term = ?1 LIMIT ?2)"
                ))?
                .query_row(rusqlite::params![key, cap], |r| r.get(0))?)
        };
        let mut probes: Vec<(i64, Option<String>)> = Vec::new();
        for term in search::query_terms(&q) {
            let key = search::key(&term);
            if count(key, 1)? > 0 && !probes.iter().any(|(k, _)| *k == key) {
                probes.push((key, None));
            }
        }
        let chars: Vec<char> = q.chars().collect();
        if chars.len() > search::NAME_GRAM {
            let mut rarest: Option<(i64, i64)> = None;
            for pair in chars.windows(search::NAME_GRAM) {
                if pair.iter().any(|c| c.is_whitespace()) {
                    continue;
                }
                let key = search::key(&pair.iter().collect::<String>());
                let n = count(key, PAIR_COUNT_CAP)?;
                if n == 0 {
                    // A name containing the query contains every pair of it.
                    rarest = None;
                    break;
                }
                if rarest.is_none_or(|(m, _)| n < m) {
                    rarest = Some((n, key));
                }
            }
            if let Some((_, key)) = rarest {
                probes.push((key, Some(q)));
            }
        }
        Ok(match probes.len() {
            0 => SearchPlan::Nothing,
            1 => {
                let (key, contains) = probes.remove(0);
                SearchPlan::One { key, contains }
            }
            _ => SearchPlan::Many(probes),
        })
    }

    fn filter_sql(&self, f: &CaseFilter) -> Result<FilterSql> {
        let mut params: Vec<Box<dyn ToSql>> =
            vec![Box::new(self.today().format("%Y-%m-%d").to_string())];
        let mut clauses: Vec<String> = Vec::new();
        let mut from = "cases".to_string();
        let mut keyed = false;
        let mut key_clauses = 0;
        if let Some(q) = f.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            // Which key tables to read, asked once for the whole search.
            let keys = self.keys_table()?;
            match self.plan_search(q, keys)? {
                SearchPlan::Nothing => clauses.push("0".into()),
                SearchPlan::One { key, contains } => {
                    // The key's rows drive the join (CROSS JOIN keeps SQLite from starting at
                    // `cases`), in creation order: a first page reads one page of rows.
                    from = format!("{keys} AS k CROSS JOIN cases ON cases.row_id = k.case_row");
                    keyed = true;
                    params.push(Box::new(key));
                    clauses.push(format!("k.term = ?{}", params.len()));
                    key_clauses += 1;
                    if let Some(q) = contains {
                        params.push(Box::new(q));
                        clauses.push(format!(
                            "instr(upper(cases.applicant_name), ?{}) > 0",
                            params.len()
                        ));
                    }
                }
                SearchPlan::Many(probes) => {
                    let mut parts = Vec::new();
                    for (key, contains) in probes {
                        params.push(Box::new(key));
                        let k = params.len();
                        parts.push(match contains {
                            None => format!("SELECT case_row FROM {keys} WHERE term = ?{k}"),
                            Some(q) => {
                                params.push(Box::new(q));
                                format!(
                                    "SELECT s.case_row FROM {keys} AS s JOIN cases AS c ON c.row_id = s.case_row
                                     WHERE s.term = ?{k} AND instr(upper(c.applicant_name), ?{}) > 0",
                                    params.len()
                                )
                            }
                        });
                    }
                    from = format!(
                        "({}) AS m CROSS JOIN cases ON cases.row_id = m.case_row",
                        parts.join(" UNION ")
                    );
                }
            }
        }
        if let Some(c) = self.area_clause(f.area.as_deref(), &mut params)? {
            clauses.push(c);
        }
        // The creation date bounds a one-key search on its key rows, which are in that order.
        let created = if keyed { "k.created" } else { "created_at" };
        let mut push = |clause: &str, value: Box<dyn ToSql>, params: &mut Vec<Box<dyn ToSql>>| {
            params.push(value);
            clauses.push(clause.replace("?N", &format!("?{}", params.len())));
        };
        if let Some(d) = f.created_from {
            push(
                &format!("{created} >= ?N"),
                Box::new(day_start_ms(d)),
                &mut params,
            );
            key_clauses += 1;
        }
        if let Some(d) = f.created_to.and_then(|d| d.succ_opt()) {
            push(
                &format!("{created} < ?N"),
                Box::new(day_start_ms(d)),
                &mut params,
            );
            key_clauses += 1;
        }
        if let Some(s) = f.status {
            push("status = ?N", Box::new(s.as_str().to_string()), &mut params);
        }
        if let Some(h) = &f.holder {
            push("holder = ?N", Box::new(h.clone()), &mut params);
        }
        if let Some(i) = &f.item {
            push("item_code = ?N", Box::new(i.clone()), &mut params);
        }
        if f.conflict_only {
            clauses.push("conflict = 1".into());
        }
        if f.open_follow_up {
            clauses.push("follow_up_due IS NOT NULL".into());
        }
        if f.due_soon {
            clauses.push("clock = 1 AND ?1 >= yellow_on".into());
        }
        if f.supervised {
            clauses.push("supervisions_open > 0".into());
        }
        if let Some((after, station)) = &f.changed_elsewhere_after {
            params.push(Box::new(*after));
            params.push(Box::new(station.clone()));
            clauses.push(format!(
                "updated_at > ?{} AND holder <> ?{}",
                params.len() - 1,
                params.len()
            ));
        }
        if let Some(l) = f.light {
            clauses.push(format!("clock IN (1, 2) AND {}", index::light_predicate(l)));
        }
        let keys_only = keyed && clauses.len() == key_clauses;
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        Ok(FilterSql {
            from,
            where_sql,
            params,
            keyed,
            keys_only,
        })
    }

    /// The SQL and parameters of [`Node::list`] for a filter (for the benchmark's query plans).
    pub fn list_sql(&mut self, f: &CaseFilter) -> Result<(String, Vec<Box<dyn ToSql>>)> {
        self.refresh()?;
        let fs = self.filter_sql(f)?;
        let order = match (f.sort, fs.keyed) {
            (Sort::Newest, true) => "k.created DESC, cases.doc_id DESC",
            (Sort::Oldest, true) => "k.created ASC, cases.doc_id ASC",
            (Sort::Newest, false) => "created_at DESC, doc_id DESC",
            (Sort::Oldest, false) => "created_at ASC, doc_id ASC",
            (Sort::Due, _) => "due_on IS NULL, due_on ASC, created_at ASC, doc_id ASC",
        };
        let limit = if f.limit == 0 {
            50
        } else {
            f.limit.min(10_000)
        };
        let sql = format!(
            "SELECT doc_id, number, item_code, item_name, kind, status, conflict, origin, holder, applicant_name, delegated,
                    created_at, due_on, {LIGHT_SQL}, due_provisional, legal_provisional, supervisions_open, follow_up_due FROM {}{} ORDER BY {order} LIMIT {limit} OFFSET {}",
            fs.from, fs.where_sql, f.offset
        );
        Ok((sql, fs.params))
    }

    /// One page of cases matching a filter.
    pub fn list(&mut self, f: &CaseFilter) -> Result<Vec<CaseRow>> {
        let (sql, params) = self.list_sql(f)?;
        let conn = self.store_conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let refs: Vec<&dyn ToSql> = params.iter().map(|p| p.as_ref()).collect();
        let rows = stmt
            .query_map(refs.as_slice(), |r| {
                Ok(CaseRow {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    item_code: r.get(2)?,
                    item_name: r.get(3)?,
                    kind: r.get(4)?,
                    status: r.get(5)?,
                    conflict: r.get(6)?,
                    origin: r.get(7)?,
                    holder: r.get(8)?,
                    applicant: r.get(9)?,
                    delegated: r.get(10)?,
                    created_at: r.get(11)?,
                    due_on: r.get(12)?,
                    due_provisional: r.get(14)?,
                    provisional: r.get::<_, bool>(14)? || r.get::<_, bool>(15)?,
                    light: r
                        .get::<_, Option<i64>>(13)?
                        .and_then(Light::from_code)
                        .map(|l| l.as_str().to_string()),
                    supervisions_open: r.get(16)?,
                    follow_up_due: r.get(17)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// How many cases match a filter (ignoring paging).
    pub fn count(&mut self, f: &CaseFilter) -> Result<u64> {
        self.refresh()?;
        let fs = self.filter_sql(f)?;
        let keys_only;
        let from = if fs.keys_only {
            keys_only = format!("{} AS k", self.keys_table()?);
            keys_only.as_str()
        } else {
            fs.from.as_str()
        };
        // `?1` (today) is always bound; selecting it keeps the parameter count right without a light
        // filter.
        let sql = format!("SELECT count(*), ?1 FROM {from}{}", fs.where_sql);
        let refs: Vec<&dyn ToSql> = fs.params.iter().map(|p| p.as_ref()).collect();
        let n: i64 = self
            .store_conn()
            .prepare_cached(&sql)?
            .query_row(refs.as_slice(), |r| r.get(0))?;
        Ok(u(n))
    }

    fn store_conn(&self) -> &rusqlite::Connection {
        self.store_ref().conn()
    }

    /// The search keys to read: `search_keys`, and `search_keys_new` beside it while that holds
    /// keys not merged yet (after a burst of new cases, issue #14; see `store::index`). Most of
    /// the time it holds none, and a search reads the one table in its order.
    fn keys_table(&self) -> Result<&'static str> {
        let waiting: bool = self
            .store_conn()
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM search_keys_new)")?
            .query_row([], |r| r.get(0))?;
        Ok(if waiting {
            "(SELECT term, created, case_row FROM search_keys
              UNION ALL SELECT term, created, case_row FROM search_keys_new)"
        } else {
            "search_keys"
        })
    }
}
