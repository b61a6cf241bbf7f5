//! The case index: tables derived from case documents for lists, filters and statistics.
//!
//! [`upsert`] writes one case's row, its route and department rows, and moves the case between
//! the counter rows of `case_counts` and `dept_counts`, all inside the caller's transaction. The
//! whole index can be dropped and rebuilt from the documents ([`clear`] then `upsert` per case).
//! It also writes the case's search keys (`search_keys`, see [`crate::search`]) when it is first
//! indexed; they depend only on intake data, so later updates leave them alone.
//!
//! Lights depend on today's date, so they are not stored: the row stores the three dates that
//! decide them and [`LIGHT_SQL`] turns those into a light for the `?today` parameter, exactly as
//! [`crate::case::Deadline::light`] does in Rust.

use crate::case::Light;
use crate::error::Result;
use crate::search;
use rusqlite::{Connection, OptionalExtension, params};

/// A case's row in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    /// Case id.
    pub doc_id: String,
    /// Case number.
    pub number: String,
    /// Item code.
    pub item_code: String,
    /// Item name.
    pub item_name: String,
    /// `instant`, `promised` or `consult`.
    pub kind: String,
    /// Status name.
    pub status: String,
    /// Outcome of completion (`approved`/`rejected`).
    pub outcome: Option<String>,
    /// Unsettled conflict.
    pub conflict: bool,
    /// Origin station.
    pub origin: String,
    /// Current holder.
    pub holder: String,
    /// The origin's township code, or empty.
    pub township: String,
    /// The origin's village code, or empty.
    pub village: String,
    /// Applicant name.
    pub applicant_name: String,
    /// Taken in by a proxy agent (代办).
    pub delegated: bool,
    /// Creation time (ms).
    pub created_at: i64,
    /// The last event's ordering stamp (ms; see `Event::order`): a change appended after an
    /// agent looked is newer than the look, whatever the authors' clocks said.
    pub updated_at: i64,
    /// Acceptance date.
    pub accepted_on: Option<String>,
    /// Clock state code (0 not started, 1 running, 2 paused, 3 stopped).
    pub clock: i64,
    /// Promised due date.
    pub due_on: Option<String>,
    /// First yellow day.
    pub yellow_on: Option<String>,
    /// Legal due date.
    pub legal_due_on: Option<String>,
    /// The promised due date is provisional (counted into a year without a calendar rule).
    pub due_provisional: bool,
    /// The legal due date is provisional.
    pub legal_provisional: bool,
    /// Light frozen while paused.
    pub frozen_light: Option<i64>,
    /// The day the clock stopped.
    pub stopped_on: Option<String>,
    /// Completed within the promised limit.
    pub on_time: Option<bool>,
    /// Rating level.
    pub rating: Option<i64>,
    /// Open follow-up deadline.
    pub follow_up_due: Option<String>,
    /// Number of video consults.
    pub consults: i64,
    /// Every station on the route.
    pub route: Vec<String>,
    /// `(department, decision)` for every required department.
    pub depts: Vec<(String, String)>,
    /// The case's search keys, sorted ([`crate::search::case_keys`]): hashes, never the terms.
    pub search_keys: Vec<i64>,
    /// The account that decided the case (办结, 不予许可, 不予受理), or empty.
    pub decided_by: String,
    /// That account's name as it was.
    pub decided_by_name: String,
    /// Working days from acceptance to the decision, for a decided case.
    pub handling_days: Option<i64>,
    /// 督办 notices not yet replied to.
    pub supervisions_open: i64,
    /// Every account that made an event on the case, sorted (re-derived when one is disabled).
    pub actors: Vec<String>,
}

/// SQL for a case's light on the date bound as `?1` (`NULL` when it has none).
pub const LIGHT_SQL: &str = "(CASE clock WHEN 1 THEN (CASE WHEN ?1 > legal_due_on THEN 3 WHEN ?1 > due_on THEN 2 WHEN ?1 >= yellow_on THEN 1 ELSE 0 END) WHEN 2 THEN frozen_light END)";

struct CountKey {
    township: String,
    village: String,
    item_code: String,
    kind: String,
    status: String,
    on_time: i64,
    rating: i64,
    delegated: i64,
    conflict: i64,
    consults: i64,
}

impl CountKey {
    fn of(row: &IndexRow) -> CountKey {
        CountKey {
            township: row.township.clone(),
            village: row.village.clone(),
            item_code: row.item_code.clone(),
            kind: row.kind.clone(),
            status: row.status.clone(),
            on_time: row.on_time.map_or(-1, i64::from),
            rating: row.rating.unwrap_or(0),
            delegated: i64::from(row.delegated),
            conflict: i64::from(row.conflict),
            consults: row.consults,
        }
    }

    fn bump(&self, conn: &Connection, by: i64) -> Result<()> {
        conn.prepare_cached(
            "INSERT INTO case_counts (township, village, item_code, kind, status, on_time, rating, delegated, conflict, consults, n)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT DO UPDATE SET n = n + excluded.n, consults = consults + excluded.consults",
        )?
        .execute(params![
            self.township,
            self.village,
            self.item_code,
            self.kind,
            self.status,
            self.on_time,
            self.rating,
            self.delegated,
            self.conflict,
            self.consults * by,
            by
        ])?;
        Ok(())
    }
}

fn bump_dept(conn: &Connection, dept: &str, township: &str, decision: &str, by: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO dept_counts (dept, township, decision, n) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?
    .execute(params![dept, township, decision, by])?;
    Ok(())
}

/// Removes a case from the counters (before its row is replaced or deleted).
fn uncount(conn: &Connection, doc_id: &str) -> Result<()> {
    let old = conn
        .prepare_cached(
            "SELECT township, village, item_code, kind, status, on_time, rating, delegated, conflict, consults
             FROM cases WHERE doc_id = ?1",
        )?
        .query_row([doc_id], |r| {
            Ok(CountKey {
                township: r.get(0)?,
                village: r.get(1)?,
                item_code: r.get(2)?,
                kind: r.get(3)?,
                status: r.get(4)?,
                on_time: r.get::<_, Option<i64>>(5)?.unwrap_or(-1),
                rating: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                delegated: r.get(7)?,
                conflict: r.get(8)?,
                consults: r.get(9)?,
            })
        })
        .optional()?;
    let Some(old) = old else { return Ok(()) };
    old.bump(conn, -1)?;
    let mut stmt =
        conn.prepare_cached("SELECT dept, decision FROM case_depts WHERE doc_id = ?1")?;
    let depts = stmt
        .query_map([doc_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (dept, decision) in depts {
        bump_dept(conn, &dept, &old.township, &decision, -1)?;
    }
    Ok(())
}

/// Search keys to insert into `search_keys`, gathered over a received batch and written at its
/// end in key order ([`PendingKeys::write`]).
///
/// A case's keys are hashes, so its fifteen or so keys land on fifteen pages spread over the
/// whole table; written case by case, a batch of a thousand new cases reads and dirties most of
/// the table's pages in random order. Written sorted, the batch walks the table once, from the
/// first page to the last (issue #14).
#[derive(Debug, Default)]
pub(crate) struct PendingKeys(Vec<(i64, i64, i64)>);

impl PendingKeys {
    /// Inserts the gathered keys, in key order, in the caller's transaction: a burst's into
    /// `search_keys_new`, merged into `search_keys` here once it holds [`MERGE_KEYS_AT`] keys,
    /// else when the node is idle or closes ([`merge_new_keys`]).
    pub(crate) fn write(mut self, conn: &Connection) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0.sort_unstable();
        // A few keys (a case taken in or a small batch) go straight to `search_keys` while none
        // wait, so that a station's searches read the one table in its order; only a burst's
        // keys wait to be merged.
        let waiting: i64 = conn
            .prepare_cached("SELECT value FROM counters WHERE name = 'new_keys'")?
            .query_row([], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let direct = waiting == 0 && self.0.len() < DIRECT_KEYS;
        let table = if direct {
            "search_keys"
        } else {
            "search_keys_new"
        };
        let mut ins = conn.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {table} (term, created, case_row) VALUES (?1, ?2, ?3)"
        ))?;
        for &(term, created, case_row) in &self.0 {
            ins.execute(params![term, created, case_row])?;
        }
        if direct {
            return Ok(());
        }
        let held: i64 = conn
            .prepare_cached(
                "UPDATE counters SET value = value + ?1 WHERE name = 'new_keys' RETURNING value",
            )?
            .query_row([i64::try_from(self.0.len()).unwrap_or(i64::MAX)], |r| {
                r.get(0)
            })?;
        if held >= MERGE_KEYS_AT {
            merge_new_keys(conn, i64::MAX)?;
        }
        Ok(())
    }
}

/// Fewer keys than this (about 65 cases), written while none wait, go straight to `search_keys`.
const DIRECT_KEYS: usize = 1_000;

/// How many keys `search_keys_new` may hold before a write merges them (about 20,000 cases):
/// its pages stay few enough that a batch's keys dirty a small share of the file, and a burst
/// such as a first contact of 100,000 cases merges a handful of times instead of rewriting the
/// big table at every commit.
pub(crate) const MERGE_KEYS_AT: i64 = 300_000;

/// How many keys the idle node merges per transaction: about a tenth of a second of the store
/// thread, so that the window's requests never wait long behind it.
pub(crate) const MERGE_KEYS_IDLE: i64 = 50_000;

/// Moves up to `limit` keys, the first in key order, from `search_keys_new` into `search_keys`,
/// in the caller's transaction; returns how many keys are still waiting. In key order, the big
/// table's pages are each written once per merge.
pub(crate) fn merge_new_keys(conn: &Connection, limit: i64) -> Result<i64> {
    // The first key not moved, if any: everything before it moves.
    let bound: Option<(i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT term, created, case_row FROM search_keys_new
             ORDER BY term, created, case_row LIMIT 1 OFFSET ?1",
        )?
        .query_row([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match bound {
        None => {
            conn.execute_batch(
                "INSERT OR IGNORE INTO search_keys (term, created, case_row)
                   SELECT term, created, case_row FROM search_keys_new ORDER BY term, created, case_row;
                 DELETE FROM search_keys_new;
                 UPDATE counters SET value = 0 WHERE name = 'new_keys';",
            )?;
            Ok(0)
        }
        Some((term, created, case_row)) => {
            let before = "(term, created, case_row) < (?1, ?2, ?3)";
            conn.prepare_cached(&format!(
                "INSERT OR IGNORE INTO search_keys (term, created, case_row)
                   SELECT term, created, case_row FROM search_keys_new WHERE {before}
                   ORDER BY term, created, case_row"
            ))?
            .execute(params![term, created, case_row])?;
            conn.prepare_cached(&format!("DELETE FROM search_keys_new WHERE {before}"))?
                .execute(params![term, created, case_row])?;
            let left: i64 =
                conn.query_row("SELECT count(*) FROM search_keys_new", [], |r| r.get(0))?;
            conn.execute(
                "UPDATE counters SET value = ?1 WHERE name = 'new_keys'",
                [left],
            )?;
            Ok(left)
        }
    }
}

/// Writes (or replaces) a case's index rows and keeps the counters in step.
pub(crate) fn upsert(conn: &Connection, row: &IndexRow) -> Result<()> {
    let mut keys = PendingKeys::default();
    upsert_deferring_keys(conn, row, &mut keys)?;
    keys.write(conn)
}

/// [`upsert`], with the case's new search keys added to `keys` instead of inserted: the caller
/// writes them (`PendingKeys::write`) in the same transaction, before anything reads them.
pub(crate) fn upsert_deferring_keys(
    conn: &Connection,
    row: &IndexRow,
    keys: &mut PendingKeys,
) -> Result<()> {
    uncount(conn, &row.doc_id)?;
    let sig = search::signature(row.created_at, &row.search_keys);
    // `search_keys` refers to the case's `row_id`, so a replaced row keeps its number.
    let old: Option<(i64, i64)> = conn
        .prepare_cached("SELECT row_id, search_sig FROM cases WHERE doc_id = ?1")?
        .query_row([&row.doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // A case's intake columns never change after it is taken in, so an existing row is updated
    // in its handling columns only: SQLite then leaves the indexes over intake columns (number,
    // applicant, creation date by township, village, item) alone, which is most of the cost of a
    // synced batch. A row whose intake columns differ (never, unless the index is stale) is
    // replaced whole below.
    let old_rowid = old.map(|(row_id, _)| row_id);
    let updated = conn
        .prepare_cached(
            "UPDATE cases SET status = ?6, outcome = ?7, conflict = ?8, holder = ?10,
                updated_at = ?16, accepted_on = ?17, clock = ?18, due_on = ?19, yellow_on = ?20,
                legal_due_on = ?21, frozen_light = ?22, stopped_on = ?23, on_time = ?24,
                rating = ?25, follow_up_due = ?26, consults = ?27, due_provisional = ?30,
                legal_provisional = ?31, decided_by = ?32, decided_by_name = ?33,
                handling_days = ?34, supervisions_open = ?35
             WHERE doc_id = ?1 AND number = ?2 AND item_code = ?3 AND item_name = ?4
                AND kind = ?5 AND origin = ?9 AND township = ?11 AND village = ?12
                AND applicant_name = ?13 AND delegated = ?14 AND created_at = ?15
                AND search_sig = ?28",
        )?
        .execute(&row_params(row, &sig, &old_rowid)[..])?;
    if updated == 0 {
        let rowid = insert_row(conn, row, old_rowid, sig)?;
        match old {
            // The keys written for this row are still the case's keys.
            Some((_, old_sig)) if old_sig == sig => {}
            Some((_, old_sig)) => {
                // The keys changed, which the documents never do (the applicant and the number
                // are written once, at intake), so this is a stale or foreign index. The old
                // keys are unknown here (only their hashes were stored, under other terms), so
                // this case's rows are found by a scan of the whole table. A row upgraded from
                // a store without search keys (signature 0) has none to remove.
                if old_sig != 0 {
                    conn.prepare_cached("DELETE FROM search_keys WHERE case_row = ?1")?
                        .execute([rowid])?;
                    conn.prepare_cached("DELETE FROM search_keys_new WHERE case_row = ?1")?
                        .execute([rowid])?;
                    // Keys of the same row still waiting in this batch are as stale.
                    keys.0.retain(|&(_, _, case_row)| case_row != rowid);
                }
                add_keys(keys, row, rowid);
            }
            None => add_keys(keys, row, rowid),
        }
    }
    route_and_counts(conn, row, Fresh::No)
}

/// Adds a case's search keys for its `cases.row_id` to those waiting to be written.
fn add_keys(keys: &mut PendingKeys, row: &IndexRow, rowid: i64) {
    keys.0
        .extend(row.search_keys.iter().map(|&k| (k, row.created_at, rowid)));
}

/// The statement that writes a case's whole row, `$verb` being `INSERT` or `INSERT OR REPLACE`,
/// with its parameters numbered as `row_params` lists them.
macro_rules! insert_case_sql {
    ($verb:literal) => {
        concat!(
            $verb,
            " INTO cases (doc_id, number, item_code, item_name, kind, status, outcome, conflict,
            origin, holder, township, village, applicant_name, delegated, created_at, updated_at,
            accepted_on, clock, due_on, yellow_on, legal_due_on, frozen_light, stopped_on, on_time,
            rating, follow_up_due, consults, search_sig, row_id, due_provisional, legal_provisional,
            decided_by, decided_by_name, handling_days, supervisions_open)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35)"
        )
    };
}

/// [`upsert_deferring_keys`] for a case new to the store (no document was held for it): its row
/// is inserted without first looking for one to uncount or update, which is three lookups of a
/// hundred-thousand-row table saved per case of a first contact (issue #14). A row that is there
/// after all (never, unless the index is stale) fails the insert, and the case is upserted.
pub(crate) fn insert_new_deferring_keys(
    conn: &Connection,
    row: &IndexRow,
    keys: &mut PendingKeys,
) -> Result<()> {
    let sig = search::signature(row.created_at, &row.search_keys);
    let inserted = conn
        .prepare_cached(insert_case_sql!("INSERT"))?
        .execute(&row_params(row, &sig, &None)[..]);
    match inserted {
        Ok(_) => {
            add_keys(keys, row, conn.last_insert_rowid());
            route_and_counts(conn, row, Fresh::Yes)
        }
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            upsert_deferring_keys(conn, row, keys)
        }
        Err(e) => Err(e.into()),
    }
}

/// Inserts (or replaces, keeping `row_id` when given) a case's whole row. Returns its `row_id`.
fn insert_row(conn: &Connection, row: &IndexRow, rowid: Option<i64>, sig: i64) -> Result<i64> {
    conn.prepare_cached(insert_case_sql!("INSERT OR REPLACE"))?
        .execute(&row_params(row, &sig, &rowid)[..])?;
    Ok(rowid.unwrap_or_else(|| conn.last_insert_rowid()))
}

/// The parameters of `upsert`'s update and of `insert_row`, numbered as `insert_row` lists the
/// columns: ?1 `doc_id` to ?27 `consults`, ?28 `search_sig`, ?29 `row_id`, ?30 and ?31 the
/// provisional flags, ?32 to ?35 who decided, the handling days and the open 督办. The update
/// leaves ?29 out (a row keeps its number).
fn row_params<'a>(
    row: &'a IndexRow,
    sig: &'a i64,
    rowid: &'a Option<i64>,
) -> [&'a dyn rusqlite::ToSql; 35] {
    [
        &row.doc_id,
        &row.number,
        &row.item_code,
        &row.item_name,
        &row.kind,
        &row.status,
        &row.outcome,
        &row.conflict,
        &row.origin,
        &row.holder,
        &row.township,
        &row.village,
        &row.applicant_name,
        &row.delegated,
        &row.created_at,
        &row.updated_at,
        &row.accepted_on,
        &row.clock,
        &row.due_on,
        &row.yellow_on,
        &row.legal_due_on,
        &row.frozen_light,
        &row.stopped_on,
        &row.on_time,
        &row.rating,
        &row.follow_up_due,
        &row.consults,
        sig,
        rowid,
        &row.due_provisional,
        &row.legal_provisional,
        &row.decided_by,
        &row.decided_by_name,
        &row.handling_days,
        &row.supervisions_open,
    ]
}

/// Whether a case's row was just inserted, not there before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fresh {
    Yes,
    No,
}

/// Rewrites a case's route and department rows and counts it in the counter tables. A fresh
/// row's old route and department rows are not looked for (two lookups per case of a first
/// contact): they are written and removed in the same transactions as the case's row, so
/// without a row there are none.
fn route_and_counts(conn: &Connection, row: &IndexRow, fresh: Fresh) -> Result<()> {
    if fresh == Fresh::No {
        conn.prepare_cached("DELETE FROM case_route WHERE doc_id = ?1")?
            .execute([&row.doc_id])?;
        conn.prepare_cached("DELETE FROM case_depts WHERE doc_id = ?1")?
            .execute([&row.doc_id])?;
    }
    let mut ins =
        conn.prepare_cached("INSERT OR IGNORE INTO case_route (station, doc_id) VALUES (?1, ?2)")?;
    for s in &row.route {
        ins.execute(params![s, row.doc_id])?;
    }
    let mut ins = conn.prepare_cached(
        "INSERT OR REPLACE INTO case_depts (doc_id, dept, decision) VALUES (?1, ?2, ?3)",
    )?;
    for (dept, decision) in &row.depts {
        ins.execute(params![row.doc_id, dept, decision])?;
        bump_dept(conn, dept, &row.township, decision, 1)?;
    }
    CountKey::of(row).bump(conn, 1)?;
    // Events are only ever appended, so a case's actors only grow: no delete is needed, and a
    // case made without accounts costs nothing here.
    if !row.actors.is_empty() {
        let mut ins = conn.prepare_cached(
            "INSERT OR IGNORE INTO case_actors (account, doc_id) VALUES (?1, ?2)",
        )?;
        for a in &row.actors {
            ins.execute(params![a, row.doc_id])?;
        }
    }
    Ok(())
}

/// The cases some accounts acted on (to re-derive when one of them is disabled or enabled).
pub(crate) fn cases_of_actors(conn: &Connection, accounts: &[String]) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT doc_id FROM case_actors WHERE account IN (SELECT value FROM json_each(?1))
         ORDER BY doc_id",
    )?;
    let list = serde_json::to_string(accounts).unwrap_or_else(|_| "[]".into());
    Ok(stmt
        .query_map([list], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Empties every index table (before a rebuild).
pub(crate) fn clear(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM cases; DELETE FROM case_route; DELETE FROM case_depts; DELETE FROM case_counts; DELETE FROM dept_counts;
         DELETE FROM search_keys; DELETE FROM search_keys_new; DELETE FROM case_actors;
         UPDATE counters SET value = 0 WHERE name = 'new_keys';",
    )?;
    Ok(())
}

/// A light's SQL predicate on the date bound as `?1`, using the partial index of open cases.
pub fn light_predicate(light: Light) -> &'static str {
    match light {
        Light::Green => "((clock = 1 AND ?1 < yellow_on) OR (clock = 2 AND frozen_light = 0))",
        Light::Yellow => {
            "((clock = 1 AND ?1 >= yellow_on AND ?1 <= due_on) OR (clock = 2 AND frozen_light = 1))"
        }
        Light::Red => {
            "((clock = 1 AND ?1 > due_on AND ?1 <= legal_due_on) OR (clock = 2 AND frozen_light = 2))"
        }
        Light::Severe => "((clock = 1 AND ?1 > legal_due_on) OR (clock = 2 AND frozen_light = 3))",
    }
}

/// Every index row, ordered, as text: used to prove a rebuilt index equals the live one.
pub(crate) fn dump(conn: &Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (table, order) in [
        ("cases", "doc_id"),
        ("case_route", "station, doc_id"),
        ("case_depts", "doc_id, dept"),
        (
            "case_counts",
            "township, village, item_code, kind, status, on_time, rating, delegated, conflict",
        ),
        ("dept_counts", "dept, township, decision"),
        ("case_actors", "account, doc_id"),
    ] {
        let filter = if table.ends_with("_counts") {
            " WHERE n != 0"
        } else {
            ""
        };
        // A case's row number is not derived from its document (a rebuild numbers rows afresh).
        let columns = if table == "cases" {
            let mut stmt =
                conn.prepare("SELECT name FROM pragma_table_info('cases') WHERE name != 'row_id'")?;
            let names = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            names.join(", ")
        } else {
            "*".to_string()
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT {columns} FROM {table}{filter} ORDER BY {order}"
        ))?;
        let cols = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let mut line = format!("{table}:");
            for i in 0..cols {
                let v: rusqlite::types::Value = r.get(i)?;
                line.push_str(&format!(" {v:?}"));
            }
            out.push(line);
        }
    }
    // Search keys by the case's id, not its row number, which a rebuild assigns afresh; a key whose
    // case row is missing shows as `NULL`.
    let mut stmt = conn.prepare(
        "SELECT k.term, k.created, c.doc_id FROM (SELECT * FROM search_keys UNION ALL SELECT * FROM search_keys_new) k
         LEFT JOIN cases c ON c.row_id = k.case_row
         ORDER BY c.doc_id, k.term, k.created",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (term, created, doc): (i64, i64, Option<String>) = (r.get(0)?, r.get(1)?, r.get(2)?);
        out.push(format!("search_keys: {term} {created} {doc:?}"));
    }
    Ok(out)
}
