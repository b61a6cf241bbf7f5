//! The same rules through a real [`Node`]: a refused action is `NotAllowed` and writes nothing,
//! and the tiers decide who accepts and decides what, on one store and on enrolled nodes.

use super::probe;
use crate::common::{CITY, TOWN, VILLAGE};
use yizhan_node::case::Action;
use yizhan_node::case::fold::Status;
use yizhan_node::{CaseView, Node, NodeError};

fn city(dir: &std::path::Path) -> Node {
    crate::common::init_city(dir, crate::common::morning("2026-03-02"))
}

/// Takes in a case of `item` for `name`.
fn take_in(node: &mut Node, item: &str, name: &str) -> CaseView {
    node.new_case(&crate::common::intake(item, name))
        .expect("intake")
}

/// Acts on a case at `node`: the action must be refused with `NotAllowed` for a reason naming each
/// of `words`, and write nothing. Returns the refused action's kind.
fn refuses(
    node: &mut Node,
    id: &str,
    action: &Action,
    operator: &str,
    words: &[&str],
) -> &'static str {
    let err = refused_without_writing(node, |n| n.act(id, action, operator));
    let (kind, why) = crate::common::not_allowed::<()>(Err(err));
    for word in words {
        assert!(why.contains(word), "{} refused: {why}", action.kind());
    }
    kind
}

/// Runs `f`, which must fail, and checks that it wrote nothing.
fn refused_without_writing<T: std::fmt::Debug>(
    node: &mut Node,
    f: impl FnOnce(&mut Node) -> Result<T, NodeError>,
) -> NodeError {
    let seq = node.seq().expect("seq");
    let dump = node.index_dump().expect("index dump");
    let err = f(node).expect_err("the action must be refused");
    assert_eq!(
        node.seq().expect("seq"),
        seq,
        "a refused action bumped seq: {err}"
    );
    assert_eq!(
        node.index_dump().expect("index dump"),
        dump,
        "a refused action changed the index"
    );
    err
}

#[test]
fn node_refuses_with_not_allowed_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = city(dir.path());
    let ts = take_in(&mut node, "TS-004", "李桂兰");
    let ct = take_in(&mut node, "CT-001", "赵志强");
    let ct2 = take_in(&mut node, "CT-002", "钱卫东");

    // The city cannot accept (or refuse) a township item it took in: it forwards it.
    for action in [
        Action::Accept,
        Action::Refuse {
            reason: "不符合条件".into(),
        },
    ] {
        assert_eq!(
            refuses(
                &mut node,
                &ts.doc.id,
                &action,
                "窗口",
                &[
                    "TS-004",
                    "township station",
                    "this is a city station",
                    "forward the case"
                ]
            ),
            action.kind()
        );
    }
    // It accepts a city item.
    let v = node.act(&ct.doc.id, &Action::Accept, "窗口").unwrap();
    assert_eq!(v.state.status, Status::Accepted);

    // Transition-table refusals come back as NotAllowed with the table's reason.
    assert_eq!(
        refuses(
            &mut node,
            &ct.doc.id,
            &Action::Accept,
            "窗口",
            &["accepted (办理中)"]
        ),
        "accept"
    );

    node.act(&ct2.doc.number, &Action::Accept, "窗口").unwrap();
    let err = refused_without_writing(&mut node, |n| n.act(&ct2.doc.id, &Action::Complete, "窗口"));
    let (_, why) = crate::common::not_allowed::<()>(Err(err));
    for d in &ct2.doc.item.departments {
        assert!(why.contains(d.as_str()), "{why}");
    }
    let err = refused_without_writing(&mut node, |n| {
        n.act(
            &ct2.doc.id,
            &Action::Approve {
                dept: "教育局".into(),
            },
            "窗口",
        )
    });
    let (_, why) = crate::common::not_allowed::<()>(Err(err));
    assert!(
        why.contains("教育局") && why.contains("does not take part"),
        "{why}"
    );
    node.act(
        &ct2.doc.id,
        &Action::Approve {
            dept: "税务局".into(),
        },
        "税务窗口",
    )
    .unwrap();
    let err = refused_without_writing(&mut node, |n| {
        n.act(
            &ct2.doc.id,
            &Action::Approve {
                dept: "税务局".into(),
            },
            "税务窗口",
        )
    });
    let (_, why) = crate::common::not_allowed::<()>(Err(err));
    assert!(why.contains("already decided"), "{why}");
    refuses(
        &mut node,
        &ct2.doc.id,
        &Action::Settle { note: "x".into() },
        "窗口",
        &["no conflict"],
    );

    // Once forwarded, the city no longer holds the township case.
    node.act(&ts.doc.id, &Action::Forward { to: TOWN.into() }, "窗口")
        .unwrap();
    refuses(
        &mut node,
        &ts.doc.id,
        &Action::Accept,
        "窗口",
        &["held by station T01, not C01"],
    );
    let err = refused_without_writing(&mut node, |n| {
        n.act(&ts.doc.id, &Action::Forward { to: VILLAGE.into() }, "窗口")
    });
    assert!(
        matches!(
            err,
            NodeError::NotAllowed {
                action: "forward",
                ..
            }
        ),
        "{err}"
    );

    // What only the node checks: unknown stations, missing reasons, bad levels. Nothing written.
    let err = refused_without_writing(&mut node, |n| {
        n.act(&ct.doc.id, &Action::Forward { to: "X99".into() }, "窗口")
    });
    assert!(
        matches!(err, NodeError::UnknownStation(ref s) if s == "X99"),
        "{err}"
    );
    let err = refused_without_writing(&mut node, |n| {
        n.act(
            &ts.doc.id,
            &Action::Refuse {
                reason: "  ".into(),
            },
            "窗口",
        )
    });
    assert!(
        matches!(
            err,
            NodeError::InvalidInput {
                field: "reason",
                ..
            }
        ),
        "{err}"
    );
    let err = refused_without_writing(&mut node, |n| {
        n.act(
            &ct.doc.id,
            &Action::Consult {
                with: TOWN.into(),
                minutes: 0,
                summary: "x".into(),
            },
            "窗口",
        )
    });
    assert!(
        matches!(
            err,
            NodeError::InvalidInput {
                field: "minutes",
                ..
            }
        ),
        "{err}"
    );
    let err = refused_without_writing(&mut node, |n| {
        n.act("no-such-case", &Action::Accept, "窗口")
    });
    assert!(matches!(err, NodeError::CaseNotFound(_)), "{err}");

    // A batch with one refused action writes none of them.
    let err = refused_without_writing(&mut node, |n| {
        n.act_many(
            &[
                (ct.doc.id.clone(), Action::Complete),
                (ct.doc.id.clone(), Action::Complete),
            ],
            "窗口",
        )
    });
    let (_, why) = crate::common::not_allowed::<()>(Err(err));
    assert!(why.contains("completed"), "{why}");
    assert_eq!(
        node.case(&ct.doc.id).unwrap().state.status,
        Status::Accepted
    );
}

#[test]
fn tiers_decide_who_accepts_what() {
    let dir = tempfile::tempdir().unwrap();
    let node = city(dir.path());

    // A village agent takes in a township item and a village item.
    let mut node = crate::common::reopen_as(node, dir.path(), VILLAGE);
    let ts = take_in(&mut node, "TS-004", "孙玉梅");
    let vl = take_in(&mut node, "VL-005", "周德福");
    let ct = take_in(&mut node, "CT-001", "吴建国");
    assert_eq!(ts.state.holder, VILLAGE);
    for action in [Action::Accept, probe("accept_with_gaps"), probe("refuse")] {
        refuses(
            &mut node,
            &ts.doc.id,
            &action,
            "代办员",
            &["accepted at a township station", "village station"],
        );
    }
    node.act(&vl.doc.id, &Action::Accept, "代办员").unwrap();
    node.act(&ts.doc.id, &Action::Forward { to: TOWN.into() }, "代办员")
        .unwrap();
    node.act(&ct.doc.id, &Action::Forward { to: TOWN.into() }, "代办员")
        .unwrap();
    // The village may still record a consult and notes on a case it forwarded, but not handle it.
    node.act(
        &ts.doc.id,
        &Action::Consult {
            with: TOWN.into(),
            minutes: 5,
            summary: "询问材料".into(),
        },
        "代办员",
    )
    .unwrap();
    let err = refused_without_writing(&mut node, |n| {
        n.act(&ts.doc.id, &probe("request_materials"), "代办员")
    });
    assert!(matches!(err, NodeError::NotAllowed { .. }), "{err}");

    // The township accepts the township item and forwards the city item up.
    let mut node = crate::common::reopen_as(node, dir.path(), TOWN);
    refuses(
        &mut node,
        &ct.doc.id,
        &Action::Accept,
        "窗口",
        &["accepted at a city station", "this is a township station"],
    );
    let v = node.act(&ts.doc.id, &Action::Accept, "窗口").unwrap();
    assert_eq!(v.state.status, Status::Accepted);
    node.act(&ct.doc.id, &Action::Forward { to: CITY.into() }, "窗口")
        .unwrap();
    refuses(
        &mut node,
        &vl.doc.id,
        &Action::Complete,
        "窗口",
        &["held by station V01, not T01"],
    );

    // The city accepts it.
    let mut node = crate::common::reopen_as(node, dir.path(), CITY);
    let v = node.act(&ct.doc.id, &Action::Accept, "窗口").unwrap();
    assert_eq!(v.state.route, vec![VILLAGE, TOWN, CITY]);
    assert_eq!(v.state.status, Status::Accepted);
}

#[test]
fn tiers_hold_on_enrolled_village_and_township_nodes() {
    let root = tempfile::tempdir().unwrap();
    let mut city = city(&root.path().join("city"));
    let mut village = crate::common::enrol(&mut city, VILLAGE, &root.path().join("village"));
    let mut town = crate::common::enrol(&mut city, TOWN, &root.path().join("town"));

    // The village agent's own node: it takes in anything, accepts only village items.
    let ts = take_in(&mut village, "TS-004", "孙玉梅");
    let vl = take_in(&mut village, "VL-005", "周德福");
    for action in [Action::Accept, probe("accept_with_gaps"), probe("refuse")] {
        assert_eq!(
            refuses(
                &mut village,
                &ts.doc.id,
                &action,
                "代办员",
                &[
                    "TS-004",
                    "accepted at a township station",
                    "this is a village station"
                ]
            ),
            action.kind()
        );
    }
    let v = village.act(&vl.doc.id, &Action::Accept, "代办员").unwrap();
    assert_eq!(v.doc.events[0].node, village.identity().node_id);
    let v = village
        .act(&ts.doc.id, &Action::Forward { to: TOWN.into() }, "代办员")
        .unwrap();
    assert_eq!(v.state.holder, TOWN);

    // The township hall's node: township items yes, city items no.
    let ts2 = take_in(&mut town, "TS-004", "郭秀兰");
    let ct = take_in(&mut town, "CT-002", "邓建平");
    assert_eq!(
        town.act(&ts2.doc.id, &Action::Accept, "窗口")
            .unwrap()
            .state
            .status,
        Status::Accepted
    );
    refuses(
        &mut town,
        &ct.doc.id,
        &Action::Accept,
        "窗口",
        &["accepted at a city station", "this is a township station"],
    );
    town.act(&ct.doc.id, &Action::Forward { to: CITY.into() }, "窗口")
        .unwrap();
    // Only a city node changes network documents.
    let err = town
        .set_settings(yizhan_node::network::Settings::default())
        .unwrap_err();
    assert!(matches!(err, NodeError::NotAllowed { .. }), "{err}");
}

#[test]
fn a_batch_of_actions_on_one_case_sees_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = city(dir.path());
    // A 即办件 is accepted and completed on the spot, in one transaction.
    let ct = take_in(&mut node, "CT-001", "蒋丽萍");
    let seq = node.seq().unwrap();
    let views = node
        .act_many(
            &[
                (ct.doc.id.clone(), Action::Accept),
                (ct.doc.number.clone(), Action::Complete),
                (ct.doc.id.clone(), Action::Deliver),
            ],
            "窗口",
        )
        .unwrap();
    assert_eq!(views.len(), 3);
    assert_eq!(views[2].state.status, Status::Delivered);
    assert_eq!(node.seq().unwrap(), seq + 3);
    let v = node.case(&ct.doc.id).unwrap();
    assert_eq!(v.doc.events.len(), 3);
    assert!(
        v.state
            .timeline
            .iter()
            .all(|e| e.applied && e.problem.is_none())
    );
    // Each event points at the one before it.
    assert_eq!(v.doc.events[1].prev, v.doc.events[0].id);
    assert_eq!(v.doc.events[2].prev, v.doc.events[1].id);
    node.reindex().unwrap();
    assert_eq!(
        node.case(&ct.doc.id).unwrap().state.status,
        Status::Delivered
    );
}
