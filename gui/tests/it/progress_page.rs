//! The progress page (办件查询, issue #15) through the real binary: `yizhan serve --http` on
//! loopback, asked with real HTTP requests over a plain TCP socket. The right pair shows the
//! progress (HTML and JSON) without personal data or staff names; a wrong pair and an unknown
//! number get byte for byte the same answer; the 20th failure within a minute from one address
//! is turned away (and logged without the check), even with the right pair.

use crate::support::Yizhan;
use crate::sync_e2e::{Serve, stop};
use serde_json::Value;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

const ID_NUMBER: &str = "11010519491231002X";
const PHONE: &str = "13800138000";
const APPLICANT: &str = "王小明";
const CLERK: &str = "李窗口";
const NOTE: &str = "内部备注：材料存疑";

/// One answer: status code, headers (lower-case names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` with `accept`, on a new connection that the server closes after answering.
fn get(addr: &str, path: &str, accept: &str) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect to the progress page");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let raw = String::from_utf8(raw).expect("the answer is UTF-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

fn html(addr: &str, path: &str) -> Answer {
    get(addr, path, "text/html")
}

fn json(addr: &str, path: &str) -> (u16, Value) {
    let a = get(addr, path, "application/json");
    let v = serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", a.body));
    (a.status, v)
}

/// Nothing personal, no staff name, no internal note.
fn assert_public(text: &str) {
    for secret in [
        ID_NUMBER,
        "002X",
        PHONE,
        "8000",
        APPLICANT,
        CLERK,
        NOTE,
        "操作员",
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked: {text}");
    }
}

#[test]
fn the_progress_page_answers_the_right_pair_only_and_slows_down_guessing() {
    let tmp = tempfile::tempdir().unwrap();
    let y = Yizhan::new(tmp.path().join("data")).env("YIZHAN_OPERATOR", CLERK);
    y.init_city();
    let created = y.json(&[
        "case",
        "new",
        "--item",
        "CT-002",
        "--applicant",
        APPLICANT,
        "--id-number",
        ID_NUMBER,
        "--phone",
        PHONE,
    ]);
    let number = created["number"].as_str().unwrap().to_string();
    y.ok(&["case", "accept", &number]);
    y.ok(&["case", "note", &number, NOTE]);
    y.ok(&[
        "case",
        "request-materials",
        "--missing",
        "营业执照副本；公司章程",
        &number,
    ]);
    // Another case whose number exists but whose check is different.
    let other = y.json(&[
        "case",
        "new",
        "--item",
        "CT-001",
        "--applicant",
        "赵六",
        "--phone",
        "13900001234",
    ]);
    let other = other["number"].as_str().unwrap().to_string();

    let mut serve = Serve::start_with(
        &y,
        "city serve",
        &["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"],
    );
    let addr = serve.http.clone().unwrap_or_else(|| {
        panic!(
            "the listening line names no http address\n{}",
            serve.describe()
        )
    });
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    // The form: Chinese, for a phone, self-contained.
    let form = html(&addr, "/");
    assert_eq!(form.status, 200);
    assert!(form.body.contains("办件编号") && form.body.contains("查询码"));
    assert!(form.body.contains("width=device-width"));
    for external in ["http://", "https://", "<script", "src="] {
        assert!(!form.body.contains(external), "{external} in {}", form.body);
    }
    assert!(
        form.header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'")),
        "{:?}",
        form.headers
    );

    // The right pair, by the phone's last four and by the ID number's (lower-case x too).
    let page = html(&addr, &format!("/query?number={number}&check=8000"));
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in [
        "企业设立登记",
        "测试市政务服务中心",
        "需要补充材料",
        "营业执照副本",
        "公司章程",
        "王*明",
        "受理",
        "一次性告知补正",
        "2026-03-04",
        "结果领取地点",
    ] {
        assert!(page.body.contains(shown), "{shown} missing: {}", page.body);
    }
    assert_public(&page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let by_id = html(&addr, &format!("/query?number={number}&check=002x"));
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.body, page.body);

    // JSON for scripts and terminals.
    let (status, v) = json(&addr, &format!("/query?number={number}&check=8000"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["found"], true);
    assert_eq!(v["case"]["number"], number.as_str());
    assert_eq!(v["case"]["status"], "awaiting_materials");
    assert_eq!(v["case"]["applicant"], "王*明");
    assert_eq!(v["case"]["due_on"], "2026-03-04");
    assert_eq!(v["case"]["due_provisional"], false);
    assert_eq!(
        v["case"]["missing"],
        serde_json::json!(["营业执照副本", "公司章程"])
    );
    let kinds: Vec<&str> = v["case"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["what"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["收件", "受理", "一次性告知补正"], "no note: {v}");
    assert_public(&v.to_string());

    // A wrong check on a real number and an unknown number: the same answer, byte for byte.
    let mut failures = 0;
    let wrong = html(&addr, &format!("/query?number={number}&check=1234"));
    let unknown = html(&addr, "/query?number=C01-260302-1-999&check=8000");
    let other_check = html(&addr, &format!("/query?number={other}&check=8000"));
    failures += 3;
    assert_eq!(wrong.status, 404);
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert_eq!(
        (wrong.status, &wrong.body),
        (other_check.status, &other_check.body)
    );
    assert!(wrong.body.contains("没有查到"), "{}", wrong.body);
    assert_public(&wrong.body);
    let (ws, wv) = json(&addr, &format!("/query?number={number}&check=0000"));
    let (us, uv) = json(&addr, "/query?number=nothing&check=0000");
    failures += 2;
    assert_eq!((ws, &wv), (us, &uv));
    assert_eq!(wv["found"], false);

    // Guessing: the 20th failure within a minute is turned away, and so is everything from that
    // address for the rest of the minute, the right pair included.
    while failures < 19 {
        let a = html(
            &addr,
            &format!("/query?number={number}&check={:04}", 2000 + failures),
        );
        assert_eq!(a.status, 404, "failure {} is answered", failures + 1);
        failures += 1;
    }
    let twentieth = html(&addr, &format!("/query?number={number}&check=3333"));
    assert_eq!(twentieth.status, 429, "{}", twentieth.body);
    let retry: u64 = twentieth
        .header("retry-after")
        .and_then(|r| r.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let right = html(&addr, &format!("/query?number={number}&check=8000"));
    assert_eq!(right.status, 429, "the right pair waits too");
    let (s429, v429) = json(&addr, &format!("/query?number={number}&check=8000"));
    assert_eq!(s429, 429);
    assert_eq!(v429["error"], "too_many_failures");

    let log = serve.stderr.lock().unwrap().clone();
    assert!(log.contains("127.0.0.1"), "the address is logged: {log}");
    assert!(log.contains("failed look-ups"), "{log}");
    assert!(!log.contains("8000") && !log.contains(&number), "{log}");
    assert_public(&log);
    stop(serve);
}
