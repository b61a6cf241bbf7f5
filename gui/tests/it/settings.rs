//! The settings screen driven by label through egui_kittest, on a real city node: a catalog item
//! changed, added, refused where a field is bad, retired and (while cases use it) not deleted;
//! holidays and make-up working days added to a year, with the working-day check moving before
//! the save and the node's calendar holding them after it; a new year; bad dates refused. And a
//! township, where the node refuses an edit with its reason in Chinese.
//!
//! Text fields are set the way assistive technologies set them (AccessKit `SetValue`) and
//! buttons clicked through AccessKit, so that widgets below the fold of the scroll areas are
//! reached as well as visible ones. Every wait runs frames until the window has no request in
//! flight, with a deadline; nothing sleeps.

use crate::window_kit::*;
use chrono::NaiveDate;
use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use yizhan::app::{App, Command, NetworkEdit};
use yizhan_node::NodeHandle;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Clicks the widget with this exact label and role.
fn press_role(h: &mut Harness<'_, App>, role: Role, label: &str) {
    h.query_by_role_and_label(role, label)
        .unwrap_or_else(|| panic!("no {role:?} {label:?}"))
        .click_accesskit();
    settle(h);
}

fn press(h: &mut Harness<'_, App>, label: &str) {
    press_role(h, Role::Button, label);
}

fn enabled(h: &Harness<'_, App>, label: &str) -> bool {
    let b = h
        .query_by_role_and_label(Role::Button, label)
        .unwrap_or_else(|| panic!("no button {label}"));
    !b.accesskit_node().is_disabled()
}

/// Replaces the text of the field with this label.
fn set(h: &mut Harness<'_, App>, label: &str, text: &str) {
    h.get_by_label(label).set_text_value_accesskit(text);
    settle(h);
}

/// Types each value into the field `field` in turn: the window says why it is refused as typed
/// (`said`) and does not offer `button` while it is.
fn refused_as_typed(h: &mut Harness<'_, App>, field: &str, button: &str, cases: &[(&str, &str)]) {
    for (value, said) in cases {
        set(h, field, value);
        assert!(shows(h, said), "{field} {value:?}: {said:?} is not shown");
        assert!(
            !enabled(h, button),
            "{field} {value:?}: {button} is offered"
        );
    }
}

fn open_settings_tab(h: &mut Harness<'_, App>, tab: &str) {
    h.get_by_label("设置").click();
    settle(h);
    h.get_by_label(tab).click();
    settle(h);
}

#[test]
fn a_clerk_changes_adds_retires_and_cannot_delete_catalog_items() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, mut h) = node_window(city(dir.path(), NOW), "测试市政务服务中心");
    open_settings_tab(&mut h, "事项清单");

    // Change an item: a promised limit above the legal one is refused as typed, naming the
    // field, and saving is not offered until it is right.
    h.get_by_label("CT-001 个体工商户设立登记").click();
    settle(&mut h);
    refused_as_typed(
        &mut h,
        "承诺时限（工作日）",
        "保存事项",
        &[
            ("9", "承诺时限：9 天超过法定时限 3 天"),
            ("两天", "承诺时限：应为 0–365 的整数"),
        ],
    );
    set(&mut h, "承诺时限（工作日）", "2");
    set(&mut h, "事项名称", "个体工商户设立登记（一件事）");
    assert!(!shows(&h, "承诺时限："));
    press(&mut h, "保存事项");
    let item = handle
        .call(|n| Ok(n.catalog().get("CT-001").cloned()))
        .unwrap()
        .unwrap();
    assert_eq!(item.promised_days, 2);
    assert_eq!(item.name, "个体工商户设立登记（一件事）");
    assert!(shows(&h, "已保存事项 CT-001"));

    // Add an item; an empty name and a code already in the catalog are refused as typed.
    press(&mut h, "新增事项");
    set(&mut h, "事项编码", "CT-001");
    assert!(shows(&h, "事项名称：不能为空"));
    assert!(shows(&h, "事项编码：“CT-001”已在事项清单中"));
    assert!(!enabled(&h, "保存事项"));
    set(&mut h, "事项编码", "CT-950");
    set(&mut h, "事项名称", "测试新事项");
    press_role(&mut h, Role::RadioButton, "承诺件");
    press_role(&mut h, Role::RadioButton, "市政务服务中心");
    set(&mut h, "法定时限（工作日）", "10");
    set(&mut h, "承诺时限（工作日）", "5");
    assert!(shows(&h, "申请材料：承诺件须列出申请材料"));
    set(&mut h, "申请材料（每行一项）", "申请书\n居民身份证\n");
    set(&mut h, "审批部门（每行一个，可空）", "市场监管局\n税务局");
    assert!(enabled(&h, "保存事项"));
    press(&mut h, "保存事项");
    let added = handle
        .call(|n| Ok(n.catalog().get("CT-950").cloned()))
        .unwrap()
        .expect("the new item is in the node's catalog");
    assert_eq!(added.materials, ["申请书", "居民身份证"]);
    assert_eq!(added.departments, ["市场监管局", "税务局"]);
    assert_eq!((added.legal_days, added.promised_days), (10, 5));
    assert!(
        h.query_by_label("事项 CT-950").is_some(),
        "the form now edits the saved item"
    );

    // A case is taken in for it; the item can no longer be deleted, only retired.
    handle
        .call(|n| {
            n.new_case(&yizhan_node::NewCase {
                item_code: "CT-950".into(),
                applicant_name: "张三".into(),
                operator: "窗口".into(),
                ..Default::default()
            })
        })
        .unwrap();
    push_settled(&mut h, Command::Refresh);
    assert!(!enabled(&h, "删除事项"));
    assert!(shows(&h, "已有办件使用，不能删除"));
    // Sent anyway (a stale window), the node refuses, in Chinese.
    h.state_mut()
        .push_command(Command::EditNetwork(NetworkEdit::RemoveItem(
            "CT-950".into(),
        )));
    settle(&mut h);
    assert!(
        shows(&h, "有 1 件办件使用事项 CT-950，不能删除"),
        "{:?}",
        h.state().notice()
    );
    press(&mut h, "停用事项");
    assert!(
        handle
            .call(|n| Ok(n.catalog().get("CT-950").map(|i| i.retired)))
            .unwrap()
            .unwrap()
    );
    assert!(shows(&h, "CT-950 测试新事项（已停用）"));
    // Intake no longer offers it.
    h.get_by_label("收件登记").click();
    settle(&mut h);
    assert!(!shows(&h, "CT-950 测试新事项"));
}

#[test]
fn a_clerk_adds_holidays_and_make_up_days_and_sees_due_dates_move() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, mut h) = node_window(city(dir.path(), NOW), "测试市政务服务中心");
    open_settings_tab(&mut h, "工作日历");

    // Four working days from Monday 2026-03-02 end on Friday 03-06.
    set(&mut h, "起始日", "2026-03-02");
    set(&mut h, "工作日数", "4");
    assert!(shows(&h, "按已保存的日历，到期日：2026-03-06（星期五）"));

    // A holiday on Tuesday moves it to Monday 03-09, before anything is saved.
    set(&mut h, "日期", "2026-03-03");
    press(&mut h, "添加日期");
    assert!(shows(&h, "按未保存的修改，到期日：2026-03-09（星期一）"));
    assert!(shows(&h, "按已保存的日历，到期日：2026-03-06（星期五）"));

    // A weekday is not a make-up working day; a Saturday is, and brings the date back to 03-07.
    press_role(&mut h, Role::RadioButton, "调休上班");
    refused_as_typed(
        &mut h,
        "日期",
        "添加日期",
        &[
            ("2026-03-04", "调休上班日应为周六或周日"),
            ("2026-3-7x", "日期格式应为 YYYY-MM-DD"),
            ("2025-03-08", "该日期不在所选的年份内"),
            ("2026-03-03", "该日已列为节假日"),
        ],
    );
    set(&mut h, "日期", "2026-03-07");
    press(&mut h, "添加日期");
    assert!(shows(&h, "按未保存的修改，到期日：2026-03-07（星期六）"));

    // Saved through the node: its calendar holds both days, and the saved view agrees.
    press(&mut h, "保存本年日历");
    let (holiday, workday) = handle
        .call(|n| {
            let c = n.calendar();
            Ok((
                !c.is_working_day(date("2026-03-03")),
                c.is_working_day(date("2026-03-07")),
            ))
        })
        .unwrap();
    assert!(holiday && workday);
    assert!(shows(&h, "按已保存的日历，到期日：2026-03-07（星期六）"));
    assert!(!shows(&h, "按未保存的修改"));
    assert!(shows(&h, "已保存工作日历 2026"));

    // Removing a date is a click on it.
    press(&mut h, "03-07 ✕");
    assert!(shows(&h, "按未保存的修改，到期日：2026-03-09（星期一）"));
    press(&mut h, "放弃修改");
    assert!(!shows(&h, "按未保存的修改"));

    // A new year, with its first holiday.
    refused_as_typed(
        &mut h,
        "年份",
        "添加年份",
        &[
            ("1999", "年份应为 2000–2100 的整数"),
            ("2026", "该年份已在日历中"),
        ],
    );
    set(&mut h, "年份", "2027");
    press(&mut h, "添加年份");
    press_role(&mut h, Role::RadioButton, "节假日");
    set(&mut h, "日期", "2027-01-01");
    press(&mut h, "添加日期");
    press(&mut h, "保存本年日历");
    let covered = handle
        .call(|n| Ok(n.calendar().covers(2027) && !n.calendar().is_working_day(date("2027-01-01"))))
        .unwrap();
    assert!(covered);
}

#[test]
fn a_township_sees_the_catalog_read_only_and_the_node_refuses_its_edits_in_chinese() {
    let (_dir, _city, town) = city_and_township(NOW);
    let (_handle, mut h) = node_window(town, "北格镇便民服务中心");
    open_settings_tab(&mut h, "事项清单");
    h.get_by_label("TS-001 城乡居民基本医疗保险参保登记")
        .click();
    settle(&mut h);
    assert!(shows(&h, "只有市级站点可以修改事项清单和工作日历"));
    assert!(!enabled(&h, "停用事项"));

    h.state_mut()
        .push_command(Command::EditNetwork(NetworkEdit::RetireItem {
            code: "TS-001".into(),
            retired: true,
        }));
    settle(&mut h);
    let notice = h.state().notice().unwrap_or_default().to_string();
    assert_eq!(
        notice,
        "不能修改事项清单：只有市级站点可以修改全网文档（站点名录、事项清单、工作日历、全网设置）"
    );
    assert!(!notice.contains("city"), "{notice}");
}

/// Issue #15: the city edits a notice template in the window (settings → 短信模板); a text
/// naming an unknown placeholder is refused with the node's reason, a good one is saved to the
/// settings document, and 恢复默认 brings the default back. A township reads them only.
#[test]
fn the_city_edits_the_notice_templates_and_a_township_only_reads_them() {
    use yizhan_node::notice::NoticeKind;
    let (_dir, city, town) = city_and_township(NOW);
    let (handle, mut h) = node_window(city, "测试市政务服务中心");
    open_settings_tab(&mut h, "短信模板");
    assert!(shows(&h, "临期预警"));
    assert!(!enabled(&h, "保存 办结"), "nothing to save before a change");

    set(
        &mut h,
        "办结",
        "【{station}】办件{number}已办结，请于{when}领取。",
    );
    press(&mut h, "保存 办结");
    assert!(
        shows(&h, "{when}"),
        "the refusal names the unknown placeholder"
    );
    let text = |handle: &NodeHandle| {
        handle
            .call(|n| Ok(n.notice_templates().get(NoticeKind::Completed).to_string()))
            .unwrap()
    };
    assert_eq!(text(&handle), NoticeKind::Completed.default_template());

    let good = "【{station}】办件{number}已办结，请到{pickup}领取。";
    set(&mut h, "办结", good);
    press(&mut h, "保存 办结");
    assert_eq!(text(&handle), good);
    assert!(shows(&h, "已保存短信模板：办结"));
    assert!(shows(&h, "（已修改）"));

    press(&mut h, "恢复默认 办结");
    assert_eq!(text(&handle), NoticeKind::Completed.default_template());

    let (_town, mut h) = node_window(town, "北格镇便民服务中心");
    open_settings_tab(&mut h, "短信模板");
    assert!(shows(&h, "短信内容由市政务服务中心统一设置"));
    assert!(button(&h, "保存 办结").is_none());
}

/// Issue #13: the sync settings' address fields are wide enough to read what is typed. In a
/// grid an empty field kept the width of its first frame, about 40 px, and an address typed
/// into it showed as its first characters only.
#[test]
fn the_sync_settings_address_fields_are_wide_enough_to_read() {
    let dir = tempfile::tempdir().unwrap();
    let (_handle, mut h) = node_window(city(dir.path(), NOW), "测试市政务服务中心");
    open_settings_tab(&mut h, "常规");
    for label in [
        "监听地址",
        "办件查询页面地址",
        "对外公开网址（回执打印二维码）",
    ] {
        let field = h
            .query_by_role_and_label(Role::TextInput, label)
            .unwrap_or_else(|| panic!("no field {label}"));
        let width = field.rect().width();
        assert!(width >= 190.0, "{label}: {width} px");
    }
}
