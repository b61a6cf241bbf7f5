//! The stored shape of a case document.
//!
//! The structs here are hydrated from and reconciled into Automerge with `autosurgeon`. Field
//! names are part of the stored format (and of the sync format between nodes of different
//! versions), so they only ever get added, never renamed; every field added later must hydrate as
//! missing on old documents.

use crate::error::{NodeError, Result};
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
    pub delegation: Option<Delegation>,
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
    /// `instant`, `promised` or `consult`.
    pub kind: String,
    /// 法定时限, working days.
    pub legal_days: u32,
    /// 承诺时限, working days.
    pub promised_days: u32,
    /// The tier that accepts and decides the item.
    pub tier: String,
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

/// The proxy agent's handling on a villager's behalf (代办).
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Delegation {
    /// The proxy agent (代办员) who took the case in.
    pub agent: String,
    /// Whether the letter of entrustment (委托书) was recorded.
    pub entrustment: bool,
    /// Materials the villager handed over to the agent (材料交接).
    pub handed_over: Vec<String>,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Event {
    /// A UUID; with `at` it orders the log.
    pub id: String,
    /// The action's stored name (`accept`, `forward`, …), see [`crate::case::Action::kind`].
    pub kind: String,
    /// When, milliseconds since the Unix epoch. Strictly greater than every earlier event the
    /// author had seen, so that the order `(at, id)` respects causality on every node.
    pub at: i64,
    /// The station where it happened.
    pub station: String,
    /// The node that recorded it.
    pub node: String,
    /// Who did it (an operator name or role), free text.
    pub operator: String,
    /// The id of the last applied status-changing event the author had seen; a mismatch in the
    /// fold reveals concurrent, conflicting transitions.
    pub prev: String,
    /// The action's fields (`to`, `dept`, `reason`, `level` …), all as text.
    pub fields: BTreeMap<String, String>,
}

impl CaseDoc {
    /// Events in fold order: by `(at, id)`.
    pub fn ordered_events(&self) -> Vec<&Event> {
        let mut events: Vec<&Event> = self.events.iter().collect();
        events.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        events
    }

    /// The event that records `action` taken now: stamped after every event already in the log
    /// (so that `(at, id)` order respects causality even when clocks disagree), and pointing at
    /// the last status change the author has seen (so that the fold can spot concurrent ones).
    #[allow(clippy::too_many_arguments)]
    pub fn next_event(
        &self,
        state: &super::fold::CaseState,
        action: &super::action::Action,
        id: String,
        now_ms: i64,
        station: &str,
        node: &str,
        operator: &str,
    ) -> Event {
        Event {
            id,
            kind: action.kind().to_string(),
            at: now_ms.max(self.last_at() + 1),
            station: station.to_string(),
            node: node.to_string(),
            operator: operator.trim().to_string(),
            prev: state.last_transition.clone(),
            fields: action.fields(),
        }
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
    let doc: CaseDoc = autosurgeon::hydrate(am).map_err(|e| NodeError::CorruptDocument {
        doc: doc_id.to_string(),
        reason: e.to_string(),
    })?;
    if doc.schema != CASE_SCHEMA {
        return Err(NodeError::CorruptDocument {
            doc: doc_id.to_string(),
            reason: format!("unknown schema {:?}", doc.schema),
        });
    }
    Ok(doc)
}
