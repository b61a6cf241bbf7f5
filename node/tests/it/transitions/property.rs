//! The property test of the fold: an event the transition table refuses leaves the folded
//! state as it was without it.

use crate::common::{CITY, TOWN, VILLAGE};
use yizhan_node::case::Action;
use yizhan_node::case::doc::Event;
use yizhan_node::case::fold::{self, CaseState};

/// Every action the property test draws from, with empty and non-empty lists where an
/// action takes one (an empty gap list or notice is refused).
fn any_action(i: usize) -> Action {
    let actions = [
        Action::Accept,
        Action::AcceptWithGaps {
            missing: vec![],
            promise: "三日内补齐".into(),
        },
        Action::AcceptWithGaps {
            missing: vec!["户口簿".into()],
            promise: "三日内补齐".into(),
        },
        Action::Refuse {
            reason: "不符合条件".into(),
        },
        Action::RequestMaterials { missing: vec![] },
        Action::RequestMaterials {
            missing: vec!["身份证".into()],
        },
        Action::Suspend {
            reason: "听证".into(),
        },
        Action::Resume,
        Action::Forward { to: TOWN.into() },
        Action::Forward { to: CITY.into() },
        Action::Approve {
            dept: "乡镇农业农村办公室".into(),
        },
        Action::Reject {
            dept: "乡镇自然资源所".into(),
            reason: "不符".into(),
        },
        Action::Complete,
        Action::Deliver,
        Action::Rate {
            level: 5,
            comment: String::new(),
        },
        Action::FollowUp {
            summary: "已回访".into(),
        },
    ];
    actions[i % actions.len()].clone()
}

/// The folded state without what records the log itself (the timeline, the conflict flags).
fn outcome(mut s: CaseState) -> CaseState {
    s.timeline.clear();
    s.conflicts.clear();
    s
}

proptest::proptest! {
    /// Issue #11: an event the transition table refuses changes nothing — folding the log with
    /// it gives the state of the log without it (only the timeline and the conflict flags say
    /// it was there). `accept_with_gaps` with no gaps used to set the status, the acceptance date
    /// and clear the missing list before refusing.
    #[test]
    fn a_refused_event_leaves_the_folded_state_unchanged(
        steps in proptest::collection::vec((0usize..16, 0usize..3), 1..24)
    ) {
        let stations = [VILLAGE, TOWN, CITY];
        let t0 = crate::common::ms("2026-03-02T09:00:00+08:00");
        let mut doc = crate::common::case_doc("case-1", crate::common::default_item("TS-006"), TOWN, t0);
        for (i, (a, s)) in steps.iter().enumerate() {
            let action = any_action(*a);
            doc.events.push(Event {
                id: format!("e{i:03}"),
                kind: action.kind().to_string(),
                at: t0 + 60_000 * (i as i64 + 1),
                order: None,
                station: stations[*s].to_string(),
                node: "node-0".into(),
                operator: "窗口".into(),
                by: None,
                prev: String::new(),
                fields: action.fields(),
                notices_by: None,
            });
        }
        let full = fold::fold(&doc);
        for entry in &full.timeline {
            if matches!(entry.problem, Some(fold::Problem::Refused(_))) {
                let mut without = doc.clone();
                without.events.retain(|e| e.id != entry.id);
                proptest::prop_assert_eq!(
                    outcome(full.clone()),
                    outcome(fold::fold(&without)),
                    "refused {} changed the state", entry.kind
                );
            }
        }
    }
}
