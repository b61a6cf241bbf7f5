//! Deadlines and supervision lights (红黄绿灯) through a real node whose clock is moved day by
//! day: the 2026 Spring Festival example, pauses, lights, 即办件, completion and follow-ups, and
//! the agreement of the SQL light filter with the fold's light.

use crate::common::{date, morning};
use yizhan_node::case::deadline::{ClockState, Deadline};
use yizhan_node::case::{Action, Light};
use yizhan_node::catalog::Catalog;
use yizhan_node::network::Settings;
use yizhan_node::query::CaseFilter;
use yizhan_node::{CaseView, Node};

/// A small city catalog with the limits the tests need.
const CATALOG: &str = r#"[
  {"code": "CT-901", "name": "测试承诺件（三日）", "kind": "promised", "legal_days": 5,
   "promised_days": 3, "materials": ["申请书"], "tier": "city"},
  {"code": "CT-902", "name": "测试承诺件（八日）", "kind": "promised", "legal_days": 12,
   "promised_days": 8, "materials": ["申请书", "身份证"], "tier": "city"},
  {"code": "CT-903", "name": "测试即办件", "kind": "instant", "legal_days": 0,
   "promised_days": 0, "materials": ["身份证"], "tier": "city"},
  {"code": "CT-904", "name": "测试并联件", "kind": "promised", "legal_days": 10,
   "promised_days": 5, "materials": ["申请书"], "tier": "city",
   "departments": ["市场监管局", "税务局"]},
  {"code": "CT-905", "name": "测试咨询件", "kind": "consult", "legal_days": 0,
   "promised_days": 0, "materials": [], "tier": "city"}
]"#;

/// Asserts several fields of a deadline at once, each `(field, expected)` as text: a date as
/// `YYYY-MM-DD`, an absent one as `None`, anything else as it prints with `{:?}` (the clock as
/// `Running`, a frozen light as `Some(Yellow)`).
fn assert_deadline(d: &Deadline, expected: &[(&str, &str)]) {
    let date =
        |d: Option<chrono::NaiveDate>| d.map_or_else(|| "None".to_string(), |d| d.to_string());
    for &(field, want) in expected {
        let got = match field {
            "clock" => format!("{:?}", d.clock),
            "accepted_on" => date(d.accepted_on),
            "stopped_on" => date(d.stopped_on),
            "due_on" => date(d.due_on),
            "legal_due_on" => date(d.legal_due_on),
            "yellow_on" => date(d.yellow_on),
            "follow_up_due" => date(d.follow_up_due),
            "paused_days" => d.paused_days.to_string(),
            "on_time" => format!("{:?}", d.on_time),
            "frozen_light" => format!("{:?}", d.frozen_light),
            "uncovered_year" => format!("{:?}", d.uncovered_year),
            other => panic!("assert_deadline knows no field {other}"),
        };
        assert_eq!(got, want, "{field}");
    }
}

/// A city node in a fresh directory (kept as long as the returned guard), its clock on `day`.
fn station_on(day: &str) -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let node = node_at(dir.path(), day);
    (dir, node)
}

fn node_at(dir: &std::path::Path, day: &str) -> Node {
    let mut node = crate::common::init_city(dir, morning(day));
    let catalog = Catalog::from_json(CATALOG.as_bytes()).expect("the test catalog parses");
    node.import_catalog(&catalog).expect("import");
    assert_eq!(
        node.catalog().get("CT-901").map(|i| i.promised_days),
        Some(3)
    );
    node
}

fn on(node: &mut Node, day: &str) {
    node.set_clock(morning(day));
}

fn view(node: &mut Node, id: &str) -> CaseView {
    node.case(id).expect("case")
}

fn take_in_and_accept(node: &mut Node, item: &str, name: &str) -> String {
    let id = node
        .new_case(&crate::common::intake(item, name))
        .expect("intake")
        .doc
        .id;
    node.act(&id, &Action::Accept, "窗口").expect("accept");
    id
}

/// Moves the clock to `day`, then acts.
fn act_on(node: &mut Node, day: &str, id: &str, action: Action) -> CaseView {
    on(node, day);
    act(node, id, action)
}

/// Moves the clock to `day`, then reads the case.
fn view_on(node: &mut Node, day: &str, id: &str) -> CaseView {
    on(node, day);
    view(node, id)
}

fn ask(node: &mut Node, id: &str) {
    node.act(
        id,
        &Action::RequestMaterials {
            missing: vec!["身份证".into()],
        },
        "窗口",
    )
    .expect("request materials");
}

fn act(node: &mut Node, id: &str, action: Action) -> CaseView {
    node.act(id, &action, "窗口")
        .unwrap_or_else(|e| panic!("{}: {e}", action.kind()))
}

#[test]
fn spring_festival_example_is_due_on_the_25th() {
    let (_dir, mut node) = station_on("2026-02-13");
    let id = take_in_and_accept(&mut node, "CT-901", "刘淑芬");
    let v = view(&mut node, &id);
    let d = &v.deadline;
    assert_deadline(d, &[("clock", "Running"), ("accepted_on", "2026-02-13")]);
    // Saturday the 14th is a make-up working day; the 15th to the 23rd are the holiday.
    assert_eq!(d.due_on, Some(date("2026-02-25")));
    // max(1, ⌈25 % × 3⌉) = 1 working day before the due day.
    assert_eq!(d.yellow_on, Some(date("2026-02-24")));
    // Five legal working days: 14, 24, 25, 26, 27.
    assert_eq!(d.legal_due_on, Some(date("2026-02-27")));

    let days = [
        ("2026-02-13", Light::Green, 3),
        ("2026-02-14", Light::Green, 2),
        ("2026-02-18", Light::Green, 2),
        ("2026-02-23", Light::Green, 2),
        ("2026-02-24", Light::Yellow, 1),
        ("2026-02-25", Light::Yellow, 0),
        ("2026-02-26", Light::Red, -1),
        ("2026-02-27", Light::Red, -2),
        ("2026-02-28", Light::Severe, -3),
        ("2026-03-02", Light::Severe, -4),
    ];
    for (day, light, remaining) in days {
        on(&mut node, day);
        let v = view(&mut node, &id);
        assert_eq!(v.light, Some(light), "{day}");
        assert_eq!(v.remaining, Some(remaining), "{day}");
        crate::common::assert_lights_agree(&mut node);
    }
}

#[test]
fn lights_turn_yellow_red_and_severe_as_days_pass() {
    let (_dir, mut node) = station_on("2026-03-02");
    let id = take_in_and_accept(&mut node, "CT-902", "陈国华");
    let v = view(&mut node, &id);
    // Eight working days from Monday 2 March: 3, 4, 5, 6, 9, 10, 11, 12.
    assert_eq!(v.deadline.due_on, Some(date("2026-03-12")));
    // The yellow threshold is max(1, ⌈25 % × 8⌉) = 2 working days.
    assert_eq!(node.settings().yellow_threshold(8), 2);
    assert_eq!(v.deadline.yellow_on, Some(date("2026-03-10")));
    // Twelve legal working days: … 13, 16, 17, 18.
    assert_eq!(v.deadline.legal_due_on, Some(date("2026-03-18")));

    let cal = node.calendar().clone();
    let due = date("2026-03-12");
    let legal = date("2026-03-18");
    let mut day = date("2026-03-02");
    let mut seen = Vec::new();
    while day <= date("2026-03-25") {
        node.set_clock(crate::common::clock(&format!("{day}T16:30:00+08:00")));
        let v = view(&mut node, &id);
        // The rule written out independently: yellow when the remaining working days are at
        // most the threshold, red past the promised limit, severe past the legal one.
        let remaining = cal.working_days_between(day, due);
        let expected = if day > legal {
            Light::Severe
        } else if day > due {
            Light::Red
        } else if remaining <= 2 {
            Light::Yellow
        } else {
            Light::Green
        };
        assert_eq!(v.light, Some(expected), "{day}");
        assert_eq!(v.remaining, Some(remaining), "{day}");
        if seen.last() != Some(&expected) {
            seen.push(expected);
        }
        day = day.succ_opt().expect("next day");
    }
    assert_eq!(
        seen,
        vec![Light::Green, Light::Yellow, Light::Red, Light::Severe]
    );
    for (day, light) in [
        ("2026-03-09", Light::Green),
        ("2026-03-10", Light::Yellow),
        ("2026-03-12", Light::Yellow),
        ("2026-03-13", Light::Red),
        ("2026-03-14", Light::Red),
        ("2026-03-18", Light::Red),
        ("2026-03-19", Light::Severe),
    ] {
        on(&mut node, day);
        assert_eq!(view(&mut node, &id).light, Some(light), "{day}");
    }
}

#[test]
fn a_request_for_materials_extends_the_due_date_by_the_paused_working_days() {
    let (_dir, mut node) = station_on("2026-03-02");
    let id = take_in_and_accept(&mut node, "CT-902", "黄丽娟");

    on(&mut node, "2026-03-04");
    ask(&mut node, &id);
    // While paused the clock is paused, the due date is not yet moved, and the light stays as it
    // was on the day of the notice, however many days pass.
    for day in ["2026-03-04", "2026-03-06", "2026-03-13", "2026-03-30"] {
        on(&mut node, day);
        let v = view(&mut node, &id);
        assert_eq!(v.deadline.clock, ClockState::Paused, "{day}");
        assert_deadline(
            &v.deadline,
            &[("stopped_on", "2026-03-04"), ("due_on", "2026-03-12")],
        );
        assert_eq!(v.light, Some(Light::Green), "{day}");
        // Remaining is as of the pause: (4, 12] holds 6 working days.
        assert_eq!(v.remaining, Some(6), "{day}");
        crate::common::assert_lights_agree(&mut node);
    }

    // The materials arrive on Monday 9 March: (4 March, 9 March] holds 5, 6 and 9 March.
    let v = act_on(&mut node, "2026-03-09", &id, Action::Resume);
    assert_deadline(
        &v.deadline,
        &[
            ("clock", "Running"),
            ("paused_days", "3"),
            ("due_on", "2026-03-17"),
            ("legal_due_on", "2026-03-23"),
            ("yellow_on", "2026-03-13"),
        ],
    );
    assert_eq!(v.light, Some(Light::Green));
    assert_eq!(v.remaining, Some(6));
    crate::common::assert_lights_agree(&mut node);
}

#[test]
fn a_pause_in_the_yellow_zone_freezes_yellow() {
    let (_dir, mut node) = station_on("2026-03-02");
    let id = take_in_and_accept(&mut node, "CT-902", "杨志明");
    // Another case, accepted the same day and never paused, for comparison.
    let running = take_in_and_accept(&mut node, "CT-902", "杨志刚");

    assert_eq!(
        view_on(&mut node, "2026-03-11", &id).light,
        Some(Light::Yellow)
    );
    ask(&mut node, &id);
    assert_eq!(
        view_on(&mut node, "2026-03-20", &running).light,
        Some(Light::Severe)
    );
    let v = view(&mut node, &id);
    assert_eq!(v.deadline.frozen_light, Some(Light::Yellow));
    assert_eq!(v.light, Some(Light::Yellow));
    crate::common::assert_lights_agree(&mut node);

    // Resumed on Friday 20 March: (11, 20] holds 7 working days, so due moves from 12 to 23 March.
    let v = act(&mut node, &id, Action::Resume);
    assert_deadline(
        &v.deadline,
        &[("paused_days", "7"), ("due_on", "2026-03-23")],
    );
    assert_eq!(v.remaining, Some(1));
    assert_eq!(v.light, Some(Light::Yellow));
    assert_eq!(
        view_on(&mut node, "2026-03-24", &id).light,
        Some(Light::Red)
    );
    crate::common::assert_lights_agree(&mut node);
}

#[test]
fn a_special_procedure_pauses_like_a_request_for_materials() {
    let (_dir, mut node) = station_on("2026-03-02");
    let id = take_in_and_accept(&mut node, "CT-902", "徐海燕");
    on(&mut node, "2026-03-04");
    act(
        &mut node,
        &id,
        Action::Suspend {
            reason: "组织专家评审".into(),
        },
    );
    let v = view_on(&mut node, "2026-03-06", &id);
    assert_eq!(v.deadline.clock, ClockState::Paused);
    assert_eq!(v.light, Some(Light::Green));
    let v = act_on(&mut node, "2026-03-09", &id, Action::Resume);
    assert_deadline(
        &v.deadline,
        &[("paused_days", "3"), ("due_on", "2026-03-17")],
    );

    // A second pause adds up: materials asked for and brought the same day cost nothing; a
    // week-long one costs five working days.
    on(&mut node, "2026-03-10");
    ask(&mut node, &id);
    let v = act(&mut node, &id, Action::Resume);
    assert_deadline(
        &v.deadline,
        &[("paused_days", "3"), ("due_on", "2026-03-17")],
    );
    ask(&mut node, &id);
    let v = act_on(&mut node, "2026-03-17", &id, Action::Resume);
    assert_deadline(
        &v.deadline,
        &[("paused_days", "8"), ("due_on", "2026-03-24")],
    );
    assert_eq!(v.state.pauses.len(), 3);
    crate::common::assert_lights_agree(&mut node);
}

#[test]
fn materials_asked_for_before_acceptance_do_not_move_the_due_date() {
    let (_dir, mut node) = station_on("2026-03-02");
    let id = crate::common::new_case_id(&mut node, "CT-902", "何建军");
    ask(&mut node, &id);
    let v = view(&mut node, &id);
    assert_eq!(v.deadline.clock, ClockState::NotStarted);
    assert_eq!(v.light, None);
    // The materials arrive on Thursday and the case is accepted then: the clock starts Friday.
    let v = act_on(&mut node, "2026-03-05", &id, Action::Accept);
    assert_deadline(
        &v.deadline,
        &[
            ("paused_days", "0"),
            ("accepted_on", "2026-03-05"),
            ("due_on", "2026-03-17"),
        ],
    );
}

#[test]
fn an_instant_case_is_due_the_same_working_day() {
    let (_dir, mut node) = station_on("2026-03-02");
    let done = take_in_and_accept(&mut node, "CT-903", "林秀珍");
    let left = take_in_and_accept(&mut node, "CT-903", "林秀云");
    let v = view(&mut node, &done);
    assert_deadline(
        &v.deadline,
        &[("due_on", "2026-03-02"), ("legal_due_on", "2026-03-02")],
    );
    // Due today: the light is yellow from the start, with nothing left.
    assert_eq!(v.light, Some(Light::Yellow));
    assert_eq!(v.remaining, Some(0));
    node.set_clock(crate::common::clock("2026-03-02T17:20:00+08:00"));
    let v = act(&mut node, &done, Action::Complete);
    assert_deadline(
        &v.deadline,
        &[("clock", "Stopped"), ("on_time", "Some(true)")],
    );
    assert_eq!(v.light, None);
    // The one left over is past both limits (legal_days is 0) the next morning.
    assert_eq!(
        view_on(&mut node, "2026-03-03", &left).light,
        Some(Light::Severe)
    );
    let v = act(&mut node, &left, Action::Complete);
    assert_eq!(v.deadline.on_time, Some(false));
    crate::common::assert_lights_agree(&mut node);
}

#[test]
fn completion_is_on_time_or_late() {
    let (_dir, mut node) = station_on("2026-02-13");
    let early = take_in_and_accept(&mut node, "CT-901", "郑小红");
    let last_day = take_in_and_accept(&mut node, "CT-901", "郑小兰");
    let late = take_in_and_accept(&mut node, "CT-901", "郑小军");
    let par = take_in_and_accept(&mut node, "CT-904", "郑小平");

    let v = act_on(&mut node, "2026-02-14", &early, Action::Complete);
    assert_deadline(
        &v.deadline,
        &[("on_time", "Some(true)"), ("stopped_on", "2026-02-14")],
    );
    on(&mut node, "2026-02-25");
    assert_eq!(
        act(&mut node, &last_day, Action::Complete).deadline.on_time,
        Some(true)
    );
    let v = act_on(&mut node, "2026-02-26", &late, Action::Complete);
    assert_eq!(v.deadline.on_time, Some(false));
    assert_eq!(v.remaining, Some(-1));
    // Delivering later does not change whether the decision was on time.
    let v = act_on(&mut node, "2026-03-10", &early, Action::Deliver);
    assert_deadline(
        &v.deadline,
        &[("on_time", "Some(true)"), ("clock", "Stopped")],
    );
    assert_eq!(v.light, None);

    // Parallel approval: the clock runs until the last department and the completion.
    act(
        &mut node,
        &par,
        Action::Approve {
            dept: "市场监管局".into(),
        },
    );
    assert_eq!(view(&mut node, &par).deadline.clock, ClockState::Running);
    act(
        &mut node,
        &par,
        Action::Approve {
            dept: "税务局".into(),
        },
    );
    let v = act(&mut node, &par, Action::Complete);
    assert_eq!(v.deadline.on_time, Some(false));

    let stats = node.stats(None, None).unwrap();
    assert_eq!(stats.totals.on_time, 2);
    assert_eq!(stats.totals.late, 2);
    assert_eq!(stats.totals.completed, 4);
    crate::common::assert_lights_agree(&mut node);
}

#[test]
fn a_bad_rating_opens_a_follow_up_due_in_fifteen_working_days() {
    let (_dir, mut node) = station_on("2026-03-02");
    let bad = take_in_and_accept(&mut node, "CT-903", "马桂芳");
    let good = take_in_and_accept(&mut node, "CT-903", "马桂英");
    for id in [&bad, &good] {
        act(&mut node, id, Action::Complete);
    }
    let v = act(
        &mut node,
        &bad,
        Action::Rate {
            level: 4,
            comment: "等候时间太长".into(),
        },
    );
    // Fifteen working days after Monday 2 March: 3–6, 9–13, 16–20, 23.
    assert_eq!(v.deadline.follow_up_due, Some(date("2026-03-23")));
    assert_eq!(
        v.deadline.follow_up_due,
        Some(node.calendar().add_working_days(date("2026-03-02"), 15))
    );
    let v = act(
        &mut node,
        &good,
        Action::Rate {
            level: 1,
            comment: "非常满意".into(),
        },
    );
    assert_eq!(v.deadline.follow_up_due, None);

    let v = view_on(&mut node, "2026-03-23", &bad);
    assert!(!v.deadline.follow_up_overdue(node.today()));
    let stats = node.stats(None, None).unwrap();
    assert_eq!(stats.totals.follow_ups_open, 1);
    assert_eq!(stats.totals.follow_ups_overdue, 0);

    let v = view_on(&mut node, "2026-03-24", &bad);
    assert!(v.deadline.follow_up_overdue(node.today()));
    let stats = node.stats(None, None).unwrap();
    assert_eq!(stats.totals.follow_ups_overdue, 1);

    let v = act(
        &mut node,
        &bad,
        Action::FollowUp {
            summary: "已致歉并说明原因".into(),
        },
    );
    assert_eq!(v.deadline.follow_up_due, None);
    assert!(!v.deadline.follow_up_overdue(node.today()));
    let stats = node.stats(None, None).unwrap();
    assert_eq!(stats.totals.follow_ups_open, 0);
    assert_eq!(stats.totals.follow_ups_overdue, 0);
    assert_eq!(stats.totals.rated, 2);
}

#[test]
fn the_sql_light_agrees_with_the_fold_for_a_mix_of_cases() {
    use rand::{RngExt as _, SeedableRng as _};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let (_dir, mut node) = station_on("2026-02-09");
    let items = ["CT-901", "CT-902", "CT-903", "CT-904", "CT-905"];
    let mut ids = Vec::new();
    let mut day = date("2026-02-09");
    // Three weeks of work around the Spring Festival: every morning some cases come in and some
    // are handled with a random action; lights are compared on every day.
    for _ in 0..28 {
        node.set_clock(crate::common::clock(&format!("{day}T09:00:00+08:00")));
        for _ in 0..rng.random_range(0..4) {
            let item = items[rng.random_range(0..items.len())];
            ids.push(
                node.new_case(&crate::common::intake(item, "测试申请人"))
                    .unwrap()
                    .doc
                    .id,
            );
        }
        for id in &ids {
            if rng.random_range(0..3) != 0 {
                continue;
            }
            let action = match rng.random_range(0..9) {
                0 | 1 => Action::Accept,
                2 => Action::RequestMaterials {
                    missing: vec!["身份证".into()],
                },
                3 => Action::Suspend {
                    reason: "听证".into(),
                },
                4 | 5 => Action::Resume,
                6 => Action::Complete,
                7 => Action::Approve {
                    dept: ["市场监管局", "税务局"][rng.random_range(0..2)].into(),
                },
                _ => Action::Rate {
                    level: rng.random_range(1..=5),
                    comment: String::new(),
                },
            };
            // Refused actions are part of the mix; they write nothing.
            let _ = node.act(id, &action, "窗口");
        }
        crate::common::assert_lights_agree(&mut node);
        day = day.succ_opt().unwrap();
    }
    // Every light and every clock state occurred.
    let mut lights = std::collections::BTreeSet::new();
    let mut clocks = std::collections::BTreeSet::new();
    for when in ["2026-02-24", "2026-03-02", "2026-03-09"] {
        on(&mut node, when);
        for id in &ids {
            let v = view(&mut node, id);
            lights.insert(v.light);
            clocks.insert(v.deadline.clock.code());
        }
    }
    assert_eq!(lights.len(), 5, "{lights:?}");
    assert_eq!(clocks.len(), 4, "{clocks:?}");
}

#[test]
fn a_new_yellow_threshold_reaches_the_index() {
    let (_dir, mut node) = station_on("2026-03-02");
    let id = take_in_and_accept(&mut node, "CT-902", "罗振华");
    on(&mut node, "2026-03-06");
    // Remaining: 9, 10, 11, 12 → 4 working days; green at 25 %, yellow at 50 %.
    assert_eq!(view(&mut node, &id).light, Some(Light::Green));
    node.set_settings(Settings {
        yellow_percent: 50,
        follow_up_days: 15,
    })
    .unwrap();
    assert_eq!(view(&mut node, &id).light, Some(Light::Yellow));
    assert_eq!(
        node.list(&CaseFilter {
            light: Some(Light::Yellow),
            ..CaseFilter::default()
        })
        .unwrap()
        .len(),
        1
    );
    crate::common::assert_lights_agree(&mut node);
}

/// Issue #10: the calendar ends with 2026, so a due date counted into 2027 skipped only weekends
/// there (元旦 2027-01-01 counted as a working day). It is provisional in the view, the index and
/// the statistics until the city adds 2027; then it moves and is final. The 2027 State Council
/// notice is not in the project's sources, so the rule below holds only 元旦 (2027-01-01).
#[test]
fn a_due_date_in_a_year_without_a_calendar_is_provisional_until_the_city_adds_it() {
    let dir = tempfile::tempdir().unwrap();
    // Monday 2026-12-28.
    let mut node = node_at(dir.path(), "2026-12-28");
    assert!(!node.calendar().covers(2027));
    // Eight promised working days: 29, 30, 31, then 2027: 1 (元旦, unknown yet), 4, 5, 6, 7.
    let late = take_in_and_accept(&mut node, "CT-902", "王秀兰");
    // Three promised working days end on 2026-12-31; the five legal ones reach 2027-01-04.
    let early = take_in_and_accept(&mut node, "CT-901", "李建国");
    // A 即办件 is due the same day.
    let instant = take_in_and_accept(&mut node, "CT-903", "赵志强");

    let d = view(&mut node, &late).deadline;
    assert_deadline(
        &d,
        &[("due_on", "2027-01-07"), ("legal_due_on", "2027-01-13")],
    );
    assert!(d.due_provisional && d.legal_provisional && d.provisional());
    assert_eq!(d.uncovered_year, Some(2027));
    let d = view(&mut node, &early).deadline;
    assert_eq!(d.due_on, Some(date("2026-12-31")));
    assert!(!d.due_provisional, "a due date within 2026 is final");
    assert!(d.legal_provisional, "the legal due date reaches 2027-01-04");
    let d = view(&mut node, &instant).deadline;
    assert_eq!(d.due_on, Some(date("2026-12-28")));
    assert!(!d.provisional());

    // The index carries the flags, and the statistics count the cases under supervision whose
    // due date is provisional.
    let rows = node.list(&CaseFilter::default()).expect("list");
    let row = |id: &str| rows.iter().find(|r| r.id == id).expect("listed").clone();
    assert!(row(&late).due_provisional && row(&late).provisional);
    assert!(!row(&early).due_provisional && row(&early).provisional);
    assert!(!row(&instant).due_provisional && !row(&instant).provisional);
    assert_eq!(node.stats(None, None).expect("stats").totals.provisional, 2);
    let live = node.index_dump().expect("dump");
    node.reindex().expect("reindex");
    assert_eq!(node.index_dump().expect("dump"), live);

    // The city adds 2027 with 元旦 off: the due dates move a day and are final.
    node.set_calendar_year(
        2027,
        yizhan_node::calendar::YearRule {
            holidays: vec![date("2027-01-01")],
            workdays: vec![],
        },
    )
    .expect("add 2027");
    let d = view(&mut node, &late).deadline;
    assert_deadline(
        &d,
        &[("due_on", "2027-01-08"), ("legal_due_on", "2027-01-14")],
    );
    assert!(!d.provisional());
    let d = view(&mut node, &early).deadline;
    assert_eq!(d.legal_due_on, Some(date("2027-01-05")));
    assert!(!d.provisional());
    let rows = node.list(&CaseFilter::default()).expect("list");
    assert!(rows.iter().all(|r| !r.provisional && !r.due_provisional));
    let late_row = rows.iter().find(|r| r.id == late).expect("listed");
    assert_eq!(late_row.due_on.as_deref(), Some("2027-01-08"));
    assert_eq!(node.stats(None, None).expect("stats").totals.provisional, 0);
    let live = node.index_dump().expect("dump");
    node.reindex().expect("reindex");
    assert_eq!(node.index_dump().expect("dump"), live);
}

/// A pause whose working days were counted in a year without a calendar rule extends the due
/// dates by a weekends-only count, so they are provisional even when they fall before that year.
#[test]
fn a_pause_counted_in_a_year_without_a_calendar_makes_the_due_date_provisional() {
    let dir = tempfile::tempdir().unwrap();
    // Tuesday 2026-12-01; three promised working days, five legal.
    let mut node = node_at(dir.path(), "2026-12-01");
    let id = take_in_and_accept(&mut node, "CT-901", "孙丽娟");
    assert_eq!(
        view(&mut node, &id).deadline.due_on,
        Some(date("2026-12-04"))
    );
    assert!(!view(&mut node, &id).deadline.provisional());
    // Overdue, the case waits for materials from 21 December to 5 January: (21 Dec, 5 Jan]
    // holds 11 working days while 元旦 is unknown.
    on(&mut node, "2026-12-21");
    ask(&mut node, &id);
    on(&mut node, "2027-01-05");
    let d = act(&mut node, &id, Action::Resume).deadline;
    assert_deadline(
        &d,
        &[
            ("paused_days", "11"),
            ("due_on", "2026-12-21"),
            ("legal_due_on", "2026-12-23"),
        ],
    );
    assert!(d.due_provisional && d.legal_provisional);
    assert_eq!(d.uncovered_year, Some(2027));

    node.set_calendar_year(
        2027,
        yizhan_node::calendar::YearRule {
            holidays: vec![date("2027-01-01")],
            workdays: vec![],
        },
    )
    .expect("add 2027");
    let d = view(&mut node, &id).deadline;
    assert_deadline(&d, &[("paused_days", "10"), ("due_on", "2026-12-18")]);
    assert!(!d.provisional());
}

/// A store written before the provisional flags existed (schema 5) gets them when it is opened:
/// the migration marks the index stale and opening rebuilds it.
#[test]
fn an_older_store_gets_the_provisional_flags_when_opened() {
    let (dir, mut node) = station_on("2026-12-28");
    let id = take_in_and_accept(&mut node, "CT-902", "周建军");
    let live = node.index_dump().expect("dump");
    // Back to schema 5: without the columns, their index and the rebuild mark (and without what
    // schemas 7 to 9 added, which the migrations add again: schema 5 kept every search key in
    // `search_keys`).
    drop(node);
    crate::common::raw_sql(
        dir.path(),
        "INSERT INTO search_keys SELECT * FROM search_keys_new;
         DROP TABLE search_keys_new;
         DELETE FROM counters WHERE name = 'new_keys';
         DROP TABLE outbox;
         DROP INDEX docs_type_seq;
         DROP TABLE case_actors;
         DROP INDEX cases_decided_by;
         DROP INDEX cases_supervised;
         ALTER TABLE cases DROP COLUMN decided_by;
         ALTER TABLE cases DROP COLUMN decided_by_name;
         ALTER TABLE cases DROP COLUMN handling_days;
         ALTER TABLE cases DROP COLUMN supervisions_open;
         DROP TABLE sign_in_failures;
         DROP INDEX cases_provisional;
         ALTER TABLE cases DROP COLUMN due_provisional;
         ALTER TABLE cases DROP COLUMN legal_provisional;
         UPDATE meta SET value = '5' WHERE key = 'schema_version';",
    );
    let mut node = Node::open(dir.path(), morning("2026-12-28")).expect("open");
    let rows = node.list(&CaseFilter::default()).expect("list");
    assert!(rows.iter().any(|r| r.id == id && r.due_provisional));
    assert_eq!(node.index_dump().expect("dump"), live);
    assert_eq!(node.diagnostics().meta("reindex").expect("meta"), None);
}
