//! What is derived from the documents: a case's view as of a day ([`derive`]: fold, deadlines,
//! light), its index row ([`index_row`]), and the whole-index rebuild ([`rebuild_index`]), which
//! records in the same transaction the fingerprint of the calendar and settings it used
//! ([`index_basis`]) so that `Node::open` can tell a stale index and rebuild it.

use crate::account::Directory;
use crate::calendar::Calendar;
use crate::case::deadline::{Deadline, Light};
use crate::case::doc::{CaseDoc, read_case};
use crate::case::fold::{self};
use crate::error::Result;
use crate::failpoint;
use crate::network::{Roster, Settings};
use crate::node::CaseView;
use crate::store::index::{self, IndexRow};
use crate::store::{DocType, WriteTx};
use chrono::NaiveDate;

/// Rebuilds the whole index inside the caller's transaction, with the given network documents
/// (which may be the ones this transaction is writing, so that a calendar or settings change and
/// the due dates and thresholds that follow from it commit together). Returns the number of
/// cases indexed.
pub(crate) fn rebuild_index(
    wtx: &mut WriteTx<'_>,
    calendar: &Calendar,
    settings: &Settings,
    accounts: &Directory,
    roster: &Roster,
    today: NaiveDate,
) -> Result<usize> {
    if failpoint::hit(failpoint::SKIP_REINDEX) {
        return Ok(0);
    }
    let ids = {
        let mut stmt = wtx
            .sql()
            .prepare("SELECT doc_id FROM docs WHERE doc_type = ?1 ORDER BY doc_id")?;
        stmt.query_map([DocType::Case.as_str()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    index::clear(wtx.sql())?;
    for id in &ids {
        let doc = wtx.with_doc_uncached(id, |am| read_case(am, id))?;
        let view = derive(doc, calendar, settings, accounts, today);
        index::upsert(wtx.sql(), &index_row(&view, roster))?;
    }
    wtx.sql()
        .execute("DELETE FROM meta WHERE key = 'reindex'", [])?;
    wtx.set_meta(INDEX_BASIS, &index_basis(calendar, settings))?;
    Ok(ids.len())
}

/// Re-derives the index rows of some cases inside the caller's transaction: those an account
/// acted on, after its disabling changed (events it made afterwards are flagged now, or no
/// longer).
pub(crate) fn rederive(
    wtx: &mut WriteTx<'_>,
    ids: &[String],
    net: (&Calendar, &Settings, &Directory, &Roster),
    today: NaiveDate,
) -> Result<()> {
    let (calendar, settings, accounts, roster) = net;
    for id in ids {
        let doc = wtx.with_doc_uncached(id, |am| read_case(am, id))?;
        let view = derive(doc, calendar, settings, accounts, today);
        index::upsert(wtx.sql(), &index_row(&view, roster))?;
    }
    Ok(())
}

/// The meta key recording what the index was computed from ([`index_basis`]).
pub(crate) const INDEX_BASIS: &str = "index_basis";

/// A fingerprint of the calendar and settings that due dates, provisional flags and yellow
/// thresholds are computed from. [`rebuild_index`] records it in the transaction that rebuilds the
/// index; [`Node::open`] compares it with the documents as they read now and rebuilds when they
/// differ, so that an index left behind by an interrupted rebuild (a crash, a sync that committed
/// the calendar but not the rebuild after it) never outlives a restart.
pub(crate) fn index_basis(calendar: &Calendar, settings: &Settings) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for (year, rule) in calendar.years() {
        h.update(format!("y{year}:"));
        for d in &rule.holidays {
            h.update(format!("h{d}"));
        }
        for d in &rule.workdays {
            h.update(format!("w{d}"));
        }
        h.update(";");
    }
    h.update(format!(
        "s{}/{}",
        settings.yellow_percent, settings.follow_up_days
    ));
    hex::encode(h.finalize())
}

/// Folds a document (checking every actor against the accounts held here) and computes its
/// deadlines and light for `today`.
pub fn derive(
    doc: CaseDoc,
    calendar: &Calendar,
    settings: &Settings,
    accounts: &Directory,
    today: NaiveDate,
) -> CaseView {
    let state = fold::fold_with(&doc, accounts);
    let deadline = Deadline::compute(
        &state,
        doc.item.kind,
        doc.item.promised_days,
        doc.item.legal_days,
        calendar,
        settings,
    );
    let light = deadline.light(today);
    let remaining = deadline.remaining(calendar, today);
    // Handling time (办理用时) in working days, for a decided case: the days the clock ran, as
    // the statistics by operator and department report it.
    let handling_days = match (deadline.accepted_on, deadline.stopped_on, state.stopped_at) {
        (Some(from), Some(to), Some(_)) => Some(calendar.working_days_between(from, to).max(0)),
        _ => None,
    };
    CaseView {
        doc,
        state,
        deadline,
        light,
        remaining,
        today,
        handling_days,
    }
}

pub(crate) fn date(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

/// Each of the item's departments with its decision so far, in the item's order: `approved`,
/// `rejected` or `pending`. The index stores these words and `case show --json` prints them.
pub fn department_decisions(doc: &CaseDoc, state: &fold::CaseState) -> Vec<(String, &'static str)> {
    doc.item
        .departments
        .iter()
        .map(|dept| {
            let decision = match state.approvals.get(dept) {
                Some(a) if a.approved => "approved",
                Some(_) => "rejected",
                None => "pending",
            };
            (dept.clone(), decision)
        })
        .collect()
}

/// The index row of a case.
pub fn index_row(view: &CaseView, roster: &Roster) -> IndexRow {
    let doc = &view.doc;
    let state = &view.state;
    let d = &view.deadline;
    let mut route = state.route.clone();
    route.sort();
    route.dedup();
    IndexRow {
        doc_id: doc.id.clone(),
        number: doc.number.clone(),
        item_code: doc.item.code.clone(),
        item_name: doc.item.name.clone(),
        kind: doc.item.kind.as_str().to_string(),
        status: state.status.as_str().to_string(),
        outcome: state.outcome.map(|o| o.as_str().to_string()),
        conflict: state.conflict(),
        origin: doc.origin.clone(),
        holder: state.holder.clone(),
        township: roster
            .township_of(&doc.origin)
            .map(|s| s.code.clone())
            .unwrap_or_default(),
        village: roster
            .village_of(&doc.origin)
            .map(|s| s.code.clone())
            .unwrap_or_default(),
        applicant_name: doc.applicant.name.clone(),
        delegated: doc.delegation.is_some(),
        created_at: doc.created_at,
        updated_at: doc.last_order(),
        accepted_on: date(d.accepted_on),
        clock: d.clock.code(),
        due_on: date(d.due_on),
        yellow_on: date(d.yellow_on),
        legal_due_on: date(d.legal_due_on),
        due_provisional: d.due_provisional,
        legal_provisional: d.legal_provisional,
        frozen_light: d.frozen_light.map(Light::code),
        stopped_on: date(d.stopped_on),
        on_time: d.on_time,
        rating: state.rating.as_ref().map(|r| i64::from(r.level)),
        follow_up_due: date(d.follow_up_due),
        consults: i64::try_from(state.consults.len()).unwrap_or(i64::MAX),
        route,
        search_keys: crate::search::case_keys(&doc.number, &doc.applicant),
        decided_by: state
            .decided_by
            .as_ref()
            .map(|d| d.0.clone())
            .unwrap_or_default(),
        decided_by_name: state
            .decided_by
            .as_ref()
            .map(|d| d.1.clone())
            .unwrap_or_default(),
        handling_days: view.handling_days,
        supervisions_open: i64::try_from(state.open_supervisions().count()).unwrap_or(i64::MAX),
        actors: {
            let mut a: Vec<String> = doc
                .events
                .iter()
                .filter_map(|e| e.by.as_ref().map(|b| b.account.clone()))
                .collect();
            a.sort();
            a.dedup();
            a
        },
        depts: department_decisions(doc, state)
            .into_iter()
            .map(|(dept, decision)| (dept, decision.to_string()))
            .collect(),
    }
}
