//! Issue #10, in the window: a due date counted into a year the calendar does not cover is
//! marked provisional on the case, and from 1 November the city is reminded that next year's
//! calendar is missing (not in October, not at a township, not once the year is added).
//!
//! Real nodes with fixed clocks, driven by label through egui_kittest; every wait runs frames
//! until the window has no request in flight, with a deadline; nothing sleeps.

use crate::window_kit::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use yizhan::app::{App, Command, Screen};
use yizhan_node::calendar::YearRule;
use yizhan_node::case::Action;
use yizhan_node::{Clock, NodeHandle};

/// 2026-10-30T09:00:00+08:00, a Friday.
const OCTOBER: i64 = 1_793_322_000_000;
/// 2026-11-02T09:00:00+08:00, a Monday.
const NOVEMBER: i64 = 1_793_581_200_000;
/// 2026-12-28T09:00:00+08:00, a Monday.
const DECEMBER: i64 = 1_798_419_600_000;

const REMINDER: &str = "尚未录入2027年工作日历";

/// Moves the node's clock and lets the window read the station again.
fn set_clock(h: &mut Harness<'_, App>, handle: &NodeHandle, now: i64) {
    handle
        .call(move |n| {
            n.set_clock(Clock::Fixed(now));
            Ok(())
        })
        .unwrap();
    push_settled(h, Command::Refresh);
}

#[test]
fn the_detail_marks_a_due_date_in_2027_as_provisional() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = city(dir.path(), DECEMBER);
    // CT-005 promises ten working days: from Monday 2026-12-28 into 2027.
    let case = take_in(&mut node, "CT-005", "王秀兰");
    let view = node.act(&case.doc.id, &Action::Accept, "窗口").unwrap();
    assert!(view.deadline.due_provisional);
    let (handle, mut h) = node_window(node, "站点");

    // The list marks the due date.
    push_settled(&mut h, Command::Show(Screen::Cases));
    assert!(shows(&h, "2027-01-11（暂定）"));
    h.state_mut()
        .push_command(Command::OpenCase(case.doc.id.clone()));
    settle(&mut h);
    assert!(h.state().open_case().is_some());
    assert!(shows(&h, "2027-01-11（暂定）"), "the promised due date");
    assert!(shows(&h, "2027年工作日历尚未录入"), "why it is provisional");

    // The city adds 2027 with 元旦 off: the due date moves and is final.
    handle
        .call(|n| {
            n.set_calendar_year(
                2027,
                YearRule {
                    holidays: vec!["2027-01-01".parse().unwrap()],
                    workdays: vec![],
                },
            )
        })
        .unwrap();
    h.state_mut().push_command(Command::Refresh);
    h.state_mut()
        .push_command(Command::OpenCase(case.doc.id.clone()));
    settle(&mut h);
    assert!(shows(&h, "2027-01-12"));
    assert!(!shows(&h, "（暂定）"));
    assert!(!shows(&h, "2027年工作日历尚未录入"));
}

#[test]
fn the_city_is_reminded_of_next_years_calendar_from_november() {
    let dir = tempfile::tempdir().unwrap();
    let node = city(dir.path(), OCTOBER);
    let (handle, mut h) = node_window(node, "站点");
    assert!(!shows(&h, REMINDER), "not in October");

    set_clock(&mut h, &handle, NOVEMBER);
    assert!(shows(&h, REMINDER), "from 1 November");
    // Its button opens the calendar settings.
    h.get_by_label("添加工作日历").click();
    settle(&mut h);
    assert_eq!(h.state().screen(), Screen::Settings);
    assert!(shows(&h, "2026"), "the calendar editor's years");

    // Once 2027 is in the calendar, the reminder is gone.
    handle
        .call(|n| n.set_calendar_year(2027, YearRule::default()))
        .unwrap();
    push_settled(&mut h, Command::Refresh);
    assert!(!shows(&h, REMINDER), "2027 is covered");
}

#[test]
fn a_township_is_not_reminded() {
    let (_dir, _city, township) = city_and_township(NOVEMBER);
    assert!(!township.calendar().covers(2027));
    let (_handle, h) = node_window(township, "站点");
    assert!(!shows(&h, REMINDER), "only the city edits the calendar");
}
