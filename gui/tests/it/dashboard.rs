//! The dashboard (统计监察) driven by label through egui_kittest on a real city store (issue #13):
//! the overdue list says by how many working days each case is late and opens the case, where a
//! supervisor finds the 督办 form.

use crate::window_kit::*;
use egui_kittest::kittest::Queryable as _;
use yizhan_node::case::Action;
use yizhan_node::{Clock, NewCase, NodeHandle};

/// Thirty days after [`NOW`]: a case of ten promised working days accepted at `NOW` is late.
const LATER: i64 = NOW + 30 * 24 * 3_600_000;

#[test]
fn the_overdue_list_counts_working_days_late_and_opens_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = city(dir.path(), NOW);
    // 企业注销登记: ten promised working days.
    let case = node
        .new_case(&NewCase {
            item_code: "CT-003".into(),
            applicant_name: "王秀英".into(),
            ..NewCase::default()
        })
        .unwrap();
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
    let (handle, _) = NodeHandle::spawn(node).unwrap();
    let mut h = window(&[("测试市政务服务中心", &handle)]);
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
