//! The ranking by operator and department (issue #12) on a small known workload: who decided
//! what, on time or late, in how many working days, and how the applicants rated it.

use crate::common::{add_account, city_with_admin, morning, new_case_id};
use yizhan_node::Node;
use yizhan_node::case::Action;
use yizhan_node::query::RankBy;
use yizhan_node::role::Role;

/// Takes in and accepts a case of `item` on `day` as `clerk`; returns its id.
fn accepted(node: &mut Node, day: &str, clerk: &str, item: &str) -> String {
    node.set_clock(morning(day));
    node.sign_in(clerk, "pin-1234")
        .expect("a step of the known workload");
    let id = new_case_id(node, item, "申请人");
    node.act(&id, &Action::Accept, "")
        .expect("a step of the known workload");
    id
}

/// Completes a case on `day` as `clerk`, and records the applicant's rating.
fn decide(node: &mut Node, day: &str, clerk: &str, id: &str, rating: u8) {
    node.set_clock(morning(day));
    node.sign_in(clerk, "pin-1234")
        .expect("a step of the known workload");
    node.act(id, &Action::Complete, "")
        .expect("a step of the known workload");
    node.act(
        id,
        &Action::Rate {
            level: rating,
            comment: String::new(),
        },
        "",
    )
    .expect("a step of the known workload");
}

#[test]
fn the_ranking_gives_each_operator_their_on_time_rate_handling_days_and_satisfaction() {
    // 2026-03-02 is a Monday; CT-001 is promised in 1 working day, CT-005 in 10.
    let (_dir, mut c) = city_with_admin(morning("2026-03-02"), "");
    add_account(&mut c, "zhang", "张窗口", Role::Clerk, "", "");
    add_account(&mut c, "wang", "王窗口", Role::Clerk, "", "");
    add_account(
        &mut c,
        "scjg",
        "市场监管审核员",
        Role::Reviewer,
        "市场监管局",
        "",
    );
    add_account(&mut c, "sw", "税务审核员", Role::Reviewer, "税务局", "");
    add_account(&mut c, "ga", "公安审核员", Role::Reviewer, "公安局", "");

    // 张: one case on time (decided the next working day, 1 day), one late (4 days for a
    // one-day promise); rated 1 and 4.
    let a = accepted(&mut c, "2026-03-02", "zhang", "CT-001");
    decide(&mut c, "2026-03-03", "zhang", &a, 1);
    let b = accepted(&mut c, "2026-03-02", "zhang", "CT-001");
    decide(&mut c, "2026-03-06", "zhang", &b, 4);
    // 王: one case with three departments, on time (2 working days of 2), rated 2.
    let d = accepted(&mut c, "2026-03-02", "wang", "CT-002");
    c.set_clock(morning("2026-03-03"));
    for (login, dept) in [("scjg", "市场监管局"), ("sw", "税务局"), ("ga", "公安局")] {
        c.sign_in(login, "pin-1234")
            .expect("a step of the known workload");
        c.act(&d, &Action::Approve { dept: dept.into() }, "")
            .expect("a step of the known workload");
    }
    decide(&mut c, "2026-03-04", "wang", &d, 2);
    // A case accepted but not decided counts for nobody.
    accepted(&mut c, "2026-03-02", "wang", "CT-005");

    let rows = c
        .ranking(RankBy::Operator, None, None, None)
        .expect("a step of the known workload");
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["王窗口", "张窗口"], "best on-time rate first");
    let wang = &rows[0];
    assert_eq!((wang.decided, wang.on_time, wang.late), (1, 1, 0));
    assert_eq!(wang.on_time_rate, Some(1.0));
    assert_eq!(wang.avg_handling_days, Some(2.0));
    assert_eq!(wang.satisfaction_rate, Some(1.0));
    let zhang = &rows[1];
    assert_eq!((zhang.decided, zhang.on_time, zhang.late), (2, 1, 1));
    assert_eq!(zhang.on_time_rate, Some(0.5));
    assert_eq!(zhang.avg_handling_days, Some(2.5));
    assert_eq!(zhang.rated, 2);
    assert_eq!(zhang.avg_rating, Some(2.5));
    assert_eq!(zhang.satisfaction_rate, Some(0.5));
    assert_eq!(zhang.station, "C01");

    let depts = c
        .ranking(RankBy::Dept, None, None, None)
        .expect("a step of the known workload");
    assert_eq!(depts.len(), 3);
    assert!(depts.iter().all(|r| r.decided == 1 && r.on_time == 1));
    assert!(depts.iter().any(|r| r.key == "市场监管局"));
}
