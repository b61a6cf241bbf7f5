//! Issue #13: the command line's human output is Chinese-first, lines up by display width and
//! names stations; `--json` stays as it was. Without a display, the window says so in one plain
//! line.

use super::network;
use crate::support::args;
use unicode_width::UnicodeWidthStr as _;

/// Whether `s` holds a UUID (8-4-4-4-12 hexadecimal digits).
fn has_uuid(s: &str) -> bool {
    s.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .any(|w| {
            let parts: Vec<usize> = w.split('-').map(str::len).collect();
            parts == [8, 4, 4, 4, 12]
        })
}

#[test]
fn human_output_is_chinese_first_aligned_and_names_stations() {
    let (_tmp, y) = network();
    let out = y.ok(&args("case new --item CT-002 --applicant 王小明"));
    assert!(!has_uuid(&out), "case new prints an id: {out}");
    let number = out
        .split_whitespace()
        .next()
        .expect("the number")
        .to_string();
    let json = y.json(&args("case new --item CT-001 --applicant 欧阳小明明"));
    assert!(
        has_uuid(json["id"].as_str().unwrap()),
        "--json keeps the id"
    );
    let other = json["number"].as_str().unwrap().to_string();
    y.ok(&["case", "accept", &other]);

    let show = y.ok(&["case", "show", &number]);
    assert!(!show.contains("{\""), "approvals as JSON: {show}");
    assert!(show.contains("市场监管局 待审批"), "{show}");
    assert!(show.contains("当前承办:      测试市政务服务中心"), "{show}");
    assert!(show.contains("委托书（尚缺）"), "{show}");

    let list = y.ok(&["case", "list"]);
    for english in ["green", "yellow", "red", "severe"] {
        assert!(!list.contains(english), "{list}");
    }
    assert!(list.contains("黄灯"), "{list}");
    // The holder's column starts at the same display column on every line.
    let lines: Vec<&str> = list
        .lines()
        .filter(|l| l.contains("测试市政务服务中心"))
        .collect();
    assert_eq!(lines.len(), 2, "{list}");
    let columns: Vec<usize> = lines
        .iter()
        .map(|l| l[..l.find("测试市政务服务中心").unwrap()].width())
        .collect();
    assert_eq!(columns[0], columns[1], "{list}");

    let status = y.ok(&["status"]);
    assert!(status.contains("同步 peers"), "{status}");
}

#[test]
fn without_a_display_the_window_says_so_in_one_plain_line() {
    let (_tmp, y) = network();
    let out = y
        .command(Vec::<&str>::new())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("yizhan runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no display"), "{err}");
    assert!(
        !err.contains(".cargo") && !err.contains("registry"),
        "{err}"
    );
}
