//! The stored shape of a case document.
//!
//! The structs here are hydrated from and reconciled into Automerge with `autosurgeon`. Field
//! names are part of the stored format (and of the sync format between nodes of different
//! versions), so they only ever get added, never renamed; every field added later must hydrate as
//! missing on old documents.

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

    /// The latest event time, or the creation time for a case with no events.
    pub fn last_at(&self) -> i64 {
        self.events.iter().map(|e| e.at).max().unwrap_or(self.created_at).max(self.created_at)
    }
}
