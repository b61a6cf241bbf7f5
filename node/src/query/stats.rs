//! Statistics (统计): totals, groups by township, village or department, and per-department
//! decisions, from the counter tables (or, over a date range, from the `cases` table).

use super::{day_start_ms, u};
use crate::case::Light;
use crate::case::deadline::ALL_LIGHTS;
use crate::case::fold::Status;
use crate::error::Result;
use crate::node::Node;
use crate::station::Tier;
use crate::store::index::LIGHT_SQL;
use chrono::NaiveDate;
use rusqlite::ToSql;
use serde::Serialize;
use std::collections::BTreeMap;

/// Statistics grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// By the origin's township.
    Township,
    /// By the origin village.
    Village,
    /// By department (parallel approvals).
    Dept,
    /// By service item.
    Item,
}

impl GroupBy {
    /// Parses `township|village|dept|item`.
    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "township" => Some(GroupBy::Township),
            "village" => Some(GroupBy::Village),
            "dept" => Some(GroupBy::Dept),
            "item" => Some(GroupBy::Item),
            _ => None,
        }
    }
}

/// Counts over a set of cases.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// All cases.
    pub cases: u64,
    /// By status name.
    pub by_status: BTreeMap<String, u64>,
    /// By kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Not yet closed.
    pub open: u64,
    /// Completed or delivered.
    pub completed: u64,
    /// Completed within the promised limit.
    pub on_time: u64,
    /// Completed late.
    pub late: u64,
    /// `on_time / (on_time + late)`.
    pub on_time_rate: Option<f64>,
    /// Open cases by light today.
    pub lights: BTreeMap<String, u64>,
    /// Cases under supervision (clock running or paused) whose promised or legal due date is
    /// provisional: counted into a year the calendar has no rule for yet, so it may still move
    /// when the city adds that year.
    pub provisional: u64,
    /// Rated cases.
    pub rated: u64,
    /// Ratings by level, 1 非常满意 … 5 非常不满意.
    pub ratings: [u64; 5],
    /// Share of ratings at 1 or 2.
    pub satisfaction_rate: Option<f64>,
    /// Follow-ups (整改) still open.
    pub follow_ups_open: u64,
    /// Open follow-ups past their deadline.
    pub follow_ups_overdue: u64,
    /// Delegated (代办) cases.
    pub delegated: u64,
    /// Video consults recorded.
    pub consults: u64,
    /// Cases with an unsettled conflict.
    pub conflicts: u64,
}

impl Totals {
    fn finish(&mut self) {
        let done = self.on_time + self.late;
        self.on_time_rate = (done > 0).then(|| self.on_time as f64 / done as f64);
        self.satisfaction_rate = (self.rated > 0)
            .then(|| (self.ratings[0] + self.ratings[1]) as f64 / self.rated as f64);
        for l in ALL_LIGHTS {
            self.lights.entry(l.as_str().to_string()).or_insert(0);
        }
    }
}

/// One group of the statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Station or item code (empty for cases taken in at the city itself).
    pub key: String,
    /// Its name.
    pub name: String,
    /// Its counts.
    pub totals: Totals,
}

/// Decisions of one department.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeptRow {
    /// Department.
    pub dept: String,
    /// Cases that need its decision.
    pub cases: u64,
    /// Approved.
    pub approved: u64,
    /// Rejected.
    pub rejected: u64,
    /// Not yet decided.
    pub pending: u64,
}

/// The consolidated statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// The date lights and overdue follow-ups are computed for.
    pub today: String,
    /// The area (station code) the statistics cover; empty for everything.
    pub area: String,
    /// Everything in the area.
    pub totals: Totals,
    /// Groups, when asked for (township, village or item).
    pub groups: Vec<Group>,
    /// Departments.
    pub depts: Vec<DeptRow>,
}

impl Node {
    /// Consolidated statistics over an area (a station code; `None` for the whole network).
    pub fn stats(&mut self, by: Option<GroupBy>, area: Option<&str>) -> Result<Stats> {
        self.stats_between(by, area, None, None)
    }

    /// Consolidated statistics over an area, for the cases created between `from` and `to`
    /// (both inclusive, either open). Without a range this reads the counter tables, as
    /// [`Node::stats`] does; with one it counts the `cases` table directly through its creation
    /// index, because the counters carry no dates. The ranged figures cost a scan of the cases
    /// created in the range, so a year at a busy city takes longer than the counters.
    pub fn stats_between(
        &mut self,
        by: Option<GroupBy>,
        area: Option<&str>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Stats> {
        self.refresh()?;
        let today = self.today().format("%Y-%m-%d").to_string();
        let mut params: Vec<Box<dyn ToSql>> = vec![Box::new(today.clone())];
        let area_sql = self.area_clause(area, &mut params)?;
        // The range, as conditions on `created_at` with the same day boundaries (China time) as
        // the list filter, so that a list and the dashboard over one range count the same cases.
        let mut range: Vec<String> = Vec::new();
        if let Some(d) = from {
            params.push(Box::new(day_start_ms(d)));
            range.push(format!("created_at >= ?{}", params.len()));
        }
        if let Some(d) = to {
            // The last day has no successor only at chrono's maximum date; then nothing is cut.
            if let Some(next) = d.succ_opt() {
                params.push(Box::new(day_start_ms(next)));
                range.push(format!("created_at < ?{}", params.len()));
            }
        }
        let ranged = from.is_some() || to.is_some();
        let refs: Vec<&dyn ToSql> = params.iter().map(|p| p.as_ref()).collect();
        let and_range: String = range.iter().map(|c| format!(" AND {c}")).collect();
        let and_area = area_sql
            .as_ref()
            .map(|c| format!(" AND {c}"))
            .unwrap_or_default();
        let where_area = area_sql
            .as_ref()
            .map(|c| format!(" WHERE {c}"))
            .unwrap_or_default();
        // A case with no village is the township's own (or, with no township either, the
        // city's): it is counted under that station, one row per station, never lumped together
        // (issue #13).
        let city = self
            .roster()
            .stations
            .values()
            .find(|s| s.tier() == Tier::City)
            .map(|s| s.code.clone())
            .unwrap_or_default();
        let own = |code: &str| {
            if code.is_empty() {
                city.clone()
            } else {
                code.to_string()
            }
        };
        let key_of = |township: &str, village: &str, item: &str| -> Option<String> {
            match by {
                Some(GroupBy::Township) => Some(own(township)),
                Some(GroupBy::Village) if village.is_empty() => Some(own(township)),
                Some(GroupBy::Village) => Some(village.to_string()),
                Some(GroupBy::Item) => Some(item.to_string()),
                Some(GroupBy::Dept) | None => None,
            }
        };
        let mut totals = Totals::default();
        let mut groups: BTreeMap<String, Totals> = BTreeMap::new();
        let conn = self.store_conn();

        // The counters: one row per distinct combination, not per case. `?1` (today) is bound
        // but unused here; SQLite allows that. With a range the same rows are grouped from the
        // cases created in it, with the counters' encoding of missing values (no on-time verdict
        // is -1, no rating 0), so that one loop reads both.
        let sql = if ranged {
            format!(
                "SELECT township, village, item_code, kind, status, coalesce(on_time, -1), coalesce(rating, 0),
                        delegated, conflict, sum(consults), count(*)
                 FROM cases WHERE ?1 IS NOT NULL{and_area}{and_range}
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
            )
        } else {
            format!(
                "SELECT township, village, item_code, kind, status, on_time, rating, delegated, conflict, consults, n
                 FROM case_counts WHERE n != 0 AND ?1 IS NOT NULL{and_area}"
            )
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(refs.as_slice())?;
        while let Some(r) = rows.next()? {
            let (township, village, item) = place(r)?;
            let kind: String = r.get(3)?;
            let status: String = r.get(4)?;
            let (on_time, rating, delegated, conflict, consults, n): (
                i64,
                i64,
                i64,
                i64,
                i64,
                i64,
            ) = (
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            );
            let n = u(n);
            let add = |t: &mut Totals| {
                t.cases += n;
                *t.by_status.entry(status.clone()).or_default() += n;
                *t.by_kind.entry(kind.clone()).or_default() += n;
                let st = Status::parse(&status);
                if st.is_some_and(|s| !s.is_closed()) {
                    t.open += n;
                }
                if matches!(st, Some(Status::Completed | Status::Delivered)) {
                    t.completed += n;
                }
                match on_time {
                    1 => t.on_time += n,
                    0 => t.late += n,
                    _ => {}
                }
                if (1..=5).contains(&rating) {
                    t.rated += n;
                    t.ratings[usize::try_from(rating - 1).unwrap_or(0)] += n;
                }
                if delegated == 1 {
                    t.delegated += n;
                }
                if conflict == 1 {
                    t.conflicts += n;
                }
                t.consults += u(consults);
            };
            add(&mut totals);
            if let Some(k) = key_of(&township, &village, &item) {
                add(groups.entry(k).or_default());
            }
        }

        // Lights of the open cases, from the partial index of cases under supervision.
        let sql = format!(
            "SELECT township, village, item_code, {LIGHT_SQL} AS light, count(*) FROM cases
             WHERE clock IN (1, 2){and_area}{and_range} GROUP BY township, village, item_code, light"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(refs.as_slice())?;
        while let Some(r) = rows.next()? {
            let (township, village, item) = place(r)?;
            let Some(light) = r.get::<_, Option<i64>>(3)?.and_then(Light::from_code) else {
                continue;
            };
            let n = u(r.get(4)?);
            *totals.lights.entry(light.as_str().to_string()).or_default() += n;
            if let Some(k) = key_of(&township, &village, &item) {
                *groups
                    .entry(k)
                    .or_default()
                    .lights
                    .entry(light.as_str().to_string())
                    .or_default() += n;
            }
        }

        // Cases under supervision with a provisional due date, from their own partial index.
        let sql = format!(
            "SELECT township, village, item_code, count(*) FROM cases
             WHERE clock IN (1, 2) AND (due_provisional = 1 OR legal_provisional = 1)
                AND ?1 IS NOT NULL{and_area}{and_range}
             GROUP BY township, village, item_code"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(refs.as_slice())?;
        while let Some(r) = rows.next()? {
            let (township, village, item) = place(r)?;
            let n = u(r.get(3)?);
            totals.provisional += n;
            if let Some(k) = key_of(&township, &village, &item) {
                groups.entry(k).or_default().provisional += n;
            }
        }

        // Open follow-ups (整改) and those past their deadline.
        let sql = format!(
            "SELECT township, village, item_code, follow_up_due < ?1, count(*) FROM cases
             WHERE follow_up_due IS NOT NULL{and_area}{and_range} GROUP BY 1, 2, 3, 4"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(refs.as_slice())?;
        while let Some(r) = rows.next()? {
            let (township, village, item) = place(r)?;
            let overdue: bool = r.get(3)?;
            let n = u(r.get(4)?);
            let add = |t: &mut Totals| {
                t.follow_ups_open += n;
                if overdue {
                    t.follow_ups_overdue += n;
                }
            };
            add(&mut totals);
            if let Some(k) = key_of(&township, &village, &item) {
                add(groups.entry(k).or_default());
            }
        }

        // Departments. The counters are kept per township; a village's share is counted from the
        // department rows of its own cases, which are few.
        let village_area = area
            .and_then(|code| self.roster().station(code))
            .is_some_and(|s| s.tier() == Tier::Village);
        // A range has no counters either, so it too counts the department rows of its cases.
        let sql = match &area_sql {
            _ if ranged => {
                let scope: String = area_sql
                    .iter()
                    .chain(&range)
                    .map(|c| format!(" AND c.{c}"))
                    .collect();
                format!(
                    "SELECT d.dept, d.decision, count(*) FROM cases c JOIN case_depts d ON d.doc_id = c.doc_id
                     WHERE ?1 IS NOT NULL{scope} GROUP BY d.dept, d.decision"
                )
            }
            Some(clause) if village_area => format!(
                "SELECT d.dept, d.decision, count(*) FROM case_depts d JOIN cases c ON c.doc_id = d.doc_id
                 WHERE c.{clause} AND ?1 IS NOT NULL GROUP BY d.dept, d.decision"
            ),
            _ => format!(
                "SELECT dept, decision, sum(n) FROM dept_counts{} GROUP BY dept, decision",
                if where_area.is_empty() {
                    " WHERE ?1 IS NOT NULL".to_string()
                } else {
                    format!("{where_area} AND ?1 IS NOT NULL")
                }
            ),
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(refs.as_slice())?;
        let mut depts: BTreeMap<String, DeptRow> = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let dept: String = r.get(0)?;
            let decision: String = r.get(1)?;
            let n = u(r.get(2)?);
            let row = depts.entry(dept.clone()).or_insert_with(|| DeptRow {
                dept,
                ..DeptRow::default()
            });
            row.cases += n;
            match decision.as_str() {
                "approved" => row.approved += n,
                "rejected" => row.rejected += n,
                _ => row.pending += n,
            }
        }
        drop(rows);
        drop(stmt);

        // Every station of the grouping's tier in the area has its row, with zeros when it has
        // no cases: a supervisor needs to see the silent ones (issue #13).
        let tier = match by {
            Some(GroupBy::Township) => Some(Tier::Township),
            Some(GroupBy::Village) => Some(Tier::Village),
            _ => None,
        };
        if let Some(tier) = tier {
            let codes: Vec<String> = match area {
                Some(a) => self.roster().subtree(a),
                None => self.roster().stations.keys().cloned().collect(),
            };
            for code in codes {
                if self
                    .roster()
                    .station(&code)
                    .is_some_and(|s| s.tier() == tier)
                {
                    groups.entry(code).or_default();
                }
            }
        }
        totals.finish();
        let groups = groups
            .into_iter()
            .map(|(key, mut t)| {
                t.finish();
                let name = match by {
                    Some(GroupBy::Item) => self.catalog().get(&key).map(|i| i.name.clone()),
                    _ => self.roster().station(&key).map(|s| s.name.clone()),
                }
                .unwrap_or_else(|| {
                    if key.is_empty() {
                        "(本级)".to_string()
                    } else {
                        key.clone()
                    }
                });
                Group {
                    key,
                    name,
                    totals: t,
                }
            })
            .collect();
        Ok(Stats {
            today,
            area: area.unwrap_or_default().to_string(),
            totals,
            groups,
            depts: depts.into_values().filter(|d| d.cases > 0).collect(),
        })
    }
}

/// The first three columns of a statistics row: the case's township, village and item, which
/// every grouped query of [`Node::stats`] selects first for the grouping key.
fn place(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}
