//! Editing the network documents item by item and year by year, as the window's settings do:
//! adding, changing, retiring and deleting catalog items; setting one calendar year. Checked on
//! a real city node, through a reopen, against a township (which may not edit them), and after
//! the township has received the city's changes (what sync does).

use crate::common::{TOWN, date, morning};
use yizhan_node::calendar::YearRule;
use yizhan_node::case::Action;
use yizhan_node::catalog::{CatalogError, RowProblem};
use yizhan_node::query::CaseFilter;
use yizhan_node::replica::RemoteDoc;
use yizhan_node::{Node, NodeError, Refusal};

fn row_problems(result: Result<(), NodeError>) -> Vec<(String, RowProblem)> {
    match result {
        Err(NodeError::Catalog(CatalogError::Rows(rows))) => {
            rows.into_iter().map(|r| (r.field, r.problem)).collect()
        }
        other => panic!("expected row errors, got {other:?}"),
    }
}

fn refusal(result: Result<(), NodeError>) -> Refusal {
    match result {
        Err(NodeError::NotAllowed { reason, .. }) => reason,
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

/// Hands everything the city has to `to` (what a sync does, without the network).
fn city_to(city: &mut Node, to: &mut Node) {
    let scope = city.scope_of(&to.identity().station);
    let docs: Vec<RemoteDoc> = city
        .changed_since(0, &scope, 10_000)
        .expect("changed")
        .into_iter()
        .map(|h| {
            let changes = city.changes_for(&h.doc_id, &[]).expect("changes");
            RemoteDoc::changes(h.doc_id, changes)
        })
        .collect();
    to.apply_remote(&city.identity().node_id, &docs)
        .expect("the township takes the city's documents");
    to.refresh().expect("refresh");
}

#[test]
fn catalog_items_are_added_changed_retired_and_deleted_one_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut city = crate::common::init_city(&dir.path().join("city"), morning("2026-03-02"));
    let before = city.catalog().len();

    // A new item: its code must be new, and it is validated as an import row is.
    let mut item = city.catalog().get("CT-001").expect("CT-001").clone();
    item.code = "CT-900".into();
    item.name = "测试新事项".into();
    city.add_item(item.clone()).expect("add");
    assert_eq!(city.catalog().len(), before + 1);
    assert_eq!(
        row_problems(city.add_item(item.clone())),
        [("code".into(), RowProblem::AlreadyInCatalog("CT-900".into()))]
    );
    let mut bad = item.clone();
    bad.code = "CT-901".into();
    bad.promised_days = bad.legal_days + 1;
    assert_eq!(
        row_problems(city.add_item(bad)),
        [(
            "promised_days".into(),
            RowProblem::PromisedOverLegal {
                promised: item.legal_days + 1,
                legal: item.legal_days
            }
        )]
    );

    // A case taken in for it keeps the item as it was at intake when the item changes.
    let case = crate::common::new_case_id(&mut city, "CT-900", "曹文静");
    let mut changed = item.clone();
    changed.name = "测试新事项（改）".into();
    changed.materials.push("新增材料".into());
    city.update_item(changed.clone()).expect("update");
    assert_eq!(city.catalog().get("CT-900"), Some(&changed));
    let view = city.case(&case).expect("case");
    assert_eq!(view.doc.item.name, "测试新事项");
    assert_eq!(view.doc.item.materials, item.materials);
    let mut unknown = changed.clone();
    unknown.code = "NOPE".into();
    assert!(matches!(
        city.update_item(unknown),
        Err(NodeError::UnknownItem(c)) if c == "NOPE"
    ));
    let mut empty_name = changed.clone();
    empty_name.name = " ".into();
    assert_eq!(
        row_problems(city.update_item(empty_name)),
        [("name".into(), RowProblem::Empty)]
    );
    assert_eq!(city.catalog().get("CT-900"), Some(&changed), "unchanged");

    // An item cases use cannot be deleted; it is retired instead, which stops intake only.
    let seq = city.seq().expect("seq");
    assert_eq!(city.item_case_count("CT-900").expect("count"), 1);
    assert_eq!(
        refusal(city.remove_item("CT-900")),
        Refusal::ItemInUse {
            code: "CT-900".into(),
            cases: 1
        }
    );
    assert_eq!(city.seq().expect("seq"), seq, "a refusal writes nothing");
    city.set_item_retired("CT-900", true).expect("retire");
    assert!(city.catalog().get("CT-900").expect("still listed").retired);
    match city.new_case(&crate::common::intake("CT-900", "曹文华")) {
        Err(NodeError::NotAllowed { action, reason }) => {
            assert_eq!(action, "intake");
            assert!(matches!(reason, Refusal::ItemRetired { ref code, .. } if code == "CT-900"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    city.act(&case, &Action::Accept, "窗口")
        .expect("the old case goes on");
    let rows = city
        .list(&CaseFilter {
            item: Some("CT-900".into()),
            ..CaseFilter::default()
        })
        .expect("list");
    assert_eq!(rows.len(), 1);
    city.set_item_retired("CT-900", false).expect("bring back");
    city.new_case(&crate::common::intake("CT-900", "曹文华"))
        .expect("intake again");

    // An unused item is deleted.
    let mut spare = item;
    spare.code = "CT-902".into();
    city.add_item(spare).expect("add");
    city.remove_item("CT-902").expect("delete");
    assert!(city.catalog().get("CT-902").is_none());
    assert!(matches!(
        city.remove_item("CT-902"),
        Err(NodeError::UnknownItem(_))
    ));

    // The edits are in the stored document, not only in memory.
    let clock = city.clock();
    drop(city);
    let city = Node::open(&dir.path().join("city"), clock).expect("reopen");
    assert_eq!(city.catalog().get("CT-900"), Some(&changed));
    assert_eq!(city.catalog().len(), before + 1);
}

#[test]
fn only_the_city_edits_and_the_township_receives_the_edits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut city = crate::common::init_city(&dir.path().join("city"), morning("2026-03-02"));
    let mut town = crate::common::enrol(&mut city, TOWN, &dir.path().join("town"));

    let item = town.catalog().get("TS-001").expect("TS-001").clone();
    assert_eq!(refusal(town.update_item(item)), Refusal::CityOnly);
    assert_eq!(refusal(town.remove_item("TS-001")), Refusal::CityOnly);
    assert_eq!(
        refusal(town.set_item_retired("TS-001", true)),
        Refusal::CityOnly
    );
    assert_eq!(
        refusal(town.set_calendar_year(2027, YearRule::default())),
        Refusal::CityOnly
    );

    city.set_item_retired("TS-001", true).expect("retire");
    let rule = YearRule {
        holidays: vec![date("2027-01-01")],
        workdays: vec![date("2027-01-09")],
    };
    city.set_calendar_year(2027, rule.clone())
        .expect("a new year");
    city_to(&mut city, &mut town);
    assert!(town.catalog().get("TS-001").expect("TS-001").retired);
    assert_eq!(town.calendar().years().get(&2027), Some(&rule));
    assert!(!town.calendar().is_working_day(date("2027-01-01")));
    assert!(town.calendar().is_working_day(date("2027-01-09")));
}

#[test]
fn a_calendar_year_is_set_validated_and_moves_due_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut city = crate::common::init_city(dir.path(), morning("2026-03-02"));
    // CT-001 promises one working day: accepted on Monday 2026-03-02, due Tuesday.
    let id = crate::common::new_case_id(&mut city, "CT-001", "曹文静");
    city.act(&id, &Action::Accept, "窗口").expect("accept");
    assert_eq!(
        city.case(&id).expect("case").deadline.due_on,
        Some(date("2026-03-03"))
    );
    let years_before = city.calendar().years().clone();

    // A holiday on that Tuesday moves the due date to Wednesday, in the view and in the index.
    let mut rule = years_before[&2026].clone();
    rule.holidays.push(date("2026-03-03"));
    city.set_calendar_year(2026, rule).expect("set 2026");
    assert!(!city.calendar().is_working_day(date("2026-03-03")));
    assert_eq!(
        city.case(&id).expect("case").deadline.due_on,
        Some(date("2026-03-04"))
    );
    let rows = city.list(&CaseFilter::default()).expect("list");
    assert_eq!(rows[0].due_on.as_deref(), Some("2026-03-04"));
    // Other years are untouched.
    assert_eq!(city.calendar().years()[&2025], years_before[&2025]);

    // A make-up working Saturday in a new year.
    city.set_calendar_year(
        2027,
        YearRule {
            holidays: vec![],
            workdays: vec![date("2027-02-20")],
        },
    )
    .expect("set 2027");
    assert!(city.calendar().is_working_day(date("2027-02-20")));

    // Bad rules are refused and write nothing.
    let seq = city.seq().expect("seq");
    let wrong_year = city.set_calendar_year(
        2027,
        YearRule {
            holidays: vec![date("2028-01-01")],
            workdays: vec![],
        },
    );
    assert!(
        matches!(
            wrong_year,
            Err(NodeError::Calendar(
                yizhan_node::calendar::CalendarError::WrongYear { year: 2027, .. }
            ))
        ),
        "{wrong_year:?}"
    );
    let both = city.set_calendar_year(
        2027,
        YearRule {
            holidays: vec![date("2027-02-20")],
            workdays: vec![date("2027-02-20")],
        },
    );
    assert!(
        matches!(
            both,
            Err(NodeError::Calendar(
                yizhan_node::calendar::CalendarError::Both { .. }
            ))
        ),
        "{both:?}"
    );
    assert!(matches!(
        city.set_calendar_year(1999, YearRule::default()),
        Err(NodeError::Calendar(
            yizhan_node::calendar::CalendarError::OutOfRange(1999)
        ))
    ));
    assert_eq!(city.seq().expect("seq"), seq);
    assert!(city.calendar().is_working_day(date("2027-02-20")));
}

/// How long opening a node takes with a large catalog (issue #11: the catalog used to be rebuilt
/// on every open). Run with `cargo test --release -p yizhan-node -- --ignored --nocapture
/// catalog_open_time`; prints the figures, asserts nothing about them.
#[test]
#[ignore = "a measurement, not a check"]
fn catalog_open_time() {
    for n in [500usize, 5_000, 77_673] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut city = crate::common::init_city(&dir.path().join("city"), morning("2026-03-02"));
        let template = city.catalog().get("CT-001").expect("CT-001").clone();
        let items = (0..n)
            .map(|i| {
                let mut item = template.clone();
                item.code = format!("X{i:06}");
                item.name = format!("事项 {i}");
                item
            })
            .collect();
        let catalog = yizhan_node::catalog::Catalog::from_items(items).expect("valid");
        match city.import_catalog(&catalog) {
            Ok(()) => {}
            Err(e) => {
                println!("catalog of {n} items: refused ({e})");
                continue;
            }
        }
        drop(city);
        let started = std::time::Instant::now();
        let node = Node::open(&dir.path().join("city"), morning("2026-03-02")).expect("open");
        let open = started.elapsed();
        let started = std::time::Instant::now();
        let len = node.catalog().len();
        let first_use = started.elapsed();
        println!(
            "catalog of {n} items: open {:.1} ms, first catalog use {:.1} ms ({len} items)",
            open.as_secs_f64() * 1e3,
            first_use.as_secs_f64() * 1e3
        );
    }
}
