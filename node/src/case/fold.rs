//! The transition table and the fold over a case's event log.
//!
//! Status is never stored: [`fold`] replays the log in `(at, id)` order through [`apply`], the one
//! transition table, and every node that holds the same document computes the same state.
//!
//! Local actions are checked with the same table before they are written ([`check`]), so on a
//! single node every event applies. Events can still fail to apply after a merge: two offline nodes
//! may both act on the same state (one completes while another forwards). Such events stay in the
//! log, are shown on the timeline as not applied, and flag the case `conflict` until a person
//! settles it. A status-changing event whose `prev` is not the last status-changing event the fold
//! has applied was written concurrently with it, and flags the conflict too even when it applies.
//!
//! **Who.** An event made by an account carries its actor (account, role and department as they
//! were). Before the table runs, [`crate::account::permits`] checks that the recorded role may take
//! the action (a department's sign-off only by that department's reviewer), and the directory of
//! accounts held here that the account was not disabled at the event's time. An event that fails
//! is kept, shown as not applied and flagged like any other conflict (issue #12).

use super::action::Action;
use super::doc::{CaseDoc, Event, ItemSnapshot};
pub use super::status::{ALL_STATUSES, Status};
use crate::account::{Directory, permits};
use crate::refusal::Refusal;
use std::collections::BTreeMap;

/// A department's decision in a parallel approval (并联审批).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// `true` approved, `false` rejected.
    pub approved: bool,
    /// When.
    pub at: i64,
    /// Where it was recorded.
    pub station: String,
    /// Why (rejections).
    pub reason: String,
}

/// The overall decision of the departments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some required department has not decided yet.
    Pending,
    /// Every required department approved (or none is required).
    Approved,
    /// At least one department rejected.
    Rejected,
}

impl Decision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pending => "pending",
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }
}

/// Why the clock was paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseKind {
    /// 补正: waiting for materials.
    Materials,
    /// 特别程序.
    Special,
}

/// One pause of the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// Why.
    pub kind: PauseKind,
    /// When it started.
    pub start: i64,
    /// When it ended, if it has.
    pub end: Option<i64>,
}

/// A recorded video consult (视频咨询).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultRecord {
    /// When.
    pub at: i64,
    /// The station that recorded it.
    pub station: String,
    /// The other station.
    pub with: String,
    /// Length in minutes.
    pub minutes: u32,
    /// What was discussed.
    pub summary: String,
}

/// The applicant's rating (好差评).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// 1 非常满意 … 5 非常不满意.
    pub level: u8,
    /// When.
    pub at: i64,
    /// The applicant's words.
    pub comment: String,
}

/// A follow-up (整改) opened by a rating of 4 or 5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpCase {
    /// When the bad rating opened it.
    pub opened_at: i64,
    /// When a follow-up call closed it.
    pub closed_at: Option<i64>,
}

/// A 督办 (supervision notice) and its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervision {
    /// The 督办 event's id (a reply names it).
    pub id: String,
    /// When it was sent.
    pub at: i64,
    /// The supervising station.
    pub station: String,
    /// The supervisor's name.
    pub operator: String,
    /// Why.
    pub reason: String,
    /// Working days the holder has to reply, counted from the day after it was sent.
    pub reply_days: u32,
    /// The holder's reply, once made.
    pub reply: Option<SupervisionReply>,
}

/// The holder's reply to a 督办.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisionReply {
    /// When.
    pub at: i64,
    /// The replying station.
    pub station: String,
    /// Who replied.
    pub operator: String,
    /// The reply.
    pub text: String,
}

/// Originals handed back to the applicant (原件退还).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalsReturned {
    /// When.
    pub at: i64,
    /// Where.
    pub station: String,
    /// Who handed them back.
    pub operator: String,
    /// What was handed back.
    pub items: Vec<String>,
}

/// A material that arrived after intake: one the one-time notice asked for (材料已补齐), or one
/// accepted as missing under 容缺受理 and supplied (补齐).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supplied {
    /// The material.
    pub name: String,
    /// When it was recorded as arrived.
    pub at: i64,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// The event id.
    pub id: String,
    /// The event kind.
    pub kind: String,
    /// When.
    pub at: i64,
    /// Where.
    pub station: String,
    /// Who.
    pub operator: String,
    /// The event's fields.
    pub fields: BTreeMap<String, String>,
    /// Whether the fold applied it.
    pub applied: bool,
    /// Why it did not apply, or why it is flagged.
    pub problem: Option<Problem>,
}

/// Why a timeline entry did not apply, or why it is flagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The transition table refused the event in the merged order (a conflict).
    Refused(Refusal),
    /// It applied, but was made concurrently with another change of status (a conflict).
    Concurrent,
    /// It repeats a department's decision; harmless, not a conflict.
    Duplicate,
    /// The event's kind is unknown or its fields are malformed; the stored kind is kept.
    Malformed(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Refused(r) => r.fmt(f),
            Problem::Concurrent => f.write_str("made concurrently with another change of status"),
            Problem::Duplicate => f.write_str("duplicate decision"),
            Problem::Malformed(kind) => write!(f, "unknown or malformed event kind {kind:?}"),
        }
    }
}

/// Everything the fold derives from a case's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseState {
    /// Current status.
    pub status: Status,
    /// The station handling the case now.
    pub holder: String,
    /// Stations the case has been at, in order, starting with the origin.
    pub route: Vec<String>,
    /// When it was accepted (the clock starts the working day after).
    pub accepted_at: Option<i64>,
    /// Materials accepted as missing (容缺受理) and not yet supplied.
    pub gaps: Vec<String>,
    /// The applicant's written promise for the 容缺 materials (e.g. "2026-03-09 前补齐").
    pub gap_promise: String,
    /// Materials that arrived after intake, in the order recorded.
    pub supplied: Vec<Supplied>,
    /// Materials asked for and not yet supplied.
    pub missing: Vec<String>,
    /// Pauses of the clock.
    pub pauses: Vec<Pause>,
    /// When the case was completed or refused.
    pub stopped_at: Option<i64>,
    /// The outcome of completion.
    pub outcome: Option<Decision>,
    /// When the result was delivered.
    pub delivered_at: Option<i64>,
    /// Department decisions by department.
    pub approvals: BTreeMap<String, Approval>,
    /// The applicant's rating.
    pub rating: Option<Rating>,
    /// Follow-ups opened by bad ratings.
    pub follow_up: Option<FollowUpCase>,
    /// Call-backs recorded (回访), including those closing a follow-up.
    pub follow_up_calls: usize,
    /// Video consults.
    pub consults: Vec<ConsultRecord>,
    /// 督办 notices, in the order sent.
    pub supervisions: Vec<Supervision>,
    /// Originals handed back to the applicant.
    pub originals_returned: Vec<OriginalsReturned>,
    /// The account (id) and name of whoever decided the case (办结, 不予许可 or 不予受理), for
    /// the statistics by operator; `None` before a decision or for an event without an account.
    pub decided_by: Option<(String, String)>,
    /// Ids of unsettled conflicting events.
    pub conflicts: Vec<String>,
    /// The id of the last applied status-changing event (`""` before any).
    pub last_transition: String,
    /// The whole log in fold order, with what the fold made of each event.
    pub timeline: Vec<TimelineEntry>,
}

impl CaseState {
    /// The initial state of a freshly taken-in case.
    pub fn new(origin: &str) -> CaseState {
        CaseState {
            status: Status::Submitted,
            holder: origin.to_string(),
            route: vec![origin.to_string()],
            accepted_at: None,
            gaps: Vec::new(),
            gap_promise: String::new(),
            supplied: Vec::new(),
            missing: Vec::new(),
            pauses: Vec::new(),
            stopped_at: None,
            outcome: None,
            delivered_at: None,
            approvals: BTreeMap::new(),
            rating: None,
            follow_up: None,
            follow_up_calls: 0,
            consults: Vec::new(),
            supervisions: Vec::new(),
            originals_returned: Vec::new(),
            decided_by: None,
            conflicts: Vec::new(),
            last_transition: String::new(),
            timeline: Vec::new(),
        }
    }

    /// Whether an unsettled conflict is flagged.
    pub fn conflict(&self) -> bool {
        !self.conflicts.is_empty()
    }

    /// The departments' overall decision for an item.
    pub fn decision(&self, item: &ItemSnapshot) -> Decision {
        if self.approvals.values().any(|a| !a.approved) {
            return Decision::Rejected;
        }
        let all = item
            .departments
            .iter()
            .all(|d| self.approvals.get(d).is_some_and(|a| a.approved));
        if all {
            Decision::Approved
        } else {
            Decision::Pending
        }
    }

    /// 督办 notices not yet replied to.
    pub fn open_supervisions(&self) -> impl Iterator<Item = &Supervision> {
        self.supervisions.iter().filter(|s| s.reply.is_none())
    }

    /// Whether the clock is paused now.
    pub fn paused(&self) -> bool {
        self.pauses.last().is_some_and(|p| p.end.is_none())
    }

    fn open_pause(&mut self, kind: PauseKind, at: i64) {
        if self.accepted_at.is_some() && !self.paused() {
            self.pauses.push(Pause {
                kind,
                start: at,
                end: None,
            });
        }
    }

    fn close_pause(&mut self, at: i64) {
        if let Some(p) = self.pauses.last_mut()
            && p.end.is_none()
        {
            p.end = Some(at);
        }
    }
}

/// What happens to an event in the fold.
enum Applied {
    /// The event changed the state.
    Yes,
    /// The event repeats what is already true (the same department approving twice from two
    /// offline nodes); harmless, not a conflict.
    Duplicate,
}

fn require_holder(state: &CaseState, ev: &Event) -> Result<(), Refusal> {
    if ev.station == state.holder {
        Ok(())
    } else {
        Err(Refusal::NotHolder {
            holder: state.holder.clone(),
            station: ev.station.clone(),
        })
    }
}

fn require_on_route(state: &CaseState, ev: &Event) -> Result<(), Refusal> {
    if state.route.contains(&ev.station) {
        Ok(())
    } else {
        Err(Refusal::NotOnRoute {
            station: ev.station.clone(),
        })
    }
}

fn wrong_status(state: &CaseState) -> Refusal {
    Refusal::WrongStatus(state.status)
}

/// The transition table: applies one action to the state, or says why it cannot apply.
///
/// This is the only place that decides what an action does; [`check`] and [`fold`] both call it.
fn apply(
    state: &mut CaseState,
    item: &ItemSnapshot,
    ev: &Event,
    action: &Action,
) -> Result<Applied, Refusal> {
    use Status::*;
    let at = ev.at;
    match action {
        Action::Accept | Action::AcceptWithGaps { .. } => {
            require_holder(state, ev)?;
            let from_materials = state.status == AwaitingMaterials && state.accepted_at.is_none();
            if state.status != Submitted && !from_materials {
                return Err(wrong_status(state));
            }
            // Every check before the first change: a refused event changes nothing.
            if let Action::AcceptWithGaps { missing, .. } = action
                && missing.is_empty()
            {
                return Err(Refusal::GapsNeedMaterials);
            }
            state.status = Accepted;
            state.accepted_at = Some(at);
            state.missing.clear();
            if let Action::AcceptWithGaps { missing, promise } = action {
                state.gaps = missing.clone();
                state.gap_promise = promise.clone();
            }
        }
        Action::Refuse { .. } => {
            require_holder(state, ev)?;
            if !matches!(state.status, Submitted | AwaitingMaterials) || state.accepted_at.is_some()
            {
                return Err(Refusal::AcceptedIsDecided(state.status));
            }
            state.status = Refused;
            state.stopped_at = Some(at);
        }
        Action::RequestMaterials { missing } => {
            require_holder(state, ev)?;
            if !matches!(state.status, Submitted | Accepted) {
                return Err(wrong_status(state));
            }
            if missing.is_empty() {
                return Err(Refusal::NoticeNeedsMaterials);
            }
            state.status = AwaitingMaterials;
            state.missing = missing.clone();
            state.open_pause(PauseKind::Materials, at);
        }
        Action::Suspend { .. } => {
            require_holder(state, ev)?;
            if state.status != Accepted {
                return Err(wrong_status(state));
            }
            state.status = Suspended;
            state.open_pause(PauseKind::Special, at);
        }
        Action::Resume => {
            require_holder(state, ev)?;
            match state.status {
                AwaitingMaterials => {
                    // Resuming after the one-time notice is "材料已补齐": what was asked for
                    // has arrived.
                    for name in std::mem::take(&mut state.missing) {
                        state.supplied.push(Supplied { name, at });
                    }
                    state.status = if state.accepted_at.is_some() {
                        Accepted
                    } else {
                        Submitted
                    };
                }
                Suspended => state.status = Accepted,
                _ => {
                    return Err(Refusal::OnlyPausedResumes(state.status));
                }
            }
            state.close_pause(at);
        }
        Action::Forward { to } => {
            require_holder(state, ev)?;
            // A case waiting for materials may go down to the village agent who collects them.
            if !matches!(state.status, Submitted | Accepted | AwaitingMaterials) {
                return Err(wrong_status(state));
            }
            if *to == state.holder {
                return Err(Refusal::AlreadyAt(to.clone()));
            }
            state.holder = to.clone();
            state.route.push(to.clone());
        }
        Action::Approve { dept } | Action::Reject { dept, .. } => {
            require_holder(state, ev)?;
            if state.status != Accepted {
                return Err(wrong_status(state));
            }
            if !item.departments.iter().any(|d| d == dept) {
                return Err(Refusal::DeptNotInItem {
                    dept: dept.clone(),
                    departments: item.departments.clone(),
                });
            }
            let approved = matches!(action, Action::Approve { .. });
            if let Some(prior) = state.approvals.get(dept) {
                if prior.approved == approved {
                    return Ok(Applied::Duplicate);
                }
                return Err(Refusal::DeptAlreadyDecided(dept.clone()));
            }
            if state.decision(item) == Decision::Rejected {
                return Err(Refusal::AlreadyRejected);
            }
            let reason = match action {
                Action::Reject { reason, .. } => reason.clone(),
                _ => String::new(),
            };
            state.approvals.insert(
                dept.clone(),
                Approval {
                    approved,
                    at,
                    station: ev.station.clone(),
                    reason,
                },
            );
        }
        Action::Complete => {
            require_holder(state, ev)?;
            if state.status != Accepted {
                return Err(wrong_status(state));
            }
            let decision = state.decision(item);
            // Granting while a 容缺 material is outstanding would decide on a promise: the
            // material is recorded as supplied first, or the holder declines (不予许可).
            if decision == Decision::Approved && !state.gaps.is_empty() {
                return Err(Refusal::GapsOutstanding(state.gaps.clone()));
            }
            if decision == Decision::Pending {
                let waiting: Vec<String> = item
                    .departments
                    .iter()
                    .filter(|d| !state.approvals.contains_key(*d))
                    .cloned()
                    .collect();
                return Err(Refusal::DeptsPending(waiting));
            }
            state.status = Completed;
            state.outcome = Some(decision);
            state.stopped_at = Some(at);
        }
        Action::Decline { .. } => {
            require_holder(state, ev)?;
            if state.status != Accepted {
                return Err(wrong_status(state));
            }
            state.status = Completed;
            state.outcome = Some(Decision::Rejected);
            state.stopped_at = Some(at);
        }
        Action::Deliver => {
            require_on_route(state, ev)?;
            if state.status != Completed {
                return Err(wrong_status(state));
            }
            state.status = Delivered;
            state.delivered_at = Some(at);
        }
        Action::Rate { level, comment } => {
            require_on_route(state, ev)?;
            if !state.status.is_closed() {
                return Err(Refusal::RateAfterDecision(state.status));
            }
            if state.rating.is_some() {
                return Err(Refusal::AlreadyRated);
            }
            state.rating = Some(Rating {
                level: *level,
                at,
                comment: comment.clone(),
            });
            if *level >= 4 {
                state.follow_up = Some(FollowUpCase {
                    opened_at: at,
                    closed_at: None,
                });
            }
        }
        Action::FollowUp { .. } => {
            require_on_route(state, ev)?;
            if !state.status.is_closed() {
                return Err(Refusal::FollowUpAfterDecision(state.status));
            }
            state.follow_up_calls += 1;
            if let Some(f) = state.follow_up.as_mut()
                && f.closed_at.is_none()
            {
                f.closed_at = Some(at);
            }
        }
        Action::Consult {
            with,
            minutes,
            summary,
        } => {
            require_on_route(state, ev)?;
            if state.status.is_closed() {
                return Err(wrong_status(state));
            }
            state.consults.push(ConsultRecord {
                at,
                station: ev.station.clone(),
                with: with.clone(),
                minutes: *minutes,
                summary: summary.clone(),
            });
        }
        Action::Note { .. } => {}
        Action::Supervise { reason, reply_days } => {
            if state.status.is_closed() {
                return Err(wrong_status(state));
            }
            state.supervisions.push(Supervision {
                id: ev.id.clone(),
                at,
                station: ev.station.clone(),
                operator: ev.operator.clone(),
                reason: reason.clone(),
                reply_days: *reply_days,
                reply: None,
            });
        }
        Action::ReplySupervision { to, text } => {
            require_holder(state, ev)?;
            let open = state
                .supervisions
                .iter_mut()
                .find(|s| s.id == *to && s.reply.is_none())
                .ok_or(Refusal::NoOpenSupervision)?;
            open.reply = Some(SupervisionReply {
                at,
                station: ev.station.clone(),
                operator: ev.operator.clone(),
                text: text.clone(),
            });
        }
        Action::ReturnOriginals { items } => {
            require_on_route(state, ev)?;
            state.originals_returned.push(OriginalsReturned {
                at,
                station: ev.station.clone(),
                operator: ev.operator.clone(),
                items: items.clone(),
            });
        }
        Action::SupplyGaps { items } => {
            require_holder(state, ev)?;
            if state.accepted_at.is_none() || state.status.is_closed() {
                return Err(wrong_status(state));
            }
            let unknown: Vec<String> = items
                .iter()
                .filter(|i| !state.gaps.contains(i))
                .cloned()
                .collect();
            if items.is_empty() || !unknown.is_empty() {
                return Err(Refusal::NotAGap(unknown));
            }
            state.gaps.retain(|g| !items.contains(g));
            for name in items {
                state.supplied.push(Supplied {
                    name: name.clone(),
                    at,
                });
            }
        }
        Action::Settle { .. } => {
            require_holder(state, ev)?;
            if state.conflicts.is_empty() {
                return Err(Refusal::NoConflict);
            }
            state.conflicts.clear();
        }
    }
    Ok(Applied::Yes)
}

/// Checks an event's actor, when it has one: the recorded role may take the action
/// ([`permits`]) and the account was not disabled at the event's time.
fn check_actor(dir: &Directory, ev: &Event, action: &Action) -> Result<(), Refusal> {
    match &ev.by {
        Some(actor) => {
            permits(actor, action)?;
            dir.check_actor(actor, ev.at)
        }
        None => Ok(()),
    }
}

/// Who decided a case, for the statistics by operator.
fn decider(ev: &Event) -> Option<(String, String)> {
    ev.by
        .as_ref()
        .map(|a| (a.account.clone(), ev.operator.clone()))
}

/// Checks whether `action`, taken now at `station`, is allowed by the transition table and by
/// the actor's role.
///
/// `prospective` is the event that would be written; the state is not changed.
pub fn check(
    state: &CaseState,
    item: &ItemSnapshot,
    dir: &Directory,
    prospective: &Event,
    action: &Action,
) -> Result<(), Refusal> {
    check_actor(dir, prospective, action)?;
    let mut scratch = state.clone();
    match apply(&mut scratch, item, prospective, action)? {
        Applied::Yes => Ok(()),
        Applied::Duplicate => Err(Refusal::DuplicateDecision),
    }
}

/// Folds a case document's event log into its state, checking each actor's recorded role but
/// not whether its account was disabled (no directory of accounts): for tools and tests that
/// hold only case documents. The node folds with [`fold_with`].
pub fn fold(doc: &CaseDoc) -> CaseState {
    fold_with(doc, &Directory::default())
}

/// Folds a case document's event log into its state, checking every actor against the
/// accounts held here.
pub fn fold_with(doc: &CaseDoc, dir: &Directory) -> CaseState {
    let mut state = CaseState::new(&doc.origin);
    for ev in doc.ordered_events() {
        let mut entry = TimelineEntry {
            id: ev.id.clone(),
            kind: ev.kind.clone(),
            at: ev.at,
            station: ev.station.clone(),
            operator: ev.operator.clone(),
            fields: ev.fields.clone(),
            applied: false,
            problem: None,
        };
        let transition = Action::is_transition(&ev.kind);
        let concurrent = transition && ev.prev != state.last_transition && ev.kind != "settle";
        match Action::from_event(&ev.kind, &ev.fields) {
            None => entry.problem = Some(Problem::Malformed(ev.kind.clone())),
            Some(action) => match check_actor(dir, ev, &action)
                .and_then(|()| apply(&mut state, &doc.item, ev, &action))
            {
                Ok(Applied::Yes) => {
                    entry.applied = true;
                    if matches!(
                        action,
                        Action::Complete | Action::Decline { .. } | Action::Refuse { .. }
                    ) {
                        state.decided_by = decider(ev);
                    }
                    if transition {
                        state.last_transition = ev.id.clone();
                    }
                    if concurrent {
                        entry.problem = Some(Problem::Concurrent);
                        state.conflicts.push(ev.id.clone());
                    }
                }
                Ok(Applied::Duplicate) => entry.problem = Some(Problem::Duplicate),
                Err(why) => {
                    entry.problem = Some(Problem::Refused(why));
                    state.conflicts.push(ev.id.clone());
                }
            },
        }
        state.timeline.push(entry);
    }
    state
}
