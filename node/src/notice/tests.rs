//! Unit tests of templates, the choice of sender and the outbox on a real SQLite connection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use rusqlite::Connection;

#[test]
fn a_template_renders_every_placeholder_and_defaults_stand_until_changed() {
    let vars = Vars {
        number: "T1-260302-1-001".into(),
        item: "居住证办理".into(),
        station: "北格镇便民服务中心".into(),
        due: "2026-03-16".into(),
        missing: "户口簿、照片".into(),
        pickup: "张村便民服务站".into(),
        reply: "已向您道歉并当场补办".into(),
    };
    let t = Templates::default();
    let text = t.render(NoticeKind::Materials, &vars);
    assert!(
        text.contains("户口簿、照片") && text.contains("张村便民服务站"),
        "{text}"
    );
    assert!(!text.contains('{'), "every placeholder is filled: {text}");
    for kind in NoticeKind::ALL {
        Templates::check(kind.default_template()).expect("every default template is valid");
        assert!(!t.is_changed(kind));
    }
    let stored = Templates::stored_with(
        None,
        NoticeKind::Completed,
        Some("{number} 好了，到{pickup}取"),
    );
    let t = Templates::from_stored(Some(&stored));
    assert!(t.is_changed(NoticeKind::Completed));
    assert_eq!(
        t.render(NoticeKind::Completed, &vars),
        "T1-260302-1-001 好了，到张村便民服务站取"
    );
    assert_eq!(
        t.get(NoticeKind::Accepted),
        NoticeKind::Accepted.default_template()
    );
    let back = Templates::stored_with(Some(&stored), NoticeKind::Completed, None);
    assert!(!Templates::from_stored(Some(&back)).is_changed(NoticeKind::Completed));
}

#[test]
fn a_template_with_an_unknown_placeholder_or_nothing_in_it_is_refused() {
    for bad in [
        "",
        "   ",
        "您好 {phone}",
        "未闭合 {number",
        &"长".repeat(MAX_TEMPLATE_CHARS + 1),
    ] {
        assert!(Templates::check(bad).is_err(), "{bad:?} must be refused");
    }
    Templates::check("{number}{item}{station}{due}{missing}{pickup}{reply}").expect("all known");
}

#[test]
fn backoff_doubles_from_its_base_up_to_an_hour() {
    assert_eq!(backoff_ms(1000, 1), 1000);
    assert_eq!(backoff_ms(1000, 2), 2000);
    assert_eq!(backoff_ms(1000, 5), 16_000);
    assert_eq!(backoff_ms(1000, 40), 3_600_000);
    assert_eq!(backoff_ms(10, 0), 10);
}

fn roster() -> Roster {
    use crate::network::{Member, Station};
    use crate::station::Tier;
    let mut r = Roster::new(
        "net".into(),
        "测试".into(),
        "root".into(),
        Station::new("C", "市中心", Tier::City, ""),
    );
    r.stations
        .insert("T".into(), Station::new("T", "镇中心", Tier::Township, "C"));
    r.stations
        .insert("V".into(), Station::new("V", "村站", Tier::Village, "T"));
    for (id, station, ordinal) in [
        ("t2", "T", 2),
        ("t1", "T", 1),
        ("v1", "V", 1),
        ("c1", "C", 1),
    ] {
        r.members.insert(
            id.into(),
            Member {
                node_id: id.into(),
                station: station.into(),
                ordinal,
                joined_at: 0,
            },
        );
    }
    r
}

#[test]
fn a_village_without_a_sender_names_its_townships_first_node_and_everyone_else_itself() {
    let mut r = roster();
    let nodes = |r: &Roster| -> Vec<(String, String, u32)> {
        r.members
            .values()
            .map(|m| (m.node_id.clone(), m.station.clone(), m.ordinal))
            .collect()
    };
    let pick = |r: &Roster, station: &str, me: &str, has: bool| {
        let n = nodes(r);
        responsible_node(
            r,
            n.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), *c)),
            station,
            me,
            has,
        )
    };
    assert_eq!(pick(&r, "V", "v1", true), "v1");
    assert_eq!(pick(&r, "V", "v1", false), "t1");
    assert_eq!(pick(&r, "T", "t2", false), "t2");
    assert_eq!(pick(&r, "C", "c1", false), "c1");
    revoke_t1(&mut r);
    assert_eq!(
        pick(&r, "V", "v1", false),
        "t2",
        "a revoked node sends nothing"
    );
}

fn outbox() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    crate::store::schema_for_tests(&conn);
    conn
}

/// The context of [`doc`]'s notices: the roster, the templates, no due date.
fn context<'a>(roster: &'a Roster, templates: &'a Templates) -> Context<'a> {
    Context {
        roster,
        templates,
        due: None,
    }
}

/// An outbox holding the notices node `t1` derives for [`doc`], queued at `created_at` on the
/// node's clock.
fn queued_outbox(created_at: i64) -> Connection {
    let r = roster();
    let t = Templates::default();
    let d = doc();
    let conn = outbox();
    queue(
        &conn,
        &d,
        &notices_for(&d, "t1", context(&r, &t)),
        created_at,
    )
    .unwrap();
    conn
}

fn doc() -> CaseDoc {
    use crate::case::doc::{Applicant, ItemSnapshot};
    CaseDoc {
        notices_by: Some("t1".into()),
        ..CaseDoc::new(
            "case-1".into(),
            "V-260302-1-001".into(),
            0,
            "V",
            "v1",
            ItemSnapshot {
                code: "X".into(),
                name: "居住证办理".into(),
                kind: crate::catalog::CaseKind::Promised,
                legal_days: 20,
                promised_days: 10,
                tier: crate::station::Tier::Township,
                materials: vec![],
                departments: vec![],
            },
            Applicant {
                phone: "13800138000".into(),
                ..Applicant::named("张三")
            },
        )
    }
}

/// Revokes the township's first node `t1`, as the city would when its laptop is lost.
fn revoke_t1(r: &mut Roster) {
    r.revoked.insert(
        "t1".into(),
        crate::network::Revocation {
            by: "c1".into(),
            at: 0,
            reason: "lost".into(),
        },
    );
}

/// Records a delivery's outcome, which the tests expect to be accepted.
fn outcome(conn: &Connection, id: &str, outcome: Outcome, at: i64) {
    record_outcome(conn, id, &outcome, at).unwrap();
}

fn event(id: &str, kind: &str, fields: &[(&str, &str)], by: Option<&str>) -> Event {
    Event {
        id: id.into(),
        kind: kind.into(),
        at: 1,
        order: Some(1),
        station: "T".into(),
        node: "t1".into(),
        operator: "李".into(),
        by: None,
        prev: String::new(),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        notices_by: by.map(str::to_string),
    }
}

#[test]
fn only_the_node_an_event_names_derives_its_notices_and_queueing_again_adds_nothing() {
    let r = roster();
    let t = Templates::default();
    let cx = context(&r, &t);
    let mut d = doc();
    d.events = vec![
        event("e1", "accept", &[], Some("t1")),
        event(
            "e2",
            "request_materials",
            &[("missing", "户口簿\n照片")],
            Some("t1"),
        ),
        event("e3", "note", &[("text", "x")], Some("t1")),
        event("e4", "complete", &[], Some("t2")),
        event("e5", "rate", &[("level", "5")], None),
        event("e6", "follow_up", &[("summary", "已整改")], Some("t1")),
        event("e7", "follow_up", &[("summary", "再次回访")], Some("t1")),
    ];
    let mine = notices_for(&d, "t1", cx);
    let ids: Vec<&str> = mine.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "case-1/received",
            "e1/accepted",
            "e2/materials",
            "e6/rectified"
        ],
        "a note tells nothing, e4 is another node's, a second call back is no reply to a rating"
    );
    assert!(mine[2].text.contains("户口簿、照片"), "{}", mine[2].text);
    assert_eq!(notices_for(&d, "t2", cx).len(), 1);
    assert!(notices_for(&d, "v1", cx).is_empty());
    let conn = outbox();
    assert_eq!(queue(&conn, &d, &mine, 100).unwrap(), 4);
    assert_eq!(
        queue(&conn, &d, &mine, 200).unwrap(),
        0,
        "the same notices once"
    );
    d.applicant.phone.clear();
    assert!(notices_for(&d, "t1", cx).is_empty(), "no phone, no notice");
}

#[test]
fn a_claim_counts_the_attempt_before_sending_and_outcomes_end_sent_or_failed() {
    let conn = queued_outbox(1_000);
    // Deliveries follow the wall clock; `at` is a moment after the queueing.
    let at = wall_ms() + 1_000;
    let claimed = claim_due(&conn, at, 10, 500).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].attempts, claimed[0].next_at), (1, at + 500));
    assert!(
        claim_due(&conn, at + 499, 10, 500).unwrap().is_empty(),
        "claimed: not due again yet"
    );
    outcome(
        &conn,
        &claimed[0].id,
        Outcome::Retry("HTTP 500".into()),
        at + 100,
    );
    let again = claim_due(&conn, at + 500, 10, 500).unwrap();
    assert_eq!(
        (again[0].attempts, again[0].next_at),
        (2, at + 1_500),
        "backoff doubled"
    );
    assert_eq!(again[0].last_error, "HTTP 500");
    outcome(&conn, &again[0].id, Outcome::Sent, at + 600);
    outcome(
        &conn,
        &again[0].id,
        Outcome::Refused("late".into()),
        at + 700,
    );
    let rows = for_case(&conn, "case-1").unwrap();
    assert_eq!(
        rows[0].state,
        NoticeState::Sent,
        "a late answer does not undo sent"
    );
    assert_eq!(rows[0].sent_at, Some(at + 600));
    assert_eq!(
        rows[0].created_at, 1_000,
        "dated by the node's clock, like its event"
    );
    assert!(
        claim_due(&conn, at + 1_000_000, 10, 500)
            .unwrap()
            .is_empty()
    );
    let c = counts(&conn).unwrap();
    assert_eq!((c.queued, c.sent, c.failed), (0, 1, 0));
    assert!(
        !format!("{:?}", rows[0]).contains("13800138000"),
        "Debug masks the phone"
    );
    assert!(
        !serde_json::to_string(&rows[0])
            .unwrap()
            .contains("13800138000")
    );
}

#[test]
fn a_refused_notice_fails_with_its_reason_and_can_be_queued_again() {
    let conn = queued_outbox(0);
    let at = wall_ms() + 1_000;
    let n = claim_due(&conn, at, 10, 500).unwrap().remove(0);
    outcome(
        &conn,
        &n.id,
        Outcome::Refused("HTTP 401: bad key".into()),
        at,
    );
    let row = &list(&conn, Some(NoticeState::Failed), 10).unwrap()[0];
    assert_eq!(row.last_error, "HTTP 401: bad key");
    assert!(
        claim_due(&conn, at + 10_000, 10, 500).unwrap().is_empty(),
        "failed stays failed"
    );
    assert!(retry(&conn, &n.id, at + 5).unwrap());
    assert_eq!(claim_due(&conn, at + 5, 10, 500).unwrap()[0].attempts, 1);
}

#[test]
fn a_villages_warnings_are_sent_by_its_townships_first_node_and_everyone_elses_by_its_own() {
    let mut r = roster();
    let nodes: Vec<(String, String, u32)> = r
        .members
        .values()
        .map(|m| (m.node_id.clone(), m.station.clone(), m.ordinal))
        .collect();
    let pick = |r: &Roster, holder: &str| {
        warning_node(
            r,
            nodes.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), *c)),
            holder,
        )
    };
    assert_eq!(pick(&r, "V").as_deref(), Some("t1"));
    assert_eq!(pick(&r, "T").as_deref(), Some("t1"));
    assert_eq!(pick(&r, "C").as_deref(), Some("c1"));
    assert_eq!(pick(&r, "X"), None, "an unknown station has no warner");
    revoke_t1(&mut r);
    assert_eq!(pick(&r, "V").as_deref(), Some("t2"));
}
