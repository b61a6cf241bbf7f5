//! Issue #13, the window as a clerk expects it: no decision in one click, rows that stay under
//! the pointer, sections that start closed, materials and the one-time notice from what was
//! actually received, 容缺受理 with its promise and 补齐, and a village intake that goes up in one
//! step. Real stores, driven by label (see `window_kit`).

use crate::window_kit::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use yizhan::app::{App, Command, Screen};
use yizhan_node::case::Status;
use yizhan_node::case::fold::Decision;

fn materials() -> Vec<String> {
    yizhan_node::catalog::Catalog::default_catalog()
        .get(ITEM)
        .unwrap()
        .materials
        .clone()
}

/// Takes in a TS-006 case at the window of the current station with the first `received`
/// materials ticked; returns its number.
fn intake(h: &mut Harness<'_, App>, name: &str, received: usize) -> String {
    // (The open case's timeline says 收件登记 too.)
    push_settled(h, Command::Show(Screen::Intake));
    type_into(h, "查找事项", "ncz");
    h.get_by_label_contains(ITEM).click();
    settle(h);
    type_into(h, "申请人姓名", name);
    for m in materials().iter().take(received) {
        click(h, m);
    }
    press(h, "登记办件");
    h.state()
        .open_case()
        .expect("the new case")
        .doc
        .number
        .clone()
}

#[test]
fn decisions_confirm_and_approval_rows_stay_under_the_pointer() {
    let (_county, mut h) = county_with_window(true);
    let all = materials().len();
    intake(&mut h, "王秀英", all);
    // Everything was received: 受理 asks nothing.
    press(&mut h, "受理");
    assert_eq!(status(&h), Status::Accepted);

    // A sign-off opens a confirmation; nothing is written before it.
    let second = format!("同意 {}", DEPTS[1]);
    let before = button(&h, &second).unwrap().rect();
    press(&mut h, &format!("同意 {}", DEPTS[0]));
    assert!(h.state().open_case().unwrap().state.approvals.is_empty());
    assert!(shows(&h, "确认同意"));
    press(&mut h, "确认同意");
    let view = h.state().open_case().unwrap();
    assert!(view.state.approvals[DEPTS[0]].approved);
    // The next department's button has not moved: a double click cannot sign for it.
    assert_eq!(button(&h, &second).unwrap().rect(), before);
    // A cancelled sign-off writes nothing.
    press(&mut h, &second);
    press(&mut h, "取消");
    assert_eq!(h.state().open_case().unwrap().state.approvals.len(), 1);

    // 办结 asks for the outcome; 不予许可 needs its reason, then the confirmation.
    press(&mut h, "办结");
    assert_eq!(status(&h), Status::Accepted);
    assert!(h.query_by_label("准予许可").is_some());
    click(&mut h, "不予许可");
    type_into(&mut h, "不予许可理由", "宅基地面积超标");
    press(&mut h, "确认办结");
    let view = h.state().open_case().unwrap();
    assert_eq!(view.state.status, Status::Completed);
    assert_eq!(view.state.outcome, Some(Decision::Rejected));
    assert_eq!(view.state.timeline.last().unwrap().kind, "decline");

    // 不予受理 confirms too.
    intake(&mut h, "李四", all);
    h.get_by_label("不予受理").click();
    settle(&mut h);
    type_into(&mut h, "不予受理理由", "不属于本镇受理范围");
    press(&mut h, "不予受理");
    assert_eq!(status(&h), Status::Submitted);
    press(&mut h, "确认不予受理");
    assert_eq!(status(&h), Status::Refused);
}

#[test]
fn sections_start_closed_on_each_case_and_after_a_save() {
    let (_county, mut h) = county_with_window(true);
    let first = intake(&mut h, "王秀英", 1);
    h.get_by_label("视频咨询…").click();
    settle(&mut h);
    type_into(&mut h, "时长（分钟）", "10");
    type_into(&mut h, "咨询纪要", "咨询宅基地面积口径");
    press(&mut h, "记录视频咨询");
    assert_eq!(h.state().open_case().unwrap().state.consults.len(), 1);
    assert!(
        h.query_by_label("咨询纪要").is_none(),
        "the consult form closed after the save"
    );
    h.get_by_label("视频咨询…").click();
    settle(&mut h);
    let summary = h.get_by_label("咨询纪要");
    assert_eq!(summary.value().unwrap_or_default(), "");

    // Another case: the section is closed.
    h.get_by_label("容缺受理…").click();
    settle(&mut h);
    assert!(h.query_by_label("承诺补齐日期").is_some());
    intake(&mut h, "李四", 1);
    assert!(h.query_by_label("承诺补齐日期").is_none());
    assert!(h.query_by_label("咨询纪要").is_none());
    push_settled(&mut h, Command::OpenCase(first));
    assert!(h.query_by_label("咨询纪要").is_none());
}

#[test]
fn the_notice_starts_from_what_is_missing_and_the_detail_says_where_each_material_stands() {
    let (_county, mut h) = county_with_window(true);
    let m = materials();
    intake(&mut h, "王秀英", 2);
    let view = h.state().open_case().unwrap();
    assert_eq!(view.doc.received.as_deref(), Some(&m[..2]));
    assert!(shows(&h, &format!("✔ {}：已收", m[0])));
    assert!(shows(&h, &format!("✖ {}：尚缺", m[2])));
    // The notice ticks exactly the missing ones; one is unticked by hand.
    press(&mut h, "一次性告知补正");
    assert_eq!(status(&h), Status::AwaitingMaterials);
    assert_eq!(h.state().open_case().unwrap().state.missing, m[2..]);
    assert!(shows(&h, &format!("✖ {}：已告知补正", m[3])));
    // The applicant brought them: the action says so, and the detail dates them.
    press(&mut h, "材料已补齐（恢复计时）");
    assert_eq!(status(&h), Status::Submitted);
    assert!(shows(&h, &format!("✔ {}：已补齐", m[3])));

    // A second case: one material unticked in the notice is not asked for.
    intake(&mut h, "李四", 2);
    click(&mut h, &m[5]);
    press(&mut h, "一次性告知补正");
    assert_eq!(h.state().open_case().unwrap().state.missing, m[2..5]);
}

#[test]
fn accepting_with_materials_missing_offers_gaps_which_are_supplied_before_granting() {
    let (_county, mut h) = county_with_window(true);
    let m = materials();
    intake(&mut h, "王秀英", 4);
    press(&mut h, "受理");
    assert_eq!(status(&h), Status::Submitted, "受理 asks first");
    assert!(shows(&h, "以下申请材料尚未收到"));
    press(&mut h, "改为容缺受理…");
    // The 容缺 section is open with the missing materials ticked and a promised date.
    assert!(h.query_by_label("承诺补齐日期").is_some());
    press(&mut h, "容缺受理");
    let view = h.state().open_case().unwrap();
    assert_eq!(view.state.status, Status::Accepted);
    assert_eq!(view.state.gaps, m[4..]);
    assert!(
        view.state.gap_promise.starts_with("2026-03-09"),
        "{}",
        view.state.gap_promise
    );
    assert!(shows(
        &h,
        &format!("△ {}：容缺，承诺 2026-03-09 前补齐", m[4])
    ));

    for dept in DEPTS {
        press(&mut h, &format!("同意 {dept}"));
        press(&mut h, "确认同意");
    }
    // Granting is refused while 容缺 materials are outstanding, and the dialog says why.
    press(&mut h, "办结");
    assert!(shows(&h, "容缺材料尚未补齐"));
    press(&mut h, "取消");
    h.get_by_label("容缺材料补齐…").click();
    settle(&mut h);
    press(&mut h, "登记补齐");
    let view = h.state().open_case().unwrap();
    assert!(view.state.gaps.is_empty());
    assert_eq!(view.state.supplied.len(), 2);
    assert!(shows(&h, &format!("✔ {}：已补齐", m[5])));
    press(&mut h, "办结");
    press(&mut h, "确认办结");
    let view = h.state().open_case().unwrap();
    assert_eq!(view.state.status, Status::Completed);
    assert_eq!(view.state.outcome, Some(Decision::Approved));
}

#[test]
fn intake_at_a_village_sends_the_case_up_in_one_step() {
    let c = county();
    let mut h = window(&[("北格村便民服务站", &c.village)]);
    pick_item(&mut h, "ncz", ITEM);
    type_into(&mut h, "申请人姓名", "张三");
    // 代办 is ticked by default at a village; the main action is 登记并上报.
    assert!(h.query_by_label("已收委托书").is_some());
    assert!(button(&h, "登记办件").is_none());
    press(&mut h, "登记并上报");
    let view = h.state().open_case().expect("the new case");
    assert!(view.doc.delegation.is_some());
    assert_eq!(view.state.holder, "T");
    assert_eq!(view.state.route, ["V", "T"]);
}

#[test]
fn the_letter_of_entrustment_is_one_material_not_a_second_checkbox() {
    let c = county();
    let mut h = window(&[("北格村便民服务站", &c.village)]);
    pick_item(&mut h, "CT-001", "CT-001");
    type_into(&mut h, "申请人姓名", "张三");
    // CT-001 lists 委托书 among its materials: no separate checkbox.
    assert!(h.query_by_label("已收委托书").is_none());
    click(&mut h, "委托书");
    press(&mut h, "仅登记（暂不上报）");
    let view = h.state().open_case().expect("the new case");
    assert!(view.doc.delegation.as_ref().unwrap().entrustment);
    assert!(shows(&h, "✔ 委托书：已收"));
    assert!(!shows(&h, "尚缺 委托书") && !shows(&h, "✖ 委托书"));
}

/// Issue #13: the ID error says the number is invalid, not what its last character should be.
#[test]
fn the_id_error_does_not_reveal_the_check_digit() {
    let (_county, mut h) = county_with_window(true);
    pick_item(&mut h, "ncz", ITEM);
    type_into(&mut h, "身份证号", "110105194912310021");
    assert!(shows(&h, "身份证号无效"));
    assert!(!shows(&h, "应为"));
    type_into(&mut h, "联系电话", "1234567");
    assert!(shows(&h, "带区号的固定电话"));
}

/// Issue #13: the yellow-light rule is said in words, with an example for the value shown.
#[test]
fn the_yellow_light_rule_is_said_in_words_with_an_example() {
    let (_county, mut h) = county_with_window(true);
    push_settled(&mut h, Command::Show(Screen::Settings));
    assert!(shows(
        &h,
        "例：承诺 10 个工作日、阈值 25% → 剩 3 个工作日时亮黄灯"
    ));
    assert!(!shows(&h, "⌈"), "no formula");
}
