//! The monthly ranking (排名) the centers publish: per operator and per department, the cases
//! decided, the on-time rate, the average handling time in working days and the applicants'
//! satisfaction, read from the case index (`decided_by`, `handling_days`, `case_depts`).
//!
//! An operator is credited with the cases they decided (办结, 不予许可 or 不予受理); a department
//! with the decided cases it took part in (并联审批). Cases decided before accounts existed, or at
//! a station without accounts, have no operator and count only for their departments.

use super::{day_start_ms, u};
use crate::error::Result;
use crate::node::Node;
use chrono::NaiveDate;
use rusqlite::ToSql;
use serde::Serialize;

/// What the ranking groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    /// The operator who decided the case.
    Operator,
    /// The departments that took part in the case's approval.
    Dept,
}

/// One row of the ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankRow {
    /// The account id, or the department.
    pub key: String,
    /// The person's name (as the account reads now, or as it was recorded), or the department.
    pub name: String,
    /// The station of the person (empty for a department).
    pub station: String,
    /// Cases decided.
    pub decided: u64,
    /// Decided within the promised limit.
    pub on_time: u64,
    /// Decided late.
    pub late: u64,
    /// `on_time / (on_time + late)`.
    pub on_time_rate: Option<f64>,
    /// Average handling time, working days from acceptance to the decision.
    pub avg_handling_days: Option<f64>,
    /// Rated cases.
    pub rated: u64,
    /// Average rating level (1 非常满意 … 5 非常不满意).
    pub avg_rating: Option<f64>,
    /// Share of ratings at 1 or 2.
    pub satisfaction_rate: Option<f64>,
}

impl Node {
    /// The ranking by operator or department over an area (a station code; `None` for the
    /// whole network) and the cases created between `from` and `to` (both inclusive, either
    /// open), best on-time rate first.
    pub fn ranking(
        &mut self,
        by: RankBy,
        area: Option<&str>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<RankRow>> {
        self.refresh()?;
        let mut params: Vec<Box<dyn ToSql>> = vec![Box::new(0_i64)];
        let mut clauses: Vec<String> = vec!["?1 IS NOT NULL".into()];
        if let Some(c) = self.area_clause(area, &mut params)? {
            clauses.push(format!("c.{c}"));
        }
        if let Some(d) = from {
            params.push(Box::new(day_start_ms(d)));
            clauses.push(format!("c.created_at >= ?{}", params.len()));
        }
        if let Some(d) = to.and_then(|d| d.succ_opt()) {
            params.push(Box::new(day_start_ms(d)));
            clauses.push(format!("c.created_at < ?{}", params.len()));
        }
        let measures = "count(*), coalesce(sum(c.on_time = 1), 0), coalesce(sum(c.on_time = 0), 0),
                avg(c.handling_days), count(c.rating), avg(c.rating),
                coalesce(sum(c.rating IN (1, 2)), 0)";
        let sql = match by {
            RankBy::Operator => format!(
                "SELECT c.decided_by, max(c.decided_by_name), {measures} FROM cases c
                 WHERE c.decided_by <> '' AND {} GROUP BY c.decided_by",
                clauses.join(" AND ")
            ),
            RankBy::Dept => format!(
                "SELECT d.dept, d.dept, {measures} FROM case_depts d JOIN cases c ON c.doc_id = d.doc_id
                 WHERE c.stopped_on IS NOT NULL AND {} GROUP BY d.dept",
                clauses.join(" AND ")
            ),
        };
        let refs: Vec<&dyn ToSql> = params.iter().map(|p| p.as_ref()).collect();
        let conn = self.store_ref().conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt
            .query_map(refs.as_slice(), |r| {
                let (on_time, late) = (u(r.get(3)?), u(r.get(4)?));
                let rated = u(r.get(6)?);
                let satisfied = u(r.get(8)?);
                Ok(RankRow {
                    key: r.get(0)?,
                    name: r.get(1)?,
                    station: String::new(),
                    decided: u(r.get(2)?),
                    on_time,
                    late,
                    on_time_rate: (on_time + late > 0)
                        .then(|| on_time as f64 / (on_time + late) as f64),
                    avg_handling_days: r.get(5)?,
                    rated,
                    avg_rating: r.get(7)?,
                    satisfaction_rate: (rated > 0).then(|| satisfied as f64 / rated as f64),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if by == RankBy::Operator {
            for row in &mut rows {
                if let Some(a) = self.accounts().get(&row.key) {
                    row.name = a.name.clone();
                    row.station = a.station.clone();
                }
            }
        }
        rows.sort_by(|a, b| {
            let rate = |r: &RankRow| r.on_time_rate.unwrap_or(-1.0);
            rate(b)
                .total_cmp(&rate(a))
                .then(b.decided.cmp(&a.decided))
                .then(a.key.cmp(&b.key))
        });
        Ok(rows)
    }
}
