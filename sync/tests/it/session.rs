//! The sans-I/O session driven in memory between real nodes (real SQLite stores, real Automerge
//! documents), without sockets, through the shared driver (`yizhan_sync::testing::Pair`).

use crate::common::{self, city, enrol, ids, network, station, sync, take_in};
use yizhan_node::Node;
use yizhan_node::case::Action;
use yizhan_sync::session::Session;

/// A city and township T enrolled at it, in a temporary directory that lives as long as the
/// first value.
fn city_and_township() -> (tempfile::TempDir, Node, Node) {
    let (tmp, c, [t]) = network([("T", "township", "C")]);
    (tmp, c, t)
}

fn new_case(node: &mut Node, item: &str, name: &str) -> String {
    common::new_case(node, item, name, false)
}

#[test]
fn city_and_township_converge_within_scope() {
    let (_tmp, mut c, [mut t1]) = network([("T1", "township", "C")]);
    c.add_station(station("T2", "township", "C")).unwrap();
    // Cases at the city: one forwarded to T1, one forwarded to T2, one kept.
    let to_t1 = new_case(&mut c, "TS-004", "甲");
    c.act(&to_t1, &Action::Forward { to: "T1".into() }, "窗口")
        .unwrap();
    let to_t2 = new_case(&mut c, "TS-004", "乙");
    c.act(&to_t2, &Action::Forward { to: "T2".into() }, "窗口")
        .unwrap();
    let _kept = new_case(&mut c, "CT-001", "丙");
    // A case taken in at T1.
    let at_t1 = new_case(&mut t1, "TS-004", "丁");

    let link = sync(&mut t1, &mut c);
    assert!(link.rounds <= 4, "rounds {}", link.rounds);
    // The city sees everything; T1 sees only what is in its scope.
    let city_ids = ids(&mut c);
    assert_eq!(city_ids.len(), 4);
    assert!(city_ids.contains(&at_t1));
    let t1_ids = ids(&mut t1);
    let mut want = vec![to_t1.clone(), at_t1];
    want.sort();
    assert_eq!(t1_ids, want);

    // T1 accepts the forwarded case; the city sees it after the next sync.
    t1.act(&to_t1, &Action::Accept, "窗口").unwrap();
    sync(&mut t1, &mut c);
    assert_eq!(c.case(&to_t1).unwrap().state.status.as_str(), "accepted");
    assert_eq!(c.heads_of(&to_t1).unwrap(), t1.heads_of(&to_t1).unwrap());

    // Nothing new: an idle reconnect moves only a few hundred bytes.
    let idle = sync(&mut t1, &mut c);
    assert!(
        idle.bytes < 8_192,
        "idle reconnect moved {} bytes",
        idle.bytes
    );
    assert!(idle.rounds <= 3, "idle rounds {}", idle.rounds);
}

#[test]
fn village_never_receives_another_villages_case() {
    let (_tmp, mut c, [mut t, mut v1, mut v2]) = network([
        ("T", "township", "C"),
        ("V1", "village", "T"),
        ("V2", "village", "T"),
    ]);
    let a = new_case(&mut v1, "TS-004", "张三");
    v1.act(&a, &Action::Forward { to: "T".into() }, "代办员")
        .unwrap();
    let b = new_case(&mut v2, "TS-004", "李四");
    sync(&mut v1, &mut t);
    sync(&mut v2, &mut t);
    sync(&mut t, &mut c);
    assert_eq!(ids(&mut t).len(), 2);
    assert_eq!(ids(&mut c).len(), 2);
    assert_eq!(ids(&mut v1), vec![a.clone()]);
    assert_eq!(ids(&mut v2), vec![b.clone()]);
    // Sync again in the other order: still isolated.
    sync(&mut t, &mut v1);
    sync(&mut t, &mut v2);
    assert_eq!(ids(&mut v1), vec![a]);
    assert_eq!(ids(&mut v2), vec![b]);
}

#[test]
fn parallel_approvals_on_partitioned_nodes_both_count() {
    let (_tmp, mut c1, [mut c2]) = network([("C", "city", "C")]);
    let id = new_case(&mut c1, "CT-002", "某公司");
    c1.act(&id, &Action::Accept, "窗口").unwrap();
    sync(&mut c2, &mut c1);
    // Partitioned: two departments decide on two machines.
    c1.act(
        &id,
        &Action::Approve {
            dept: "市场监管局".into(),
        },
        "市场监管",
    )
    .unwrap();
    c2.act(
        &id,
        &Action::Approve {
            dept: "税务局".into(),
        },
        "税务",
    )
    .unwrap();
    c2.act(
        &id,
        &Action::Approve {
            dept: "公安局".into(),
        },
        "公安",
    )
    .unwrap();
    sync(&mut c1, &mut c2);
    // The histories diverged, so Automerge's sync protocol ran, and its state was kept.
    let c2_id = c2.identity().node_id.clone();
    assert!(c1.sync_state(&c2_id, &id).unwrap().is_some());
    for n in [&mut c1, &mut c2] {
        let v = n.case(&id).unwrap();
        assert_eq!(v.state.approvals.len(), 3);
        assert!(!v.state.conflict());
    }
    c1.act(&id, &Action::Complete, "窗口").unwrap();
    sync(&mut c1, &mut c2);
    assert_eq!(c2.case(&id).unwrap().state.status.as_str(), "completed");
}

#[test]
fn an_unenrolled_node_is_refused_before_any_document_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = city(&tmp.path().join("c"));
    new_case(&mut c, "CT-001", "甲");
    let mut stranger = city(&tmp.path().join("x")); // another network entirely
    let c_id = c.identity().node_id.clone();
    let s_id = stranger.identity().node_id.clone();
    let mut ss = Session::new(&stranger, &c_id);
    let mut sc = Session::new(&c, &s_id);
    let hello = ss.start(&mut stranger).unwrap();
    let err = sc
        .handle(&mut c, hello.into_iter().next().unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("another network"), "{err}");
    assert_eq!(ids(&mut stranger).len(), 0);
    assert_eq!(ids(&mut c).len(), 1);
}

#[test]
fn catch_up_sends_about_what_is_missing_and_resumes_from_the_watermark() {
    let (_tmp, mut c, mut t) = city_and_township();
    sync(&mut t, &mut c);
    let mut lower_bound = 0usize;
    for i in 0..300 {
        let id = new_case(&mut t, "TS-004", &format!("申请人{i}"));
        lower_bound += t
            .changes_for(&id, &[])
            .unwrap()
            .iter()
            .map(Vec::len)
            .sum::<usize>();
    }
    let link = sync(&mut t, &mut c);
    assert_eq!(ids(&mut c).len(), 300);
    assert!(link.rounds <= 4, "rounds {}", link.rounds);
    let ratio = link.bytes as f64 / lower_bound as f64;
    assert!(
        ratio < 1.5,
        "moved {} bytes for {lower_bound} of changes ({ratio:.2}x)",
        link.bytes
    );
    // The watermark moved: the next sync offers nothing.
    let again = sync(&mut t, &mut c);
    assert!(again.bytes < 4_096, "{}", again.bytes);
}

#[test]
fn a_lost_watermark_is_repaired_with_a_bucket_summary_not_a_full_listing() {
    let (_tmp, mut c, mut t) = city_and_township();
    take_in(&mut t, 1_500, "申请人");
    // First contact with 1,500 documents: the summary differs everywhere, the documents follow.
    let first = sync(&mut t, &mut c);
    assert_eq!(ids(&mut c).len(), 1_500);
    assert!(first.rounds <= 5, "rounds {}", first.rounds);
    // Both sides forget their watermarks; one case changes at the township meanwhile.
    let t_id = t.identity().node_id.clone();
    let c_id = c.identity().node_id.clone();
    c.reset_received_seq(&t_id).unwrap();
    t.reset_received_seq(&c_id).unwrap();
    let changed = ids(&mut t)[0].clone();
    t.act(&changed, &Action::Accept, "窗口").unwrap();
    let repair = sync(&mut t, &mut c);
    assert_eq!(c.case(&changed).unwrap().state.status.as_str(), "accepted");
    // A full listing of 1,500 documents' heads alone would be over 100 KB.
    assert!(repair.bytes < 20_000, "repair moved {} bytes", repair.bytes);
}

#[test]
fn echoes_of_a_large_catch_up_are_not_offered_back() {
    // More documents than several `Have` pages (and than the old fixed limit of 10,000): the city's writes of the township's cases are
    // echoes, and the township's watermark of the city must move past all of them.
    let (_tmp, mut c, mut t) = city_and_township();
    take_in(&mut t, 10_500, "申请人");
    sync(&mut t, &mut c);
    assert_eq!(c.count(&Default::default()).unwrap(), 10_500);
    for (a, b) in [("t", "c"), ("c", "t")] {
        let again = if a == "t" {
            sync(&mut t, &mut c)
        } else {
            sync(&mut c, &mut t)
        };
        assert!(
            again.bytes < 4_096,
            "{a} dialing {b}: {} bytes",
            again.bytes
        );
    }
}

#[test]
fn many_split_approvals_converge_in_one_pass() {
    for _ in 0..5 {
        split_approvals_round();
    }
}

fn split_approvals_round() {
    let (_tmp, mut c1, [mut c2]) = network([("C", "city", "C")]);
    sync(&mut c2, &mut c1);
    let mut ids = Vec::new();
    for i in 0..20 {
        let id = new_case(&mut c1, ["CT-002", "CT-003", "CT-004"][i % 3], "某公司");
        c1.act(&id, &Action::Accept, "窗口").unwrap();
        ids.push(id);
    }
    sync(&mut c2, &mut c1);
    for (n, parity) in [(&mut c1, 0), (&mut c2, 1)] {
        for id in &ids {
            let depts = n.case(id).unwrap().doc.item.departments.clone();
            for (i, d) in depts.iter().enumerate() {
                if i % 2 == parity {
                    n.act(id, &Action::Approve { dept: d.clone() }, "部门")
                        .unwrap();
                }
            }
        }
    }
    // Regression: concurrent exchanges for one document could deliver a change before its
    // dependencies; the fork that queued it was dropped, the peer never resent it, and the two
    // sides exchanged heads forever. Document ids are random, so the order varies from run to run.
    sync(&mut c2, &mut c1);
    for id in &ids {
        assert_eq!(c1.heads_of(id).unwrap(), c2.heads_of(id).unwrap(), "{id}");
    }
}

/// The sessions' own round-trip count (`SessionStats::round_trips`, what a real link reports,
/// summed over both sides) against this driver's turns, which alternate strictly between the two
/// sides the way the sync benchmark counts round trips in memory: within one of each other, for
/// every kind of exchange.
#[test]
fn sessions_count_their_round_trips_like_the_turns_of_an_exchange() {
    let (tmp, mut c, mut t) = city_and_township();
    let mut seen = Vec::new();
    // First contact with nothing to move, a catch-up both ways, an idle reconnect, a first
    // contact large enough for a bucket summary.
    seen.push(("first contact", sync(&mut t, &mut c)));
    for i in 0..50 {
        new_case(&mut t, "TS-004", &format!("申请人{i}"));
    }
    let at_city = new_case(&mut c, "TS-004", "城");
    c.act(&at_city, &Action::Forward { to: "T".into() }, "窗口")
        .unwrap();
    seen.push(("catch-up", sync(&mut t, &mut c)));
    seen.push(("idle", sync(&mut t, &mut c)));
    let mut t2 = enrol(&mut c, "T2", "township", &tmp.path().join("t2"));
    take_in(&mut t2, 1_200, "乙");
    seen.push(("summary", sync(&mut t2, &mut c)));
    for (what, link) in &seen {
        eprintln!(
            "{what}: {} turns, {} round trips",
            link.rounds, link.round_trips
        );
        assert!(
            link.round_trips >= 1 && link.round_trips.abs_diff(link.rounds) <= 1,
            "{what}: {} round trips in {} turns",
            link.round_trips,
            link.rounds
        );
    }
    // An idle reconnect costs the dialer one round trip (hello) and the acceptor one (waiting
    // for the dialer's offers after its hello).
    assert_eq!(seen[2].1.round_trips, 2, "{:?}", seen[2].1);
    // The catch-up both ways costs more than the idle reconnect.
    assert!(seen[1].1.round_trips > seen[2].1.round_trips);
}

/// Issue #10: a township's open case is due in 2027, a year the calendar does not cover, so its
/// due date is provisional. The city adds 2027 (元旦 off); after one sync the township's index —
/// recomputed in the transaction that stored the calendar — shows the moved, final due date.
#[test]
fn a_calendar_year_added_at_the_city_moves_the_townships_due_dates() {
    let (_tmp, mut c, mut t) = city_and_township();
    // Monday 2026-12-28, 09:00 China time.
    let monday = yizhan_node::Clock::Fixed(common::NOW + 301 * 86_400_000);
    c.set_clock(monday);
    t.set_clock(monday);
    assert_eq!(t.today().to_string(), "2026-12-28");
    let id = new_case(&mut t, "TS-003", "吴桂英");
    t.act(&id, &Action::Accept, "窗口").unwrap();
    // Five working days: 29, 30, 31, then 1 (元旦, not known yet) and 4 January.
    let row = |n: &mut Node| {
        n.list(&yizhan_node::query::CaseFilter::default())
            .unwrap()
            .into_iter()
            .find(|r| r.id == id)
            .unwrap()
    };
    assert_eq!(row(&mut t).due_on.as_deref(), Some("2027-01-04"));
    assert!(row(&mut t).provisional);
    sync(&mut t, &mut c);
    assert!(row(&mut c).provisional);

    c.set_calendar_year(
        2027,
        yizhan_node::calendar::YearRule {
            holidays: vec!["2027-01-01".parse().unwrap()],
            workdays: vec![],
        },
    )
    .unwrap();
    sync(&mut t, &mut c);
    assert!(t.calendar().covers(2027));
    let r = row(&mut t);
    assert_eq!(r.due_on.as_deref(), Some("2027-01-05"));
    assert!(!r.provisional && !r.due_provisional);
    let v = t.case(&id).unwrap();
    assert_eq!(
        v.deadline.due_on.map(|d| d.to_string()).as_deref(),
        Some("2027-01-05")
    );
    assert_eq!(t.stats(None, None).unwrap().totals.provisional, 0);
    // The township's index is what a rebuild from its documents gives.
    let live = t.index_dump().unwrap();
    t.reindex().unwrap();
    assert_eq!(t.index_dump().unwrap(), live);
}

/// Issue #14: a received batch writes the search keys of its new cases together at its end, in
/// key order. The city finds every received case by a part of the applicant's name, and its
/// index is what a rebuild from the documents gives.
#[test]
fn the_city_finds_received_cases_by_name_and_its_index_is_what_a_rebuild_gives() {
    let (_tmp, mut c, mut t) = city_and_township();
    let names = ["吴桂英", "王秀英", "李建国", "欧阳娜娜", "张伟"];
    let ids: Vec<String> = names
        .iter()
        .map(|n| new_case(&mut t, "TS-003", n))
        .collect();
    sync(&mut t, &mut c);
    for (name, id) in names.iter().zip(&ids) {
        let part: String = name.chars().skip(1).collect();
        let found = c
            .list(&yizhan_node::query::CaseFilter {
                search: Some(part.clone()),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert!(
            found.iter().any(|r| &r.id == id),
            "searching {part} at the city finds {name}'s case"
        );
    }
    let live = c.index_dump().unwrap();
    c.reindex().unwrap();
    assert_eq!(c.index_dump().unwrap(), live);
}

/// Issue #11: a village laptop's clock jumps two days ahead and the village adds a note; the
/// township then completes the case with its right clock. The completion is dated by the
/// township's clock (it used to be stamped after the note, two days late), and the village,
/// told the township's time in the next hello, dates what it records next by the city's time.
#[test]
fn a_fast_village_clock_does_not_move_the_townships_dates() {
    use crate::common::NOW;
    use yizhan_node::Clock;
    const DAY: i64 = 86_400_000;
    const HOUR: i64 = 3_600_000;
    let (_tmp, mut c, [mut t, mut v]) = network([("T1", "township", "C"), ("V1", "village", "T1")]);
    sync(&mut t, &mut c);
    let id = common::new_case(&mut v, "TS-004", "王秀英", true);
    v.act(&id, &Action::Forward { to: "T1".into() }, "代办员")
        .unwrap();
    sync(&mut v, &mut t);
    t.act(&id, &Action::Accept, "窗口").unwrap();
    sync(&mut v, &mut t);
    assert_eq!(v.clock_offset().map(|o| o.offset_ms), Some(0));

    // The laptop's clock jumps two days ahead (a flat CMOS battery); its estimate is stale.
    v.set_clock(Clock::Fixed(NOW + 2 * DAY + HOUR));
    let note = Action::Note {
        text: "村民补充说明".into(),
    };
    v.act(&id, &note, "代办员").unwrap();
    sync(&mut v, &mut t);

    t.set_clock(Clock::Fixed(NOW + 2 * HOUR));
    let done = t.act(&id, &Action::Complete, "窗口").unwrap();
    let completed = done
        .doc
        .ordered_events()
        .last()
        .map(|e| (e.kind.clone(), e.at));
    assert_eq!(completed, Some(("complete".to_string(), NOW + 2 * HOUR)));
    assert_eq!(done.state.stopped_at, Some(NOW + 2 * HOUR));

    // The last hello told the village it runs two days fast: it warns, and dates by the city.
    let offset = v.clock_offset().expect("measured");
    assert_eq!(offset.offset_ms, 2 * DAY + HOUR);
    assert!(offset.warns());
    let view = v.act(&id, &note, "代办员").unwrap();
    let last = view.doc.events.last().map(|e| e.at);
    assert_eq!(last, Some(NOW));
}
