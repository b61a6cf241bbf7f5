//! The transition table, cell by cell: every action in every status, at the holder, at another
//! station on the route and at a station the case has never been at, with the pure API (`Sim`).
//! [`through_node`] checks the same rules through a real node, and [`property`] that a refused
//! event changes nothing.
//!
//! Why one file over 800 lines: it is one matrix test. [`MATRIX`] writes the whole transition
//! table out as a grid of cells (a row per status, a column per action), and every test here
//! reads that grid or checks one of its rules in detail (who may act where, approvals, gaps,
//! pauses, follow-ups) against the same `Sim`, the same item and the same probes. Split by
//! action, a rule and the cells it explains would sit in different files; the two checks that
//! are not about single cells already live apart, in `through_node` and `property`.

use crate::common::{CITY, TOWN, VILLAGE};
use yizhan_node::account::Directory;
use yizhan_node::case::Action;
use yizhan_node::case::action::ACTION_KINDS;
use yizhan_node::case::doc::{CaseDoc, Event, ItemSnapshot};
use yizhan_node::case::fold::{self, ALL_STATUSES, CaseState, Decision, PauseKind, Status};
use yizhan_node::catalog::CaseKind;
use yizhan_node::station::Tier;

mod property;
mod through_node;

/// The one department of the test item, so that approve and reject have something to decide.
const DEPT: &str = "市场监管局";

/// A city item with one department.
fn item() -> ItemSnapshot {
    ItemSnapshot {
        code: "CT-900".into(),
        name: "测试许可".into(),
        kind: CaseKind::Promised,
        legal_days: 20,
        promised_days: 10,
        tier: Tier::City,
        materials: vec!["申请书".into(), "身份证".into()],
        departments: vec![DEPT.into()],
    }
}

/// A case driven through actions with the pure API: `next_event`, `check`, `fold`.
struct Sim {
    doc: CaseDoc,
    now: i64,
    n: usize,
}

impl Sim {
    fn new(item: ItemSnapshot, origin: &str) -> Sim {
        let now = crate::common::ms("2026-03-02T09:00:00+08:00");
        Sim {
            doc: crate::common::case_doc("case-1", item, origin, now),
            now,
            n: 0,
        }
    }

    fn state(&self) -> CaseState {
        fold::fold(&self.doc)
    }

    /// The event `action` at `station` would be, one minute after the last.
    fn event(&self, station: &str, action: &Action) -> Event {
        self.doc.next_event(
            &self.state().last_transition,
            action,
            format!("ev-{:04}", self.n),
            self.now + 60_000,
            station,
            "node-1",
            "测试员",
            None,
        )
    }

    /// Checks `action` at `station` without recording it.
    fn check(&self, station: &str, action: &Action) -> Result<(), String> {
        fold::check(
            &self.state(),
            &self.doc.item,
            &Directory::default(),
            &self.event(station, action),
            action,
        )
        .map_err(|r| r.to_string())
    }

    /// Asserts that `action` at `station` is refused, for a reason naming each of `words`.
    fn refuses(&self, station: &str, action: &Action, words: &[&str]) {
        let why = self
            .check(station, action)
            .expect_err(&format!("{} at {station} must be refused", action.kind()));
        for word in words {
            assert!(why.contains(word), "{} at {station}: {why}", action.kind());
        }
    }

    /// Checks and records `action` at `station`.
    fn try_act(&mut self, station: &str, action: &Action) -> Result<(), String> {
        let event = self.event(station, action);
        fold::check(
            &self.state(),
            &self.doc.item,
            &Directory::default(),
            &event,
            action,
        )
        .map_err(|r| r.to_string())?;
        self.now = event.at;
        self.n += 1;
        self.doc.events.push(event);
        let state = self.state();
        let last = state.timeline.last().expect("the event is on the timeline");
        assert!(
            last.applied && last.problem.is_none(),
            "a checked event must apply cleanly: {last:?}"
        );
        assert!(!state.conflict());
        Ok(())
    }

    fn act(&mut self, station: &str, action: &Action) {
        if let Err(why) = self.try_act(station, action) {
            panic!("{} at {station} was refused: {why}", action.kind());
        }
    }

    /// Records an event as another node wrote it: without checking, with an explicit `prev`.
    fn push_raw(&mut self, station: &str, action: &Action, prev: &str) -> String {
        let mut event = self.event(station, action);
        event.prev = prev.to_string();
        self.now = event.at;
        self.n += 1;
        let id = event.id.clone();
        self.doc.events.push(event);
        id
    }
}

/// The action probed for each kind, with plausible fields.
fn probe(kind: &str) -> Action {
    match kind {
        "accept" => Action::Accept,
        "accept_with_gaps" => Action::AcceptWithGaps {
            missing: vec!["身份证复印件".into()],
            promise: "五个工作日内补齐".into(),
        },
        "refuse" => Action::Refuse {
            reason: "不属于本机关职权范围".into(),
        },
        "request_materials" => Action::RequestMaterials {
            missing: vec!["申请书".into(), "身份证".into()],
        },
        "suspend" => Action::Suspend {
            reason: "组织听证".into(),
        },
        "resume" => Action::Resume,
        "forward" => Action::Forward { to: CITY.into() },
        "approve" => Action::Approve { dept: DEPT.into() },
        "reject" => Action::Reject {
            dept: DEPT.into(),
            reason: "不符合条件".into(),
        },
        "complete" => Action::Complete,
        "decline" => Action::Decline {
            reason: "不符合条件".into(),
        },
        "deliver" => Action::Deliver,
        "rate" => Action::Rate {
            level: 2,
            comment: "满意".into(),
        },
        "follow_up" => Action::FollowUp {
            summary: "电话回访".into(),
        },
        "consult" => Action::Consult {
            with: CITY.into(),
            minutes: 15,
            summary: "咨询审批口径".into(),
        },
        "note" => Action::Note {
            text: "申请人来电询问进度".into(),
        },
        "settle" => Action::Settle {
            note: "以办结为准".into(),
        },
        "supervise" => Action::Supervise {
            reason: "群众反映等候过久".into(),
            reply_days: 2,
        },
        // No 督办 is open in any row of the matrix, so an answer is refused at the holder.
        "reply_supervision" => Action::ReplySupervision {
            to: "no-such-supervision".into(),
            text: "已办理".into(),
        },
        "return_originals" => Action::ReturnOriginals {
            items: vec!["身份证原件".into()],
        },
        // The material `accept_with_gaps` above accepts as missing.
        "supply_gaps" => Action::SupplyGaps {
            items: vec!["身份证复印件".into()],
        },
        other => panic!("no probe for {other}"),
    }
}

/// Actions any station on the route may take (the village that took the case in delivers the
/// result, rates and calls back); a note may be added anywhere, and every other action only by
/// the station holding the case.
const ON_ROUTE: &[&str] = &[
    "deliver",
    "rate",
    "follow_up",
    "consult",
    "return_originals",
];

/// The columns of [`MATRIX`]: an abbreviation for each action kind, in `ACTION_KINDS` order.
const COLUMNS: [(&str, &str); 21] = [
    ("acc", "accept"),
    ("gap", "accept_with_gaps"),
    ("ref", "refuse"),
    ("req", "request_materials"),
    ("sus", "suspend"),
    ("res", "resume"),
    ("fwd", "forward"),
    ("apr", "approve"),
    ("rej", "reject"),
    ("cmp", "complete"),
    ("dec", "decline"),
    ("dlv", "deliver"),
    ("rat", "rate"),
    ("fu", "follow_up"),
    ("con", "consult"),
    ("not", "note"),
    ("set", "settle"),
    ("sup", "supervise"),
    ("rsp", "reply_supervision"),
    ("ret", "return_originals"),
    ("sgp", "supply_gaps"),
];

/// The expected transition table at the holder: `Y` allowed, `.` refused.
///
/// A row is named `status` or `status/variant`: `awaiting_materials` and `accepted` appear twice
/// because what is allowed there depends on whether the case was accepted before the notice and
/// on whether the item's department has decided; `accepted/gaps_outstanding` is a case accepted
/// under 容缺受理 whose department approved: it is not granted (办结) until the material is
/// supplied (issue #13). `settle` is refused everywhere here because none
/// of these states has a conflict (see `settle_needs_a_conflict`).
const MATRIX: &str = "
                                        acc gap ref req sus res fwd apr rej cmp dec dlv rat fu  con not set sup rsp ret sgp
submitted                                Y   Y   Y   Y   .   .   Y   .   .   .   .   .   .   .   Y   Y   .   Y   .   Y   .
awaiting_materials/before_acceptance     Y   Y   Y   .   .   Y   Y   .   .   .   .   .   .   .   Y   Y   .   Y   .   Y   .
awaiting_materials/after_acceptance      .   .   .   .   .   Y   Y   .   .   .   .   .   .   .   Y   Y   .   Y   .   Y   .
accepted/department_pending              .   .   .   Y   Y   .   Y   Y   Y   .   Y   .   .   .   Y   Y   .   Y   .   Y   .
accepted/department_decided              .   .   .   Y   Y   .   Y   .   .   Y   Y   .   .   .   Y   Y   .   Y   .   Y   .
accepted/gaps_outstanding                .   .   .   Y   Y   .   Y   .   .   .   Y   .   .   .   Y   Y   .   Y   .   Y   Y
suspended                                .   .   .   .   .   Y   .   .   .   .   .   .   .   .   Y   Y   .   Y   .   Y   .
refused                                  .   .   .   .   .   .   .   .   .   .   .   .   Y   Y   .   Y   .   .   .   Y   .
completed                                .   .   .   .   .   .   .   .   .   .   .   Y   Y   Y   .   Y   .   .   .   Y   .
delivered                                .   .   .   .   .   .   .   .   .   .   .   .   Y   Y   .   Y   .   .   .   Y   .
";

/// One row of [`MATRIX`].
struct Row {
    name: String,
    status: Status,
    allowed: Vec<bool>,
}

fn matrix() -> Vec<Row> {
    let mut lines = MATRIX.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    let abbrevs: Vec<&str> = COLUMNS.iter().map(|(a, _)| *a).collect();
    assert_eq!(header, abbrevs, "the header names the columns");
    lines
        .map(|line| {
            let mut cells = line.split_whitespace();
            let name = cells.next().expect("row name").to_string();
            let status_name = name.split('/').next().unwrap_or_default();
            let status = Status::parse(status_name).expect("a status name");
            let allowed: Vec<bool> = cells
                .map(|c| match c {
                    "Y" => true,
                    "." => false,
                    other => panic!("bad cell {other:?} in row {name}"),
                })
                .collect();
            assert_eq!(allowed.len(), ACTION_KINDS.len(), "row {name}");
            Row {
                name,
                status,
                allowed,
            }
        })
        .collect()
}

/// The timeline entry of event `id`, which the fold must have kept.
fn kept<'a>(state: &'a CaseState, id: &str) -> &'a fold::TimelineEntry {
    state
        .timeline
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("event {id} is not on the timeline"))
}

/// Builds a case in the state named by a row of [`MATRIX`]: taken in at the village, forwarded
/// to the township (which then holds it, with the village on its route), then driven there.
fn case_in(row: &str) -> Sim {
    let mut sim = Sim::new(item(), VILLAGE);
    sim.act(VILLAGE, &Action::Forward { to: TOWN.into() });
    let path: &[&str] = match row {
        "submitted" => &[],
        "awaiting_materials/before_acceptance" => &["request_materials"],
        "awaiting_materials/after_acceptance" => &["accept", "request_materials"],
        "accepted/department_pending" => &["accept"],
        "accepted/department_decided" => &["accept", "approve"],
        "accepted/gaps_outstanding" => &["accept_with_gaps", "approve"],
        "suspended" => &["accept", "suspend"],
        "refused" => &["refuse"],
        "completed" => &["accept", "approve", "complete"],
        "delivered" => &["accept", "approve", "complete", "deliver"],
        other => panic!("no path to {other}"),
    };
    for kind in path {
        sim.act(TOWN, &probe(kind));
    }
    sim
}

#[test]
fn matrix_covers_every_status_and_action() {
    let kinds: Vec<&str> = COLUMNS.iter().map(|(_, k)| *k).collect();
    assert_eq!(kinds, ACTION_KINDS);
    let rows = matrix();
    for status in ALL_STATUSES {
        assert!(
            rows.iter().any(|r| r.status == status),
            "no row for {status:?}"
        );
    }
    for row in &rows {
        let sim = case_in(&row.name);
        let state = sim.state();
        assert_eq!(state.status, row.status, "{}", row.name);
        assert_eq!(state.holder, TOWN);
        assert_eq!(state.route, vec![VILLAGE, TOWN]);
    }
}

#[test]
fn every_action_in_every_status_at_the_holder() {
    let mut mismatches = Vec::new();
    for row in matrix() {
        let sim = case_in(&row.name);
        for (kind, &allowed) in ACTION_KINDS.iter().zip(&row.allowed) {
            let result = sim.check(TOWN, &probe(kind));
            if result.is_ok() != allowed {
                mismatches.push(format!(
                    "{} × {kind}: expected {}, got {result:?}",
                    row.name,
                    if allowed { "allowed" } else { "refused" }
                ));
            }
            if let Err(why) = &result {
                assert!(
                    !why.trim().is_empty(),
                    "{} × {kind}: empty reason",
                    row.name
                );
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn refusals_name_the_status() {
    // A refusal for the wrong status says which status the case is in, in both languages.
    let sim = case_in("completed");
    sim.refuses(
        TOWN,
        &Action::Forward { to: CITY.into() },
        &["completed", "已办结"],
    );
    let sim = case_in("suspended");
    sim.refuses(TOWN, &Action::Complete, &["suspended", "特别程序"]);
    let sim = case_in("accepted/department_pending");
    sim.refuses(
        TOWN,
        &Action::Refuse { reason: "x".into() },
        &["decided, not refused"],
    );
    sim.refuses(TOWN, &Action::Resume, &["only a paused case resumes"]);
    let sim = case_in("submitted");
    sim.refuses(
        TOWN,
        &Action::Rate {
            level: 1,
            comment: String::new(),
        },
        &["rated after it is decided"],
    );
}

#[test]
fn holder_only_actions_are_refused_elsewhere_and_route_actions_are_not() {
    for r in matrix() {
        let row = r.name.as_str();
        let sim = case_in(row);
        for (kind, &allowed) in ACTION_KINDS.iter().zip(&r.allowed) {
            let action = probe(kind);
            // The village took the case in: it is on the route but does not hold the case.
            let at_village = sim.check(VILLAGE, &action);
            // The city has never held the case.
            let at_city = sim.check(CITY, &action);
            if ON_ROUTE.contains(kind) {
                assert_eq!(at_village.is_ok(), allowed, "{row} × {kind} at the village");
                let why = at_city.expect_err(&format!("{row} × {kind} at the city"));
                assert!(
                    why.contains(&format!("station {CITY} has never held this case")),
                    "{row} × {kind}: {why}"
                );
            } else if *kind == "note" {
                assert!(at_village.is_ok() && at_city.is_ok(), "{row} × note");
            } else if *kind == "supervise" {
                // A 督办 comes from a supervising station, never the holder's own business: the
                // table asks only that the case is open (the node checks the tier and role).
                assert_eq!(
                    at_village.is_ok(),
                    allowed,
                    "{row} × supervise at the village"
                );
                assert_eq!(at_city.is_ok(), allowed, "{row} × supervise at the city");
            } else {
                let why = at_village.expect_err(&format!("{row} × {kind} at the village"));
                assert!(
                    why.contains(&format!("held by station {TOWN}, not {VILLAGE}")),
                    "{row} × {kind}: {why}"
                );
                let why = at_city.expect_err(&format!("{row} × {kind} at the city"));
                assert!(why.contains("held by station"), "{row} × {kind}: {why}");
            }
        }
    }
}

#[test]
fn approvals_need_a_department_of_the_item_and_are_not_repeated() {
    let mut sim = case_in("accepted/department_pending");
    sim.refuses(
        TOWN,
        &Action::Approve {
            dept: "税务局".into(),
        },
        &["税务局", "does not take part", DEPT],
    );
    sim.refuses(
        TOWN,
        &Action::Reject {
            dept: "税务局".into(),
            reason: "x".into(),
        },
        &["does not take part"],
    );

    sim.act(TOWN, &Action::Approve { dept: DEPT.into() });
    sim.refuses(
        TOWN,
        &Action::Approve { dept: DEPT.into() },
        &["already decided the same way"],
    );
    let why = sim
        .check(
            TOWN,
            &Action::Reject {
                dept: DEPT.into(),
                reason: "改变主意".into(),
            },
        )
        .unwrap_err();
    assert!(
        why.contains(&format!("department {DEPT} has already decided")),
        "{why}"
    );

    // An item without departments takes no approvals at all.
    let mut plain = item();
    plain.departments.clear();
    let mut sim = Sim::new(plain, TOWN);
    sim.act(TOWN, &Action::Accept);
    sim.refuses(
        TOWN,
        &Action::Approve { dept: DEPT.into() },
        &["departments: none"],
    );
    sim.act(TOWN, &Action::Complete);
    assert_eq!(sim.state().outcome, Some(Decision::Approved));
}

#[test]
fn duplicate_approvals_from_two_nodes_are_harmless() {
    let mut sim = case_in("accepted/department_pending");
    let prev = sim.state().last_transition;
    sim.push_raw(TOWN, &Action::Approve { dept: DEPT.into() }, &prev);
    sim.push_raw(TOWN, &Action::Approve { dept: DEPT.into() }, &prev);
    let state = sim.state();
    assert!(!state.conflict());
    let problems: Vec<_> = state
        .timeline
        .iter()
        .filter_map(|e| e.problem.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(problems, vec!["duplicate decision"]);
    assert_eq!(state.decision(&sim.doc.item), Decision::Approved);
    assert!(sim.check(TOWN, &Action::Complete).is_ok());
}

#[test]
fn complete_waits_for_every_department_and_names_the_missing_ones() {
    let ct002 = crate::common::default_item("CT-002");
    assert!(ct002.departments.len() >= 3);
    let mut sim = Sim::new(ct002.clone(), CITY);
    sim.act(CITY, &Action::Accept);
    let why = sim.check(CITY, &Action::Complete).unwrap_err();
    for d in &ct002.departments {
        assert!(why.contains(d.as_str()), "{why} should name {d}");
    }
    sim.act(
        CITY,
        &Action::Approve {
            dept: ct002.departments[0].clone(),
        },
    );
    let why = sim.check(CITY, &Action::Complete).unwrap_err();
    assert!(!why.contains(ct002.departments[0].as_str()), "{why}");
    assert!(
        why.contains(&ct002.departments[1..].join("、")),
        "{why} should list the others"
    );
    assert!(why.contains("have not decided yet"), "{why}");
    for d in &ct002.departments[1..] {
        sim.act(CITY, &Action::Approve { dept: d.clone() });
    }
    sim.act(CITY, &Action::Complete);
    let state = sim.state();
    assert_eq!(state.status, Status::Completed);
    assert_eq!(state.outcome, Some(Decision::Approved));
}

#[test]
fn one_rejection_decides_the_case() {
    let ct002 = crate::common::default_item("CT-002");
    let mut sim = Sim::new(ct002.clone(), CITY);
    sim.act(CITY, &Action::Accept);
    sim.act(
        CITY,
        &Action::Reject {
            dept: ct002.departments[1].clone(),
            reason: "经营范围不符".into(),
        },
    );
    // The other departments no longer need to (or may) decide.
    sim.refuses(
        CITY,
        &Action::Approve {
            dept: ct002.departments[0].clone(),
        },
        &["already decided: rejected"],
    );
    sim.act(CITY, &Action::Complete);
    let state = sim.state();
    assert_eq!(state.outcome, Some(Decision::Rejected));
    let a = &state.approvals[&ct002.departments[1]];
    assert!(!a.approved);
    assert_eq!(a.reason, "经营范围不符");
}

#[test]
fn a_bad_rating_opens_a_follow_up_and_a_call_back_closes_it() {
    for level in 1..=5u8 {
        let mut sim = case_in("completed");
        // Rating is done where the applicant is: the village.
        sim.act(
            VILLAGE,
            &Action::Rate {
                level,
                comment: "评价".into(),
            },
        );
        let state = sim.state();
        assert_eq!(state.rating.as_ref().map(|r| r.level), Some(level));
        let opened = state.follow_up.as_ref();
        assert_eq!(opened.is_some(), level >= 4, "level {level}");
        if let Some(f) = opened {
            assert_eq!(f.closed_at, None);
        }
        sim.refuses(
            TOWN,
            &Action::Rate {
                level: 1,
                comment: String::new(),
            },
            &["already been rated"],
        );

        sim.act(
            VILLAGE,
            &Action::FollowUp {
                summary: "已回访，申请人表示理解".into(),
            },
        );
        let state = sim.state();
        assert_eq!(state.follow_up_calls, 1);
        if level >= 4 {
            let f = state.follow_up.as_ref().expect("follow-up");
            assert_eq!(f.closed_at, Some(sim.now));
        } else {
            assert!(state.follow_up.is_none());
        }
        // Further calls are recorded but do not reopen anything.
        sim.act(
            TOWN,
            &Action::FollowUp {
                summary: "二次回访".into(),
            },
        );
        assert_eq!(sim.state().follow_up_calls, 2);
    }
}

#[test]
fn accept_with_gaps_records_the_gaps() {
    let mut sim = case_in("submitted");
    sim.refuses(
        TOWN,
        &Action::AcceptWithGaps {
            missing: vec![],
            promise: "尽快".into(),
        },
        &["missing materials listed"],
    );
    sim.act(
        TOWN,
        &Action::AcceptWithGaps {
            missing: vec!["身份证复印件".into(), "照片".into()],
            promise: "五个工作日内补齐".into(),
        },
    );
    let state = sim.state();
    assert_eq!(state.status, Status::Accepted);
    assert_eq!(
        state.gaps,
        vec!["身份证复印件".to_string(), "照片".to_string()]
    );
    assert_eq!(state.accepted_at, Some(sim.now));
    assert!(state.missing.is_empty());
    let ev = sim.doc.events.last().expect("event");
    assert_eq!(ev.fields["promise"], "五个工作日内补齐");
}

/// Issue #13: a case accepted under 容缺受理 is granted only once its promised materials are
/// recorded as supplied (补齐); declining stays possible; a supply names outstanding materials
/// only, and a resume after the one-time notice records the asked-for materials as arrived.
#[test]
fn completion_waits_for_gap_materials_and_supplies_are_recorded() {
    let mut sim = case_in("accepted/gaps_outstanding");
    sim.refuses(TOWN, &Action::Complete, &["outstanding", "身份证复印件"]);
    assert!(sim.check(TOWN, &probe("decline")).is_ok());
    sim.refuses(
        TOWN,
        &Action::SupplyGaps {
            items: vec!["照片".into()],
        },
        &["照片"],
    );
    sim.refuses(TOWN, &Action::SupplyGaps { items: vec![] }, &["name"]);
    sim.refuses(VILLAGE, &probe("supply_gaps"), &["held by"]);
    sim.act(TOWN, &probe("supply_gaps"));
    let state = sim.state();
    assert!(state.gaps.is_empty());
    assert_eq!(state.gap_promise, "五个工作日内补齐");
    assert_eq!(state.supplied.len(), 1);
    assert_eq!(state.supplied[0].name, "身份证复印件");
    assert_eq!(state.supplied[0].at, sim.now);
    sim.act(TOWN, &Action::Complete);
    assert_eq!(sim.state().outcome, Some(Decision::Approved));

    let mut sim = case_in("awaiting_materials/after_acceptance");
    sim.act(TOWN, &Action::Resume);
    let names: Vec<String> = sim.state().supplied.into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["申请书", "身份证"]);
}

#[test]
fn request_materials_pauses_the_clock_only_after_acceptance() {
    // Before acceptance there is no clock to pause.
    let mut sim = case_in("submitted");
    sim.refuses(
        TOWN,
        &Action::RequestMaterials { missing: vec![] },
        &["every missing material"],
    );
    sim.act(TOWN, &probe("request_materials"));
    let state = sim.state();
    assert_eq!(state.status, Status::AwaitingMaterials);
    assert_eq!(
        state.missing,
        vec!["申请书".to_string(), "身份证".to_string()]
    );
    assert!(state.pauses.is_empty());
    assert!(!state.paused());
    assert_eq!(state.accepted_at, None);
    sim.act(TOWN, &Action::Resume);
    let state = sim.state();
    assert_eq!(state.status, Status::Submitted);
    assert!(state.missing.is_empty());
    assert!(state.pauses.is_empty());

    // The materials arrived and the case is accepted straight from the notice, too.
    let mut sim = case_in("awaiting_materials/before_acceptance");
    sim.act(TOWN, &Action::Accept);
    assert_eq!(sim.state().status, Status::Accepted);
    assert!(sim.state().pauses.is_empty());

    // After acceptance the notice pauses the clock until the materials arrive.
    let mut sim = case_in("accepted/department_pending");
    sim.act(TOWN, &probe("request_materials"));
    let start = sim.now;
    let state = sim.state();
    assert!(state.paused());
    assert_eq!(state.pauses.len(), 1);
    assert_eq!(state.pauses[0].kind, PauseKind::Materials);
    assert_eq!(state.pauses[0].start, start);
    sim.act(TOWN, &Action::Resume);
    let state = sim.state();
    assert_eq!(state.status, Status::Accepted);
    assert!(!state.paused());
    assert_eq!(state.pauses[0].end, Some(sim.now));

    // A special procedure pauses it as well.
    sim.act(TOWN, &probe("suspend"));
    let state = sim.state();
    assert!(state.paused());
    assert_eq!(state.pauses.len(), 2);
    assert_eq!(state.pauses[1].kind, PauseKind::Special);
    sim.act(TOWN, &Action::Resume);
    assert!(!sim.state().paused());
}

#[test]
fn forward_moves_the_holder_and_extends_the_route() {
    let mut sim = case_in("submitted");
    sim.refuses(
        TOWN,
        &Action::Forward { to: TOWN.into() },
        &["already at T01"],
    );
    sim.act(TOWN, &Action::Forward { to: CITY.into() });
    // Sent back down (下派) and up again: the route records every visit.
    sim.act(CITY, &Action::Forward { to: TOWN.into() });
    let state = sim.state();
    assert_eq!(state.holder, TOWN);
    assert_eq!(state.route, vec![VILLAGE, TOWN, CITY, TOWN]);
    assert!(sim.check(CITY, &Action::Accept).is_err());
    assert!(sim.check(TOWN, &Action::Accept).is_ok());
}

#[test]
fn settle_needs_a_conflict() {
    let mut sim = case_in("accepted/department_decided");
    sim.refuses(
        TOWN,
        &Action::Settle { note: "无".into() },
        &["no conflict to settle"],
    );

    // Two offline nodes of the township: one completes, the other forwards, from the same state.
    let prev = sim.state().last_transition;
    let complete = sim.push_raw(TOWN, &Action::Complete, &prev);
    let forward = sim.push_raw(TOWN, &Action::Forward { to: CITY.into() }, &prev);
    let state = sim.state();
    assert!(state.conflict());
    assert_eq!(state.conflicts, vec![forward.clone()]);
    assert_eq!(state.status, Status::Completed);
    crate::common::assert_not_applied(&state, &forward, "completed");
    assert!(state.timeline.iter().any(|e| e.id == complete && e.applied));

    // Only the holder settles.
    sim.refuses(
        VILLAGE,
        &Action::Settle { note: "x".into() },
        &["held by station"],
    );
    sim.act(
        TOWN,
        &Action::Settle {
            note: "以办结为准，转办作废".into(),
        },
    );
    let state = sim.state();
    assert!(!state.conflict());
    assert_eq!(state.status, Status::Completed);
    assert_eq!(state.timeline.len(), sim.doc.events.len());
    sim.refuses(
        TOWN,
        &Action::Settle {
            note: "再次".into(),
        },
        &["no conflict"],
    );
}

#[test]
fn a_concurrent_transition_that_applies_is_still_flagged() {
    // One window asks for materials while another accepts, both from the fresh case.
    let mut sim = case_in("submitted");
    let prev = sim.state().last_transition;
    sim.push_raw(TOWN, &probe("request_materials"), &prev);
    let accept = sim.push_raw(TOWN, &Action::Accept, &prev);
    let state = sim.state();
    assert_eq!(state.status, Status::Accepted);
    let entry = kept(&state, &accept);
    assert!(entry.applied);
    assert!(
        entry
            .problem
            .as_ref()
            .is_some_and(|p| p.to_string().contains("concurrently"))
    );
    assert_eq!(state.conflicts, vec![accept]);
}

#[test]
fn unknown_and_malformed_events_are_kept_and_flagged() {
    let mut sim = case_in("submitted");
    let mut ev = sim.event(TOWN, &Action::Note { text: "x".into() });
    ev.kind = "teleport".into();
    let id = ev.id.clone();
    sim.doc.events.push(ev);
    let state = sim.state();
    crate::common::assert_not_applied(&state, &id, "teleport");
    assert_eq!(state.status, Status::Submitted);
}

// ---------------------------------------------------------------------------------------------
// Through a real node.
