//! The dashboard (统计监察) driven by label through egui_kittest on a real city store (issue #13):
//! the overdue list says by how many working days each case is late and opens the case, where a
//! supervisor finds the 督办 form.

use crate::window_kit::*;
use eframe::egui;
use egui_kittest::kittest::Queryable as _;
use yizhan_node::Clock;
use yizhan_node::case::Action;

/// Thirty days after [`NOW`]: a case of ten promised working days accepted at `NOW` is late.
const LATER: i64 = NOW + 30 * 24 * 3_600_000;

#[test]
fn the_overdue_list_counts_working_days_late_and_opens_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = city(dir.path(), NOW);
    // 企业注销登记: ten promised working days.
    let case = take_in(&mut node, "CT-003", "王秀英");
    node.act(&case.doc.id, &Action::Accept, "窗口").unwrap();
    let due = node
        .case(&case.doc.id)
        .unwrap()
        .deadline
        .due_on
        .expect("a due date");
    node.set_clock(Clock::Fixed(LATER));
    let late = node.calendar().working_days_between(due, node.today());
    assert!(late > 0, "the case is late on {}", node.today());
    let (_handle, mut h) = node_window(node, "测试市政务服务中心");
    click(&mut h, "统计监察");
    assert!(shows(&h, "逾期（工作日）"), "the days-overdue column");
    assert!(late > 1, "more than the count tiles' 1: {late}");
    assert!(
        h.query_by_label(&late.to_string()).is_some(),
        "{late} working days late"
    );
    assert!(!shows(&h, "可办理的操作"), "no case open yet");

    button(&h, "打开办件 / 督办")
        .expect("the overdue case's button")
        .click_accesskit();
    settle(&mut h);
    assert!(shows(&h, "可办理的操作"), "the case's detail is open");
    assert!(shows(&h, &format!("办件 {}", case.doc.number)));
}

/// One day in milliseconds.
const DAY: i64 = 24 * 3_600_000;

/// Issue #13: grouped by department (按部门), the table a supervisor reads and exports gives each
/// department its on-time rate, average working days and satisfaction beside its sign-offs. The
/// CSV export writes exactly the rows the table shows.
#[test]
fn the_department_table_gives_on_time_rate_days_and_satisfaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = city(dir.path(), NOW);
    // 个体工商户设立登记: three departments sign off in parallel, promised in 2 working days.
    let case = take_in(&mut node, "CT-002", "李建国");
    let id = case.doc.id;
    node.act(&id, &Action::Accept, "窗口").unwrap();
    node.set_clock(Clock::Fixed(NOW + DAY));
    for dept in ["市场监管局", "税务局", "公安局"] {
        node.act(&id, &Action::Approve { dept: dept.into() }, "审核")
            .unwrap();
    }
    node.act(&id, &Action::Complete, "窗口").unwrap();
    node.act(
        &id,
        &Action::Rate {
            level: 1,
            comment: String::new(),
        },
        "",
    )
    .unwrap();
    let (_handle, mut h) = node_window(node, "测试市政务服务中心");
    click(&mut h, "统计监察");
    click(&mut h, "按部门");
    let csv = dir.path().join("depts.csv");
    h.get_by_label("导出文件")
        .set_text_value_accesskit(csv.to_str().expect("a UTF-8 temp path"));
    settle(&mut h);
    press(&mut h, "导出 CSV");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !shows(&h, "已导出") {
        assert!(
            std::time::Instant::now() < deadline,
            "the CSV was not written"
        );
        h.step();
        std::thread::yield_now();
    }
    // The file starts with a byte-order mark for spreadsheet programs.
    let text = std::fs::read_to_string(&csv).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("部门,办件量,同意,不同意,待审批,按时办结率,平均用时（工作日）,满意率"),
        "{text}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{text}");
    for dept in ["市场监管局", "税务局", "公安局"] {
        assert!(
            rows.contains(&format!("{dept},1,1,0,0,100.0%,1.0,100.0%").as_str()),
            "{dept} signed off on time in one working day, rated 非常满意: {text}"
        );
    }
}

/// Issue #13: the calendar beside a date field speaks the window's language, opens on the
/// field's month, pages by month and writes the day it is given into the field as YYYY-MM-DD.
#[test]
fn the_calendar_writes_the_picked_day_into_the_date_field() {
    let dir = tempfile::tempdir().unwrap();
    let node = city(dir.path(), NOW);
    let (_handle, mut h) = node_window(node, "测试市政务服务中心");
    click(&mut h, "统计监察");
    let calendars: Vec<_> = h
        .query_all_by_role_and_label(egui::accesskit::Role::Button, "日历")
        .collect();
    assert_eq!(calendars.len(), 2, "one calendar per date field");
    calendars[0].click();
    settle(&mut h);
    assert!(shows(&h, "2026年3月"), "opens on today's month");
    assert!(shows(&h, "一") && shows(&h, "日"), "Chinese weekdays");
    press(&mut h, "下月");
    assert!(shows(&h, "2026年4月"));
    h.get_by_label("16").click();
    settle(&mut h);
    assert_eq!(
        h.get_by_label("登记自").value().as_deref(),
        Some("2026-04-16")
    );
    assert!(!shows(&h, "2026年4月"), "the calendar closed");
    assert!(shows(&h, "按登记日期统计"), "the range applies");
    // Reopened, it starts on the field's month.
    h.query_all_by_role_and_label(egui::accesskit::Role::Button, "日历")
        .next()
        .expect("the calendar button")
        .click();
    settle(&mut h);
    assert!(shows(&h, "2026年4月"), "opens on the field's month");
}
