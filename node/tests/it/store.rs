//! The store: the index rebuilt from the documents equals the live one, documents are compacted
//! and still load, the cache stays bounded; [`files`]: bad directories and files are refused with
//! clear errors, and several handles on one directory see each other's writes.

use crate::common::{CITY, TOWN, VILLAGE};
use chrono::Datelike as _;
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;
use yizhan_node::Node;
use yizhan_node::case::Action;
use yizhan_node::diagnostics::DocSizes;
use yizhan_node::query::{CaseFilter, GroupBy, Stats};

mod files;

fn all_stats(node: &mut Node) -> Vec<Stats> {
    let mut out = vec![node.stats(None, None).expect("stats")];
    for by in [
        GroupBy::Township,
        GroupBy::Village,
        GroupBy::Dept,
        GroupBy::Item,
    ] {
        out.push(node.stats(Some(by), None).expect("stats"));
    }
    out.push(
        node.stats(Some(GroupBy::Village), Some(TOWN))
            .expect("stats"),
    );
    out.push(node.stats(None, Some(VILLAGE)).expect("stats"));
    out
}

/// What a station might do to a case in its queue, by status.
fn plausible_action(
    rng: &mut ChaCha8Rng,
    status: &str,
    station: &str,
    departments: &[String],
) -> Action {
    let up = match station {
        VILLAGE => TOWN,
        TOWN => CITY,
        _ => TOWN,
    };
    let dept = || {
        departments
            .first()
            .cloned()
            .unwrap_or_else(|| "市场监管局".into())
    };
    let options: Vec<Action> = match status {
        "submitted" => vec![
            Action::Accept,
            Action::Accept,
            Action::Forward { to: up.into() },
            Action::RequestMaterials {
                missing: vec!["户口簿".into()],
            },
            Action::AcceptWithGaps {
                missing: vec!["照片".into()],
                promise: "三日内补齐".into(),
            },
            Action::Refuse {
                reason: "不符合受理条件".into(),
            },
        ],
        "awaiting_materials" => vec![
            Action::Resume,
            Action::Accept,
            Action::Refuse {
                reason: "逾期未补正".into(),
            },
        ],
        "accepted" => {
            let mut v = vec![
                Action::Complete,
                Action::Complete,
                Action::Suspend {
                    reason: "现场勘查".into(),
                },
                Action::RequestMaterials {
                    missing: vec!["证明".into()],
                },
                Action::Consult {
                    with: CITY.into(),
                    minutes: 20,
                    summary: "请示".into(),
                },
            ];
            for d in departments {
                v.push(Action::Approve { dept: d.clone() });
                v.push(Action::Approve { dept: d.clone() });
            }
            v.push(Action::Reject {
                dept: dept(),
                reason: "不予许可".into(),
            });
            v
        }
        "suspended" => vec![Action::Resume],
        "completed" => vec![
            Action::Deliver,
            Action::Rate {
                level: 2,
                comment: String::new(),
            },
        ],
        _ => vec![
            Action::Rate {
                level: rng.random_range(1..=5),
                comment: "评价".into(),
            },
            Action::FollowUp {
                summary: "回访".into(),
            },
            Action::Note {
                text: "归档".into(),
            },
        ],
    };
    options[rng.random_range(0..options.len())].clone()
}

/// A few hundred cases taken in at the village, the township and the city over two weeks and
/// handled at each with plausible actions. Returns the node and the number of cases.
/// Every case the filter lists, in case-number order: lists order cases of the same instant by
/// their random ids, and a seeded run must act on them in the same order every time.
fn by_number(node: &mut Node, filter: CaseFilter) -> Vec<yizhan_node::query::CaseRow> {
    let mut rows = node
        .list(&CaseFilter {
            limit: 10_000,
            ..filter
        })
        .expect("list");
    rows.sort_by(|a, b| a.number.cmp(&b.number));
    rows
}

fn busy_network(dir: &Path) -> (Node, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut node = crate::common::init_city(dir, crate::common::morning("2026-03-02"));
    let codes: Vec<String> = node.catalog().items().map(|i| i.code.clone()).collect();
    let depts: BTreeMap<String, Vec<String>> = node
        .catalog()
        .items()
        .map(|i| (i.code.clone(), i.departments.clone()))
        .collect();
    let mut cases = 0;
    let mut day = crate::common::date("2026-03-02");
    for _ in 0..12 {
        for station in [VILLAGE, TOWN, CITY] {
            node = crate::common::reopen_as(node, dir, station);
            node.set_clock(crate::common::clock(&format!("{day}T09:30:00+08:00")));
            let batch: Vec<_> = (0..rng.random_range(5..12))
                .map(|i| {
                    let mut n = crate::common::intake(
                        &codes[rng.random_range(0..codes.len())],
                        &format!("申请人{i}"),
                    );
                    // ID numbers and phones (not drawn from `rng`, so the run stays the same)
                    // give the rebuilt index search keys of every kind to agree on.
                    let serial = cases + i;
                    if i % 3 != 2 {
                        n.id_number = crate::common::id_number(&format!(
                            "1101051980{:02}{:02}{serial:03}",
                            i % 12 + 1,
                            day.day()
                        ));
                    }
                    if i % 4 != 3 {
                        n.phone = format!("1381234{serial:04}");
                    }
                    if station == VILLAGE {
                        n.delegated = true;
                        n.entrustment = rng.random_range(0..2) == 0;
                        n.handed_over = vec!["身份证复印件".into()];
                    }
                    n
                })
                .collect();
            cases += node.new_cases(&batch).expect("intake").len();
            let queue = by_number(
                &mut node,
                CaseFilter {
                    holder: Some(station.into()),
                    ..CaseFilter::default()
                },
            );
            for row in queue {
                for _ in 0..2 {
                    let action =
                        plausible_action(&mut rng, &row.status, station, &depts[&row.item_code]);
                    if node.act(&row.id, &action, "窗口").is_ok() {
                        break;
                    }
                }
            }
            // Closed cases anywhere on the route get delivered, rated and called back.
            let closed = by_number(
                &mut node,
                CaseFilter {
                    area: Some(station.into()),
                    ..CaseFilter::default()
                },
            );
            for row in &closed {
                if rng.random_range(0..4) != 0 {
                    continue;
                }
                let action = plausible_action(&mut rng, "closed", station, &[]);
                let _ = node.act(&row.id, &action, "代办员");
            }
        }
        day = day.succ_opt().expect("the next day");
    }
    node = crate::common::reopen_as(node, dir, CITY);
    (node, cases)
}

#[test]
fn reindex_rebuilds_exactly_the_live_index_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, cases) = busy_network(dir.path());
    assert!(cases >= 200, "{cases}");

    let dump = node.index_dump().unwrap();
    let stats = all_stats(&mut node);
    // Every case has its search keys in the dump.
    let keyed: std::collections::BTreeSet<&str> = dump
        .iter()
        .filter_map(|l| l.strip_prefix("search_keys: "))
        .filter_map(|l| l.rsplit(' ').next())
        .collect();
    assert_eq!(keyed.len(), cases, "cases with search keys");

    // The mix is varied enough to mean something.
    let totals = &stats[0].totals;
    assert_eq!(totals.cases, cases as u64);
    assert!(totals.by_status.len() >= 6, "{:?}", totals.by_status);
    assert!(totals.rated > 0 && totals.consults > 0 && totals.delegated > 0);
    assert!(totals.on_time > 0 && totals.late > 0, "{totals:?}");
    assert!(stats[3].depts.iter().any(|d| d.approved > 0));
    assert!(stats[1].groups.iter().any(|g| g.key == TOWN));
    // Counters agree with plain counts of the table.
    for (status, n) in &totals.by_status {
        let counted = node
            .count(&CaseFilter {
                status: yizhan_node::case::Status::parse(status),
                ..CaseFilter::default()
            })
            .unwrap();
        assert_eq!(counted, *n, "{status}");
    }

    // Department counts of a village's area agree with its cases' own decisions.
    let mut expected: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for row in node
        .list(&CaseFilter {
            area: Some(VILLAGE.into()),
            limit: 10_000,
            ..CaseFilter::default()
        })
        .unwrap()
    {
        let v = node.case(&row.id).unwrap();
        for d in &v.doc.item.departments {
            let e = expected.entry(d.clone()).or_default();
            match v.state.approvals.get(d).map(|a| a.approved) {
                Some(true) => e.0 += 1,
                Some(false) => e.1 += 1,
                None => e.2 += 1,
            }
        }
    }
    let village: BTreeMap<String, (u64, u64, u64)> = stats[6]
        .depts
        .iter()
        .map(|d| {
            assert_eq!(d.cases, d.approved + d.rejected + d.pending);
            (d.dept.clone(), (d.approved, d.rejected, d.pending))
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(village, expected);

    assert_eq!(node.reindex().unwrap(), cases);
    assert_eq!(node.index_dump().unwrap(), dump);
    assert_eq!(all_stats(&mut node), stats);

    // A damaged index is repaired by a rebuild.
    crate::common::raw_sql(
        dir.path(),
        "DELETE FROM cases WHERE rowid % 3 = 0; UPDATE case_counts SET n = n + 5; DELETE FROM dept_counts;
         DELETE FROM search_keys WHERE term % 2 = 0;",
    );
    assert_ne!(node.index_dump().unwrap(), dump);
    node.reindex().unwrap();
    assert_eq!(node.index_dump().unwrap(), dump);
    assert_eq!(all_stats(&mut node), stats);

    // Another handle on the same directory sees the same index.
    let mut other = Node::open(dir.path(), node.clock()).unwrap();
    assert_eq!(other.index_dump().unwrap(), dump);
    assert_eq!(all_stats(&mut other), stats);
}

/// The same statistics as [`all_stats`], counted from the cases created in a range.
fn all_stats_between(node: &mut Node, from: &str, to: &str) -> Vec<Stats> {
    let (from, to) = (
        Some(crate::common::date(from)),
        Some(crate::common::date(to)),
    );
    let mut out = vec![node.stats_between(None, None, from, to).expect("stats")];
    for by in [
        GroupBy::Township,
        GroupBy::Village,
        GroupBy::Dept,
        GroupBy::Item,
    ] {
        out.push(node.stats_between(Some(by), None, from, to).expect("stats"));
    }
    out.push(
        node.stats_between(Some(GroupBy::Village), Some(TOWN), from, to)
            .expect("stats"),
    );
    out.push(
        node.stats_between(None, Some(VILLAGE), from, to)
            .expect("stats"),
    );
    out
}

#[test]
fn ranged_stats_count_the_cases_created_in_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, cases) = busy_network(dir.path());
    let counters = all_stats(&mut node);

    // Over the whole span (and beyond it) the cases give exactly what the counters give.
    assert_eq!(
        all_stats_between(&mut node, "2026-03-02", "2026-03-13"),
        counters
    );
    assert_eq!(
        all_stats_between(&mut node, "2026-01-01", "2026-12-31"),
        counters
    );
    assert_eq!(
        node.stats_between(None, None, None, Some(crate::common::date("2026-12-31")))
            .unwrap(),
        counters[0]
    );

    // A narrower range counts only the cases created in it, as the list filter does.
    let (from, to) = (
        crate::common::date("2026-03-05"),
        crate::common::date("2026-03-07"),
    );
    for area in [None, Some(TOWN), Some(VILLAGE)] {
        let ranged = node
            .stats_between(Some(GroupBy::Item), area, Some(from), Some(to))
            .unwrap();
        let listed = node
            .count(&CaseFilter {
                area: area.map(str::to_string),
                created_from: Some(from),
                created_to: Some(to),
                ..CaseFilter::default()
            })
            .unwrap();
        assert!(listed > 0, "{area:?}");
        assert_eq!(ranged.totals.cases, listed, "{area:?}");
        assert_eq!(
            ranged.totals.by_status.values().sum::<u64>(),
            listed,
            "{area:?}"
        );
        assert_eq!(
            ranged.groups.iter().map(|g| g.totals.cases).sum::<u64>(),
            listed,
            "{area:?}"
        );
        // Only open cases are lit, and only those created in the range.
        assert!(ranged.totals.lights.values().sum::<u64>() <= ranged.totals.open);
    }
    let narrow = node
        .stats_between(None, None, Some(from), Some(to))
        .unwrap();
    assert!(narrow.totals.cases < cases as u64);
    // Before the first case and after the last, nothing.
    let none = node
        .stats_between(None, None, Some(crate::common::date("2026-03-14")), None)
        .unwrap();
    assert_eq!(none.totals.cases, 0);
    assert!(none.totals.lights.values().all(|n| *n == 0));
}

#[test]
fn increments_are_compacted_into_the_snapshot_and_the_document_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = crate::common::init_city(dir.path(), crate::common::morning("2026-03-02"));
    let id = crate::common::new_case_id(&mut node, "CT-002", "冯建设");
    let DocSizes {
        snapshot: snap0,
        increments: incr0,
        increment_count: n0,
    } = node.diagnostics().doc_sizes(&id).unwrap().expect("stored");
    assert!(snap0 > 0);
    assert_eq!((incr0, n0), (0, 0));

    const NOTES: usize = 300;
    let mut compactions = 0;
    let mut last_n = 0;
    let mut max_snap = snap0;
    for i in 0..NOTES {
        node.act(
            &id,
            &Action::Note {
                text: format!("第{i}次备注：申请人来电询问进度"),
            },
            "窗口",
        )
        .unwrap();
        let DocSizes {
            snapshot: snap,
            increments: incr,
            increment_count: n,
        } = node.diagnostics().doc_sizes(&id).unwrap().expect("stored");
        assert!(
            incr <= snap,
            "increments ({incr}) outgrew the snapshot ({snap})"
        );
        if n < last_n || (n == 0 && i > 0) {
            compactions += 1;
            assert_eq!(incr, 0);
            assert!(snap >= max_snap, "a compacted snapshot shrank");
        }
        max_snap = max_snap.max(snap);
        last_n = n;
    }
    let DocSizes {
        snapshot: snap,
        increments: _,
        increment_count: n,
    } = node.diagnostics().doc_sizes(&id).unwrap().unwrap();
    assert!(compactions >= 2, "only {compactions} compactions");
    assert!(
        n < NOTES as i64 / 4,
        "{n} increments left for {NOTES} writes"
    );
    assert!(snap > snap0);

    let heads = node.diagnostics().doc_heads(&id).unwrap().unwrap();
    let events = node.case(&id).unwrap().doc.events;
    drop(node);
    let mut node = Node::open(dir.path(), crate::common::morning("2026-03-02")).unwrap();
    let v = node.case(&id).unwrap();
    assert_eq!(v.doc.events, events);
    assert_eq!(v.state.timeline.len(), NOTES);
    assert!(v.state.timeline.iter().all(|e| e.applied));
    let reloaded = node.diagnostics().doc_heads(&id).unwrap().unwrap();
    assert_eq!(reloaded, heads);
    // And it keeps taking changes after the reload.
    node.act(&id, &Action::Accept, "窗口").unwrap();
    assert_eq!(node.case(&id).unwrap().doc.events.len(), NOTES + 1);
}

#[test]
fn the_document_cache_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = crate::common::init_city(dir.path(), crate::common::morning("2026-03-02"));
    node.diagnostics().set_cache_capacity(16);
    let batch: Vec<_> = (0..200)
        .map(|i| crate::common::intake("CT-001", &format!("申请人{i}")))
        .collect();
    let ids: Vec<String> = node
        .new_cases(&batch)
        .unwrap()
        .into_iter()
        .map(|v| v.doc.id)
        .collect();
    assert!(node.diagnostics().cached_docs() <= 16);
    for (i, id) in ids.iter().enumerate() {
        node.case(id).unwrap();
        if i % 2 == 0 {
            node.act(id, &Action::Accept, "窗口").unwrap();
        }
        assert!(
            node.diagnostics().cached_docs() <= 16,
            "{}",
            node.diagnostics().cached_docs()
        );
    }
    assert!(node.diagnostics().cached_docs() > 0);
    // The evicted documents come back from disk intact.
    for id in ids.iter().step_by(2) {
        assert_eq!(
            node.case(id).unwrap().state.status,
            yizhan_node::case::Status::Accepted
        );
    }
    assert!(node.diagnostics().cached_docs() <= 16);
    node.reindex().unwrap();
    assert!(node.diagnostics().cached_docs() <= 16);
}

#[test]
fn the_inbox_lists_what_needs_the_station_now() {
    use yizhan_node::inbox::Section;
    let dir = tempfile::tempdir().expect("tempdir");
    let day = crate::common::morning("2026-03-02");
    let node = crate::common::init_city(dir.path(), day);
    // Taken in at the village and sent up (上报) to the township.
    let mut v = crate::common::reopen_as(node, dir.path(), VILLAGE);
    let first = crate::common::new_case_id(&mut v, "TS-004", "王秀英");
    let second = crate::common::new_case_id(&mut v, "TS-004", "李四");
    let inbox = v.inbox().expect("inbox");
    assert_eq!(
        inbox.count(Section::Arrived),
        2,
        "taken in, not yet sent up"
    );
    assert_eq!(inbox.count(Section::News), 0);
    for id in [&first, &second] {
        v.act(id, &Action::Forward { to: TOWN.into() }, "代办员")
            .expect("forward");
    }
    assert_eq!(v.inbox().expect("inbox").to_do(), 0);
    v.mark_inbox_seen().expect("seen");

    // The township: both arrived; one accepted, the other sent back for materials.
    let mut t = crate::common::reopen_as(v, dir.path(), TOWN);
    let inbox = t.inbox().expect("inbox");
    assert_eq!(inbox.count(Section::Arrived), 2);
    assert!(inbox.sections.iter().all(|s| s.section != Section::News));
    t.set_clock(crate::common::clock("2026-03-02T10:00:00+08:00"));
    t.act(&first, &Action::Accept, "窗口一号").expect("accept");
    t.act(
        &second,
        &Action::RequestMaterials {
            missing: vec!["身份证".into()],
        },
        "窗口一号",
    )
    .expect("ask for materials");
    let inbox = t.inbox().expect("inbox");
    assert_eq!(inbox.count(Section::Arrived), 0);
    assert_eq!(inbox.count(Section::Materials), 1);
    assert_eq!(inbox.count(Section::Due), 0, "just accepted: green");
    // Weeks later the accepted case's light is no longer green: it is due soon or overdue.
    t.set_clock(crate::common::morning("2026-04-20"));
    let inbox = t.inbox().expect("inbox");
    assert_eq!(inbox.count(Section::Due), 1);
    assert_eq!(inbox.to_do(), 2);

    // Back at the village: both cases moved on elsewhere since the agent last looked.
    let mut v = crate::common::reopen_as(t, dir.path(), VILLAGE);
    let inbox = v.inbox().expect("inbox");
    assert_eq!(inbox.count(Section::News), 2);
    v.set_clock(crate::common::morning("2026-04-20"));
    v.mark_inbox_seen().expect("seen");
    assert_eq!(v.inbox().expect("inbox").count(Section::News), 0);
}

/// The benchmarks' reads cannot write: SQLite's own read-only test refuses any statement that
/// could, so `Node::diagnostics` is no back door around the write path.
#[test]
fn diagnostic_reads_refuse_statements_that_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = crate::common::init_city(dir.path(), crate::common::morning("2026-03-02"));
    crate::common::new_case_id(&mut node, "CT-001", "赵志强");
    let d = node.diagnostics();
    let none = yizhan_node::diagnostics::NO_PARAMS;
    assert_eq!(d.integer("SELECT count(*) FROM cases", none).unwrap(), 1);
    assert!(
        !d.explain("SELECT doc_id FROM cases", none)
            .unwrap()
            .is_empty()
    );
    for sql in [
        "DELETE FROM cases",
        "UPDATE meta SET value = 'x' WHERE key = 'station'",
        "CREATE TABLE t (x)",
    ] {
        assert!(d.rows(sql, none).is_err(), "{sql}");
        assert!(d.time_query(sql, none, 1).is_err(), "{sql}");
    }
    assert_eq!(node.count(&CaseFilter::default()).unwrap(), 1);
}

/// Issue #13: grouped by village, the township's and the city's own cases count under their own
/// stations (one row per station, nothing lumped as "(本级)"), and a station with no cases has
/// its row with zeros; grouped by township, a silent township is listed too.
#[test]
fn every_station_has_its_own_row_and_silent_ones_show_zeros() {
    use yizhan_node::network::Station;
    use yizhan_node::station::Tier;
    let dir = tempfile::tempdir().unwrap();
    let mut node = crate::common::init_city(dir.path(), crate::common::morning("2026-03-02"));
    node.add_station(Station::new("V02", "李村便民服务站", Tier::Village, TOWN))
        .unwrap();
    node.add_station(Station::new(
        "T02",
        "南镇便民服务中心",
        Tier::Township,
        CITY,
    ))
    .unwrap();
    for station in [VILLAGE, TOWN, CITY] {
        node = crate::common::reopen_as(node, dir.path(), station);
        node.new_case(&crate::common::intake("CT-001", "张三"))
            .unwrap();
    }
    let s = node.stats(Some(GroupBy::Village), None).unwrap();
    let count = |s: &Stats, key: &str| {
        s.groups
            .iter()
            .find(|g| g.key == key)
            .map(|g| g.totals.cases)
            .unwrap_or_else(|| panic!("no row for {key}: {:?}", s.groups))
    };
    assert_eq!(count(&s, VILLAGE), 1);
    assert_eq!(count(&s, TOWN), 1);
    assert_eq!(count(&s, CITY), 1);
    assert_eq!(count(&s, "V02"), 0);
    assert!(
        s.groups.iter().all(|g| !g.name.contains("本级")),
        "{:?}",
        s.groups
    );
    let s = node.stats(Some(GroupBy::Township), None).unwrap();
    assert_eq!(count(&s, TOWN), 2);
    assert_eq!(count(&s, "T02"), 0);
    let s = node.stats(Some(GroupBy::Village), Some(TOWN)).unwrap();
    assert_eq!(count(&s, "V02"), 0);
    assert!(s.groups.iter().all(|g| g.key != "T02"));
}

/// A case new to a store that still has an index row for it (a stale index: the document is
/// gone, its row is not) takes that row over in place, as any update does: a received new case
/// is inserted without first looking for its row (issue #14), and falls back to the upsert.
#[test]
fn a_received_case_whose_index_row_is_still_there_takes_it_over() {
    let dir = tempfile::tempdir().unwrap();
    let city_dir = dir.path().join("city");
    let mut city = crate::common::init_city(&city_dir, crate::common::morning("2026-03-02"));
    let mut town = crate::common::enrol(&mut city, TOWN, &dir.path().join("town"));
    let town_id = town.identity().node_id.clone();
    let ids: Vec<String> = ["王小明", "李四", "张三"]
        .into_iter()
        .map(|name| crate::common::new_case_id(&mut town, "CT-001", name))
        .collect();
    let sent = |town: &mut Node, ids: &[String]| -> Vec<yizhan_node::replica::RemoteDoc> {
        ids.iter()
            .map(|id| {
                let changes = town.changes_for(id, &[]).unwrap();
                yizhan_node::replica::RemoteDoc::changes(id.clone(), changes)
            })
            .collect()
    };
    city.apply_remote(&town_id, &sent(&mut town, &ids)).unwrap();
    let dump = city.index_dump().unwrap();
    let stats = all_stats(&mut city);

    crate::common::raw_sql(
        &city_dir,
        &format!("DELETE FROM docs WHERE doc_id = '{}'", ids[0]),
    );
    let applied = city
        .apply_remote(&town_id, &sent(&mut town, &ids[..1]))
        .unwrap();
    assert_eq!(applied.changed, 1);
    assert_eq!(city.index_dump().unwrap(), dump, "the row is the same row");
    assert_eq!(all_stats(&mut city), stats, "the case is counted once");
    city.reindex().unwrap();
    assert_eq!(city.index_dump().unwrap(), dump);
}
