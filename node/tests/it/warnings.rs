//! Staff warnings (电子监察, issue #15): a case whose light turns yellow, then red, queues one
//! text to each clerk of the station holding it who has a phone — once per light and person,
//! however often the sender's sweep runs — and nothing for people without a phone, disabled
//! accounts, administrators or green cases.

use crate::common::{CITY, add_account, city_with_admin, morning, new_case_id};
use yizhan_node::case::Action;
use yizhan_node::notice::{NoticeState, SenderConfig};
use yizhan_node::role::Role;

#[test]
fn a_case_turning_yellow_then_red_warns_each_clerk_with_a_phone_once_per_light() {
    let (dir, mut city) = city_with_admin(morning("2026-03-02"), "13900000000");
    add_account(&mut city, "wang", "王娜", Role::Clerk, "", "13911112222");
    add_account(&mut city, "li", "李强", Role::Clerk, "", "");
    add_account(&mut city, "zhao", "赵敏", Role::Clerk, "", "13933334444");
    city.disable_account(CITY, "zhao", "调岗").expect("disable");
    city.set_sender_config(&SenderConfig::Spool {
        dir: dir.path().join("spool").display().to_string(),
    })
    .expect("a sender");
    city.sign_in("wang", "pin-1234").expect("sign in");
    // 企业注销登记: ten working days promised, so the light starts green.
    let id = new_case_id(&mut city, "CT-003", "王秀英");
    city.act(&id, &Action::Accept, "").expect("accept");
    let view = city.case(&id).expect("the case");
    let yellow = view.deadline.yellow_on.expect("a yellow date");
    let due = view.deadline.due_on.expect("a due date");

    // Green: nothing.
    assert_eq!(city.queue_light_warnings().expect("sweep"), 0);

    city.set_clock(morning(&yellow.to_string()));
    assert_eq!(
        city.queue_light_warnings().expect("sweep"),
        1,
        "one clerk with a phone; the admin does not handle cases, 李强 has no phone, 赵敏 is disabled"
    );
    assert_eq!(
        city.queue_light_warnings().expect("sweep"),
        0,
        "once per light"
    );

    city.set_clock(morning(&(due + chrono::Days::new(1)).to_string()));
    assert_eq!(city.queue_light_warnings().expect("sweep"), 1);
    assert_eq!(city.queue_light_warnings().expect("sweep"), 0);

    let queued = city
        .notices(Some(NoticeState::Queued), 100)
        .expect("the outbox");
    let mut warnings: Vec<_> = queued
        .iter()
        .filter(|n| n.kind == "due_soon" || n.kind == "overdue")
        .collect();
    warnings.sort_by_key(|n| n.kind.clone());
    assert_eq!(warnings.len(), 2);
    assert_eq!(warnings[0].kind, "due_soon");
    assert_eq!(warnings[0].phone, "13911112222");
    assert!(
        warnings[0].text.contains(&view.doc.number),
        "{}",
        warnings[0].text
    );
    assert!(warnings[0].text.contains("黄灯"), "{}", warnings[0].text);
    assert_eq!(warnings[1].kind, "overdue");
    assert!(
        warnings[1].text.contains(&due.to_string()),
        "{}",
        warnings[1].text
    );

    // A clerk who joins while the case is red is told on the next sweep, of the red light only.
    city.sign_in("admin", "pin-1234").expect("sign in");
    add_account(&mut city, "zhou", "周丽", Role::Clerk, "", "13955556666");
    assert_eq!(city.queue_light_warnings().expect("sweep"), 1);
    assert_eq!(city.queue_light_warnings().expect("sweep"), 0);
}
