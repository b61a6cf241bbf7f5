//! The stored shape of a case document.
//!
//! The structs here are hydrated from and reconciled into Automerge with `autosurgeon`. Field
//! names are part of the stored format (and of the sync format between nodes of different
//! versions), so they only ever get added, never renamed; every field added later must hydrate as
//! missing on old documents.

use crate::account::Actor;
use crate::catalog::CaseKind;
use crate::error::{NodeError, Result};
use crate::station::Tier;
use automerge::{Automerge, ObjType, ROOT, ReadDoc};
use autosurgeon::{Hydrate, Reconcile};
use std::collections::BTreeMap;

/// The schema tag written into every case document.
pub const CASE_SCHEMA: &str = "yizhan/case/1";

/// A whole case document.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct CaseDoc {
    /// Always [`CASE_SCHEMA`].
    pub schema: String,
    /// The case id, which is also the document id (a UUID).
    pub id: String,
    /// The human-readable case number, unique across the network without coordination.
    pub number: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// The station that took the case in.
    pub origin: String,
    /// The node that took the case in.
    pub origin_node: String,
    /// The service item as it was at intake.
    pub item: ItemSnapshot,
    /// The applicant (personal data).
    pub applicant: Applicant,
    /// The proxy agent's handling (代办), when the case was taken in on a villager's behalf.
    #[autosurgeon(missing = "Default::default")]
    pub delegation: Option<Delegation>,
    /// The account that took the case in, with its role as it was (issue #12); missing on
    /// cases taken in before accounts or at a station without accounts.
    #[autosurgeon(missing = "Default::default")]
    pub intake_by: Option<Actor>,
    /// The name of whoever took the case in; missing on cases taken in before issue #12.
    #[autosurgeon(missing = "Default::default")]
    pub intake_operator: Option<String>,
    /// The node that sends the intake notice (收件通知) to the applicant (issue #15): the node
    /// that took the case in when it has a sender, otherwise its township's first node. Missing
    /// on cases taken in before notices; no node sends anything for those.
    #[autosurgeon(missing = "Default::default")]
    pub notices_by: Option<String>,
    /// The materials received at the window at intake, for a case taken in without an agent
    /// (an agent's are in `delegation.handed_over`); missing on cases taken in before issue #13,
    /// whose received materials were not recorded.
    #[autosurgeon(missing = "Default::default")]
    pub received: Option<Vec<String>>,
    /// The append-only event log.
    pub events: Vec<Event>,
}

/// The service item as it was when the case was taken in; later catalog edits do not change it.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct ItemSnapshot {
    /// Item code.
    pub code: String,
    /// Item name.
    pub name: String,
    /// 即办件, 承诺件 or 咨询件, stored as `instant`, `promised` or `consult`.
    pub kind: CaseKind,
    /// 法定时限, working days.
    pub legal_days: u32,
    /// 承诺时限, working days.
    pub promised_days: u32,
    /// The tier that accepts and decides the item, stored as `village`, `township` or `city`.
    pub tier: Tier,
    /// Required materials.
    pub materials: Vec<String>,
    /// Departments that must each approve (并联审批).
    pub departments: Vec<String>,
}

/// The applicant. ID number and phone are personal data: they never go to logs.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Applicant {
    /// Full name.
    pub name: String,
    /// Resident ID number (GB 11643), or empty.
    pub id_number: String,
    /// Phone, or empty.
    pub phone: String,
    /// Address, or empty.
    pub address: String,
}

impl Applicant {
    /// An applicant known by name only: ID number, phone and address left empty.
    pub fn named(name: impl Into<String>) -> Applicant {
        Applicant {
            name: name.into(),
            id_number: String::new(),
            phone: String::new(),
            address: String::new(),
        }
    }
}

/// The proxy agent's handling on a villager's behalf (代办).
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Delegation {
    /// The proxy agent (代办员) who took the case in.
    pub agent: String,
    /// Whether the letter of entrustment (委托书) was recorded.
    pub entrustment: bool,
    /// Materials the villager handed over to the agent (材料交接).
    pub handed_over: Vec<String>,
    /// The agent's account (issue #12); missing on cases taken in before accounts existed.
    #[autosurgeon(missing = "Default::default")]
    pub agent_account: Option<String>,
    /// The agent's work phone, printed on the receipt; missing before accounts existed.
    #[autosurgeon(missing = "Default::default")]
    pub agent_phone: Option<String>,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Event {
    /// A UUID; with `at` it orders the log.
    pub id: String,
    /// The action's stored name (`accept`, `forward`, …), see [`crate::case::Action::kind`].
    pub kind: String,
    /// When it happened by its author's clock (corrected by the author's estimated offset from
    /// the city's clock, issue #11), milliseconds since the Unix epoch. Dates, deadlines and
    /// statistics use it. It is *not* the order: a village laptop whose clock runs two days
    /// ahead must not push a township's later completion two days into the future.
    pub at: i64,
    /// The hybrid logical clock stamp that orders the log: `max(at, every stamp the author had
    /// seen + 1)`, so that the order `(order, id)` respects causality on every node whatever
    /// the clocks say. Missing on events written before issue #11, whose `at` was such a stamp.
    #[autosurgeon(missing = "Default::default")]
    pub order: Option<i64>,
    /// The station where it happened.
    pub station: String,
    /// The node that recorded it.
    pub node: String,
    /// Who did it: the account's name as it was (before accounts, free text).
    pub operator: String,
    /// The account that did it, with its role and department as they were (issue #12). Missing
    /// on events written before accounts, or at a station that has no accounts yet.
    #[autosurgeon(missing = "Default::default")]
    pub by: Option<Actor>,
    /// The id of the last applied status-changing event the author had seen; a mismatch in the
    /// fold reveals concurrent, conflicting transitions.
    pub prev: String,
    /// The action's fields (`to`, `dept`, `reason`, `level` …), all as text.
    pub fields: BTreeMap<String, String>,
    /// The node that sends the notices this event produces (issue #15), chosen by its author
    /// when it was written (see `crate::notice::responsible_node`). Missing on events written
    /// before notices; no node sends anything for those.
    #[autosurgeon(missing = "Default::default")]
    pub notices_by: Option<String>,
}

impl CaseDoc {
    /// A case just taken in: no event yet, and none of the intake's optional records (delegation,
    /// intake account and operator, notice sender, materials received), which callers that have
    /// them set with struct update syntax. One constructor keeps the tests, the in-memory replica
    /// and the generator in step when a field is added.
    pub fn new(
        id: String,
        number: String,
        created_at: i64,
        origin: &str,
        origin_node: &str,
        item: ItemSnapshot,
        applicant: Applicant,
    ) -> CaseDoc {
        CaseDoc {
            schema: CASE_SCHEMA.into(),
            id,
            number,
            created_at,
            origin: origin.into(),
            origin_node: origin_node.into(),
            item,
            applicant,
            delegation: None,
            intake_by: None,
            intake_operator: None,
            notices_by: None,
            received: None,
            events: Vec::new(),
        }
    }

    /// Events in fold order: by `(order, id)`.
    pub fn ordered_events(&self) -> Vec<&Event> {
        let mut events: Vec<&Event> = self.events.iter().collect();
        events.sort_by(|a, b| (a.order_stamp(), &a.id).cmp(&(b.order_stamp(), &b.id)));
        events
    }

    /// The event that records `action` taken at `now_ms` (the author's corrected time): dated
    /// `now_ms`, ordered after every event already in the log (so that `(order, id)` respects
    /// causality even when clocks disagree), and pointing at the last status change the author
    /// has seen (so that the fold can spot concurrent ones).
    #[allow(clippy::too_many_arguments)]
    pub fn next_event(
        &self,
        prev: &str,
        action: &super::action::Action,
        id: String,
        now_ms: i64,
        station: &str,
        node: &str,
        operator: &str,
        by: Option<&Actor>,
    ) -> Event {
        Event {
            id,
            kind: action.kind().to_string(),
            at: now_ms,
            order: Some(now_ms.max(self.last_order() + 1)),
            station: station.to_string(),
            node: node.to_string(),
            operator: operator.trim().to_string(),
            by: by.cloned(),
            prev: prev.to_string(),
            fields: action.fields(),
            notices_by: None,
        }
    }

    /// The latest ordering stamp, or the creation time for a case with no events.
    pub fn last_order(&self) -> i64 {
        self.events
            .iter()
            .map(Event::order_stamp)
            .max()
            .unwrap_or(self.created_at)
            .max(self.created_at)
    }

    /// The latest event time, or the creation time for a case with no events.
    pub fn last_at(&self) -> i64 {
        self.events
            .iter()
            .map(|e| e.at)
            .max()
            .unwrap_or(self.created_at)
            .max(self.created_at)
    }
}

impl Event {
    /// The stamp this event is ordered by: its `order`, or for an event written before the
    /// ordering stamp existed, its `at` (which was one).
    pub fn order_stamp(&self) -> i64 {
        self.order.unwrap_or(self.at)
    }
}

fn reconcile_err(doc: &str, e: autosurgeon::ReconcileError) -> NodeError {
    NodeError::CorruptDocument {
        doc: doc.to_string(),
        reason: e.to_string(),
    }
}

/// Writes a new case document into an empty Automerge document, as one change.
pub fn write_case(am: &mut Automerge, case: &CaseDoc) -> Result<()> {
    let mut tx = am.transaction();
    autosurgeon::reconcile(&mut tx, case).map_err(|e| reconcile_err(&case.id, e))?;
    tx.commit();
    Ok(())
}

/// Appends one event to a case document's log, as one change. This is the only way a case
/// document changes after intake.
pub fn append_event(am: &mut Automerge, doc_id: &str, event: &Event) -> Result<()> {
    let events = match am.get(ROOT, "events")? {
        Some((automerge::Value::Object(ObjType::List), obj)) => obj,
        _ => {
            return Err(NodeError::CorruptDocument {
                doc: doc_id.to_string(),
                reason: "it has no events list".into(),
            });
        }
    };
    let len = am.length(&events);
    let mut tx = am.transaction();
    autosurgeon::reconcile_insert(&mut tx, events, len, event)
        .map_err(|e| reconcile_err(doc_id, e))?;
    tx.commit();
    Ok(())
}

/// Reads a case document.
pub fn read_case(am: &Automerge, doc_id: &str) -> Result<CaseDoc> {
    // Each object listed once rather than a seek per field (issue #14: a quarter of applying).
    let doc: CaseDoc = autosurgeon::hydrate(&super::one_pass::OnePass::new(am)).map_err(|e| {
        NodeError::CorruptDocument {
            doc: doc_id.to_string(),
            reason: e.to_string(),
        }
    })?;
    if doc.schema != CASE_SCHEMA {
        return Err(NodeError::CorruptDocument {
            doc: doc_id.to_string(),
            reason: format!("unknown schema {:?}", doc.schema),
        });
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::action::Action;
    use crate::case::fold::{Status, fold};

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    /// 2026-03-02 09:00 China time, a Monday.
    const T0: i64 = 1_772_413_200_000;

    fn case_at(origin: &str) -> CaseDoc {
        CaseDoc::new(
            "c1".into(),
            "T01-1-000001".into(),
            T0,
            origin,
            "n-township",
            ItemSnapshot {
                code: "I1".into(),
                name: "事项".into(),
                kind: CaseKind::Promised,
                legal_days: 20,
                promised_days: 5,
                tier: Tier::Township,
                materials: vec![],
                departments: vec![],
            },
            Applicant::named("张三"),
        )
    }

    fn push(doc: &mut CaseDoc, action: &Action, id: &str, now: i64, station: &str) -> i64 {
        let state = fold(doc);
        let ev = doc.next_event(
            &state.last_transition,
            action,
            id.into(),
            now,
            station,
            station,
            "x",
            None,
        );
        let at = ev.at;
        doc.events.push(ev);
        at
    }

    /// A case document written before the optional fields existed (the intake's and each
    /// event's account, the event's order stamp, the notices' sender, the materials received)
    /// has none of their keys; it must still read, as `None`, or every case of an upgraded
    /// station would be unreadable.
    #[test]
    fn a_case_document_from_before_the_optional_fields_still_reads() {
        use automerge::transaction::Transactable as _;
        let mut doc = case_at("T01");
        push(&mut doc, &Action::Accept, "e1", T0 + HOUR, "T01");
        let mut am = Automerge::new();
        write_case(&mut am, &doc).expect("write");
        let mut tx = am.transaction();
        for key in ["intake_by", "intake_operator", "notices_by", "received"] {
            tx.delete(ROOT, key).expect("delete a root key");
        }
        let (_, events) = tx
            .get(ROOT, "events")
            .expect("events")
            .expect("an event list");
        let (_, event) = tx.get(&events, 0).expect("event").expect("one event");
        for key in ["order", "by", "notices_by"] {
            tx.delete(&event, key).expect("delete an event key");
        }
        tx.commit();
        let read = read_case(&am, "c1").expect("an older document reads");
        assert_eq!(read.intake_by, None);
        assert_eq!(read.received, None);
        assert_eq!(read.notices_by, None);
        assert_eq!(read.events.len(), 1);
        assert_eq!(read.events[0].order, None);
        assert_eq!(read.events[0].by, None);
    }

    /// A village laptop two days fast adds a note; the township then completes the case with
    /// its correct clock. The completion is dated by the township's clock (not pushed after the
    /// village's future stamp), yet still folds after the note.
    #[test]
    fn a_fast_clock_elsewhere_does_not_move_this_nodes_dates() {
        let mut doc = case_at("T01");
        push(&mut doc, &Action::Accept, "e1", T0 + HOUR, "T01");
        let note = Action::Note {
            text: "村里补充".into(),
        };
        push(&mut doc, &note, "e2", T0 + 2 * HOUR + 2 * DAY, "T01");
        let done = push(&mut doc, &Action::Complete, "e3", T0 + 3 * HOUR, "T01");
        assert_eq!(done, T0 + 3 * HOUR, "dated by its author's own clock");
        let ordered: Vec<&str> = doc.ordered_events().iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ordered, ["e1", "e2", "e3"], "causal order kept");
        let state = fold(&doc);
        assert_eq!(state.status, Status::Completed);
        assert_eq!(state.stopped_at, Some(T0 + 3 * HOUR));
    }

    /// Events written before the ordering stamp existed order by `at`, and a new event after
    /// them orders after the latest.
    #[test]
    fn old_events_without_an_order_stamp_keep_their_order() {
        let mut doc = case_at("T01");
        push(&mut doc, &Action::Accept, "e1", T0 + 5 * HOUR, "T01");
        doc.events[0].order = None;
        push(&mut doc, &Action::Complete, "e0", T0 + HOUR, "T01");
        let ordered: Vec<&str> = doc.ordered_events().iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ordered, ["e1", "e0"]);
        assert_eq!(doc.events[1].order, Some(T0 + 5 * HOUR + 1));

        // Stored and read back, a missing stamp stays missing and a present one survives.
        let mut am = Automerge::new();
        write_case(&mut am, &doc).expect("write");
        assert_eq!(read_case(&am, "c1").expect("read"), doc);
    }
}
