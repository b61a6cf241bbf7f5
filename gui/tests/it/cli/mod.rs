//! End-to-end tests of the `yizhan` command line (DESIGN.md section 8): a case's whole life
//! through the real binary, and every kind of bad input refused with one clear line and nothing
//! written.

use crate::support::{Mark, NOW, STORE_FILE, Yizhan, args, parse_json, run_command};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use tempfile::TempDir;

mod human;
mod operators;
mod refused;

/// A full, valid resident ID number (check digit X) and a phone; the outputs must mask both.
const ID_NUMBER: &str = "11010519491231002X";
const ID_MASKED: &str = "1101**********002X";
const PHONE: &str = "13800138000";
const PHONE_MASKED: &str = "138****8000";

/// A fresh network in a temporary directory: city C01, township T01, village V01.
fn network() -> (TempDir, Yizhan) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let y = Yizhan::new(tmp.path().join("data"));
    y.init_city();
    (tmp, y)
}

fn s<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

fn u(v: &Value, what: &str) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{what} is not a count: {v}"))
}

/// `(id, status)` of every case, sorted by id.
fn listed(y: &Yizhan, args: &[&str]) -> (u64, Vec<(String, String)>) {
    let mut all = vec!["case", "list", "--limit", "100000"];
    all.extend_from_slice(args);
    let list = y.json(&all);
    let mut rows: Vec<(String, String)> = list["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("case list has no cases array: {list}"))
        .iter()
        .map(|r| {
            (
                s(&r["id"], "row id").to_string(),
                s(&r["status"], "row status").to_string(),
            )
        })
        .collect();
    rows.sort();
    (u(&list["total"], "total"), rows)
}

/// Runs a command that must be refused, checks that the error line names every word in
/// `names`, and that nothing was written.
fn refused(y: &Yizhan, args: &[&str], names: &[&str]) -> String {
    let before = y.mark();
    let line = y.refused(args);
    for name in names {
        assert!(
            line.contains(name),
            "the error for `{}` should name {name:?}: {line}",
            args.join(" ")
        );
    }
    y.assert_unchanged(before, &format!("the refused `{}`", args.join(" ")));
    line
}

/// [`refused`] for each `case` command on case `number`: the command, the arguments after the
/// number (split at spaces) and the words its error must name, in order.
fn refused_each(y: &Yizhan, number: &str, commands: &[(&str, &str, &[&str])]) {
    for (command, rest, names) in commands {
        refused(y, &args(&format!("case {command} {number} {rest}")), names);
    }
}

/// The entry of a JSON array whose `key` is `value`.
fn entry(array: &Value, key: &str, value: &str) -> Value {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .find(|e| e[key] == value)
        .cloned()
        .unwrap_or_else(|| panic!("no entry with {key} {value} in {array}"))
}

fn assert_no_personal_data(text: &str, what: &str) {
    assert!(
        !text.contains(ID_NUMBER) && !text.contains(PHONE),
        "{what} shows an unmasked ID number or phone:\n{text}"
    );
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn a_case_from_intake_to_follow_up() {
    let (_tmp, y) = network();

    let status = y.json(&["status"]);
    assert_eq!(status["station"], "C01");
    assert_eq!(status["tier"], "city");
    assert_eq!(status["network"], "测试市");
    assert_eq!(status["stations"], 3);

    let stations = y.json(&["station", "list"]);
    let by_code = |code: &str| entry(&stations, "code", code);
    assert_eq!(by_code("T01")["tier"], "township");
    assert_eq!(by_code("T01")["parent"], "C01");
    assert_eq!(by_code("V01")["tier"], "village");
    assert_eq!(by_code("V01")["parent"], "T01");

    let catalog = y.json(&["catalog", "list"]);
    let items = catalog.as_array().expect("catalog list is an array");
    assert!(items.len() >= 30, "only {} catalog items", items.len());
    let tiers: BTreeSet<&str> = items.iter().map(|i| s(&i["tier"], "tier")).collect();
    assert_eq!(
        tiers,
        BTreeSet::from(["city", "township", "village"]),
        "the catalog covers every tier"
    );
    let ct002 = items
        .iter()
        .find(|i| i["code"] == "CT-002")
        .expect("CT-002 in the default catalog");
    let depts: Vec<&str> = ct002["departments"]
        .as_array()
        .expect("departments")
        .iter()
        .map(|d| s(d, "department"))
        .collect();
    assert_eq!(depts, ["市场监管局", "税务局", "公安局"]);

    // Intake.
    let created = y.json(&args(&format!(
        "case new --item CT-002 --applicant 王小明 --id-number {ID_NUMBER} --phone {PHONE}"
    )));
    assert_eq!(created["event"], "created", "{created}");
    let id = s(&created["id"], "id").to_string();
    let number = s(&created["number"], "number").to_string();
    assert_eq!(id.len(), 36, "the id is a UUID: {id}");
    assert!(
        number.starts_with("C01-260302-"),
        "the number names the station and the day: {number}"
    );
    assert_no_personal_data(&created.to_string(), "case new");

    let shown = y.json(&["case", "show", &number]);
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["number"], number.as_str());
    assert_eq!(shown["status"], "submitted");
    assert_eq!(shown["holder"], "C01");
    assert_eq!(shown["item"]["code"], "CT-002");
    assert_eq!(shown["applicant"]["name"], "王小明");
    assert_eq!(shown["applicant"]["id_number"], ID_MASKED);
    assert_eq!(shown["applicant"]["phone"], PHONE_MASKED);
    assert_eq!(
        shown["approvals"],
        serde_json::json!({"市场监管局": "pending", "税务局": "pending", "公安局": "pending"})
    );
    assert_no_personal_data(&shown.to_string(), "case show --json");
    assert_eq!(
        y.json(&["case", "show", &id]),
        shown,
        "show by id = by number"
    );
    let text = y.ok(&["case", "show", &number]);
    assert!(text.contains(&number) && text.contains(ID_MASKED), "{text}");
    assert_no_personal_data(&text, "case show");

    // Acceptance starts the clock on the next working day.
    let accepted = y.json(&["case", "accept", &number]);
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["accepted_on"], "2026-03-02");
    assert_eq!(
        accepted["due_on"], "2026-03-04",
        "2 working days after Monday"
    );
    assert_eq!(accepted["light"], "green");

    // Parallel approval by the three departments.
    let mut view = accepted;
    for dept in ["市场监管局", "税务局", "公安局"] {
        assert_eq!(view["approvals"][dept], "pending");
        view = y.json(&["case", "approve", &number, "--dept", dept]);
        assert_eq!(view["approvals"][dept], "approved", "{view}");
        assert_eq!(view["status"], "accepted");
    }

    let completed = y.json(&["case", "complete", &number]);
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["outcome"], "approved");
    assert_eq!(completed["on_time"], true);
    assert_eq!(
        listed(&y, &["--status", "completed"]).1,
        [(id.clone(), "completed".into())]
    );
    assert_eq!(listed(&y, &["--status", "accepted"]).0, 0);

    let delivered = y.json(&["case", "deliver", &number]);
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(
        listed(&y, &["--status", "delivered"]).1,
        [(id.clone(), "delivered".into())]
    );

    // 5 非常不满意 opens a follow-up; the call back closes it.
    let rated = y.json(&args(&format!(
        "case rate {number} --level 5 --comment 等太久"
    )));
    assert_eq!(rated["rating"], 5);
    assert_eq!(rated["follow_up_open"], true);
    assert!(rated["follow_up_due"].is_string(), "{rated}");
    let called = y.json(&["case", "follow-up", &number, "--summary", "已回访，已整改"]);
    assert_eq!(called["follow_up_open"], false);
    assert_eq!(called["status"], "delivered");
    let kinds: Vec<&str> = called["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| {
            assert_eq!(e["applied"], true, "{e}");
            assert!(e["problem"].is_null(), "{e}");
            s(&e["kind"], "kind")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "accept",
            "approve",
            "approve",
            "approve",
            "complete",
            "deliver",
            "rate",
            "follow_up"
        ]
    );

    // Two more cases: a township item forwarded down, and a city item left waiting.
    let (ts_id, ts_number) = y.new_case("TS-004", "张三");
    let forwarded = y.json(&["case", "forward", &ts_number, "--to", "T01"]);
    assert_eq!(forwarded["holder"], "T01");
    assert_eq!(forwarded["route"], serde_json::json!(["C01", "T01"]));
    assert_eq!(forwarded["status"], "submitted");
    let (open_id, _) = y.new_case("CT-001", "李四");

    let (total, rows) = listed(&y, &[]);
    assert_eq!(total, 3);
    let mut expected = vec![
        (id, "delivered".to_string()),
        (ts_id, "submitted".to_string()),
        (open_id, "submitted".to_string()),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    assert_eq!(listed(&y, &["--holder", "T01"]).0, 1);
    assert_eq!(listed(&y, &["--search", &number]).0, 1);

    // Statistics agree with the list, whatever the grouping.
    let stats = y.json(&["stats"]);
    let totals = &stats["totals"];
    assert_eq!(u(&totals["cases"], "cases"), total);
    assert_eq!(u(&totals["completed"], "completed"), 1);
    assert_eq!(u(&totals["open"], "open"), 2);
    assert_eq!(u(&totals["on_time"], "on_time"), 1);
    assert_eq!(u(&totals["rated"], "rated"), 1);
    assert_eq!(totals["ratings"], serde_json::json!([0, 0, 0, 0, 1]));
    let by_status: u64 = totals["by_status"]
        .as_object()
        .expect("by_status")
        .values()
        .map(|n| u(n, "by_status"))
        .sum();
    assert_eq!(by_status, total);
    assert_eq!(totals["by_status"]["submitted"], 2);
    assert_eq!(totals["by_status"]["delivered"], 1);

    let by_dept = y.json(&["stats", "--by", "dept"]);
    assert_eq!(by_dept["totals"], stats["totals"]);
    let depts = by_dept["depts"].as_array().expect("depts");
    assert_eq!(depts.len(), 3, "{by_dept}");
    for d in depts {
        assert_eq!(
            (&d["cases"], &d["approved"], &d["rejected"], &d["pending"]),
            (
                &Value::from(1),
                &Value::from(1),
                &Value::from(0),
                &Value::from(0)
            ),
            "{d}"
        );
    }
    for by in ["item", "township", "village"] {
        let grouped = y.json(&["stats", "--by", by]);
        assert_eq!(grouped["totals"], stats["totals"], "--by {by}");
        let sum: u64 = grouped["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| u(&g["totals"]["cases"], "group cases"))
            .sum();
        assert_eq!(sum, total, "--by {by} groups add up: {grouped}");
    }

    // The index rebuilt from the documents is the same index.
    let before = y.json(&["case", "list", "--limit", "100"]);
    let done = y.json(&["reindex"]);
    assert_eq!(done["ok"], true);
    assert_eq!(done["message"], "reindexed 3 cases");
    assert_eq!(y.json(&["case", "list", "--limit", "100"]), before);
    assert_eq!(y.json(&["stats", "--by", "dept"]), by_dept);

    // Every human-readable output works and masks personal data too.
    for args in [
        &["status"][..],
        &["station", "list"],
        &["catalog", "list"],
        &["case", "list"],
        &["case", "show", &number],
        &["stats"],
        &["stats", "--by", "dept"],
        &["calendar", "due", "--from", "2026-03-02", "--days", "3"],
    ] {
        let out = y.ok(args);
        assert!(
            !out.trim().is_empty(),
            "`{}` printed nothing",
            args.join(" ")
        );
        assert_no_personal_data(&out, &args.join(" "));
    }
    let due = y.json(&["calendar", "due", "--from", "2026-03-02", "--days", "3"]);
    assert_eq!(due["due"], "2026-03-05");
}

/// Issue #10: a villager comes back with an ID card, a phone or a name, not a case number.
#[test]
fn search_finds_a_case_by_id_and_phone_endings_and_by_given_name() {
    let (_tmp, y) = network();
    let ours = y.json(&args(&format!(
        "case new --item CT-001 --applicant 王秀英 --id-number {ID_NUMBER} --phone {PHONE}"
    )));
    let id = s(&ours["id"], "case id").to_string();
    let number = s(&ours["number"], "case number").to_string();
    // Someone else, sharing none of what is searched for below.
    y.json(&args("case new --item CT-001 --applicant 李建国 --id-number 110105198001018763 --phone 13911112222"));
    let tail = number
        .split_once('-')
        .map(|(_, t)| t.to_string())
        .expect("a case number");
    for q in [
        "002X",
        "002x",
        "31002X",
        ID_NUMBER,
        "8000",
        PHONE,
        "秀英",
        "王秀英",
        &tail,
    ] {
        let found = y.json(&["case", "list", "--search", q]);
        let text = found.to_string();
        assert_eq!(found["total"], 1, "--search {q}: {text}");
        assert_eq!(found["cases"][0]["id"], id.as_str(), "--search {q}: {text}");
        assert_no_personal_data(&text, "case list --json --search");
        // The human output shows the case and masks the same way.
        let human = y.ok(&["case", "list", "--search", q]);
        assert!(
            human.contains(&number) && human.contains("王秀英"),
            "{human}"
        );
        assert!(human.contains("(1 of 1)"), "{human}");
        assert_no_personal_data(&human, "case list --search");
    }
    for q in ["9999", "张三", "0519"] {
        let found = y.json(&["case", "list", "--search", q]);
        assert_eq!(found["total"], 0, "--search {q}: {found}");
        assert_eq!(found["cases"], serde_json::json!([]), "--search {q}");
    }
}

#[test]
fn every_action_command_prints_json() {
    let (_tmp, y) = network();
    let (_, a) = y.new_case("CT-001", "王一");
    for args in [
        &["case", "note", &a, "申请人来电询问进度"][..],
        &args(&format!(
            "case request-materials {a} --missing 经营场所使用证明；委托书"
        )),
        &["case", "resume", &a],
        &["case", "accept", &a],
        &[
            "case",
            "consult",
            &a,
            "--with",
            "T01",
            "--minutes",
            "15",
            "--summary",
            "核对材料",
        ],
        &["case", "suspend", &a, "--reason", "听证"],
        &["case", "resume", &a],
        &["case", "complete", &a],
    ] {
        let v = y.json(args);
        assert!(v["id"].is_string() && v["timeline"].is_array(), "{v}");
    }
    let (_, b) = y.new_case("CT-002", "王二");
    y.json(&["case", "accept", &b]);
    let rejected = y.json(&args(&format!(
        "case reject {b} --dept 税务局 --reason 欠税未清"
    )));
    assert_eq!(rejected["approvals"]["税务局"], "rejected");
    let (_, c) = y.new_case("CT-001", "王三");
    let refused_case = y.json(&["case", "refuse", &c, "--reason", "不属于本机关职权范围"]);
    assert_eq!(refused_case["status"], "refused");
    let (_, d) = y.new_case("CT-001", "王四");
    let gaps = y.json(&args(&format!(
        "case accept-with-gaps {d} --missing 委托书 --promise 三日内补交"
    )));
    assert_eq!(gaps["status"], "accepted");
    let delegated = y.json(&args("case new --item TS-004 --applicant 赵五 --delegated --entrustment --handed-over 身份证复印件；照片"));
    assert_eq!(delegated["event"], "created");
    assert_eq!(y.json(&["stats"])["totals"]["delegated"], 1);
}

#[test]
fn yizhan_data_environment_variable_replaces_data_flag() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("env-data");
    let y = Yizhan::new(&dir);
    let dir_str = dir.to_str().expect("a UTF-8 temporary path");
    let with_env = |args: &[&str]| -> Value {
        let mut cmd = y.bare_command(args);
        cmd.env("YIZHAN_DATA", &dir);
        parse_json(&run_command(cmd, args))
    };
    let status = with_env(&args(
        "--json init --network 环境市 --code C09 --name 环境市政务服务中心",
    ));
    assert_eq!(status["data"], dir_str);
    assert!(dir.join(STORE_FILE).is_file());
    let created = with_env(&args("case new --json --item CT-001 --applicant 王小明"));
    assert_eq!(created["event"], "created");
    // The flag and the variable reach the same store.
    assert_eq!(y.case_total(), 1);
    assert_eq!(with_env(&["case", "list", "--json"])["total"], 1);

    // `--data` wins over YIZHAN_DATA.
    let elsewhere = tmp.path().join("not-a-store");
    let mut cmd = y.command(["--json", "status"]);
    cmd.env("YIZHAN_DATA", &elsewhere);
    assert_eq!(parse_json(&run_command(cmd, &["status"]))["station"], "C09");
    assert!(!elsewhere.exists());
}

#[cfg(target_os = "linux")]
#[test]
fn without_data_dir_the_platform_data_directory_is_used() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let home = tmp.path().join("home");
    let xdg = tmp.path().join("xdg");
    std::fs::create_dir_all(&home).expect("home");
    let y = Yizhan::new(tmp.path().join("unused"));
    let run = |args: &[&str]| {
        let mut cmd = y.bare_command(args);
        cmd.env("HOME", &home).env("XDG_DATA_HOME", &xdg);
        run_command(cmd, args)
    };
    let line = run(&["status"]).refused();
    assert!(line.contains("no Yizhan store"), "{line}");
    let status = parse_json(&run(&args(
        "--json init --network 默认市 --code C01 --name 默认中心",
    )));
    assert_eq!(
        status["data"],
        xdg.join("yizhan").to_str().expect("a UTF-8 path")
    );
    assert!(xdg.join("yizhan").join(STORE_FILE).is_file());
}
