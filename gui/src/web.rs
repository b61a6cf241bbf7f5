//! The progress page (办件查询, issue #15): a small web server for the hall's query terminal,
//! the township's LAN or, at the city, the public site behind the center's reverse proxy.
//!
//! `GET /` is a form (case number, last four of the phone or ID number); `GET /query?number=N&
//! check=LAST4` answers with the case's public progress ([`yizhan_node::progress::Progress`]),
//! as an HTML page or, when the request's `Accept` names `application/json`, as JSON. The node
//! decides what is public and compares the check; this module only words the answer, so an
//! unknown number and a wrong check reach it as the same `None` and leave as the same page.
//!
//! Every query runs on the store thread through [`NodeHandle::call`] inside
//! [`tokio::task::spawn_blocking`]: the runtime's workers (shared with the sync engine) never
//! wait on SQLite. Failed look-ups are counted per client address ([`Limiter`]): from the
//! [`FAILURES_PER_MINUTE`]th failure within a minute an address is answered `429` with
//! `Retry-After` until its minute is over, without consulting the store, and the moment it
//! crosses the limit is logged with the address only (never the number asked for or the check).
//!
//! The server is axum on hyper: hyper, tokio and tower are already in the tree through iroh, so
//! axum (with only `http1`, `tokio` and `query`) adds six small crates, and it is the most widely
//! used and maintained router on that stack; a hand-written HTTP parser facing the public site
//! would be the riskier choice. Pages are self-contained (inline CSS, no script, no external
//! resource; a Content-Security-Policy says so to the browser) and work at phone width.

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use yizhan_node::NodeHandle;
use yizhan_node::progress::Progress;

/// From this many failed look-ups within [`WINDOW`], an address is turned away until the window
/// is over: the 20th wrong try in a minute is not answered.
pub const FAILURES_PER_MINUTE: u32 = 20;

/// The window over which failures are counted.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The most client addresses remembered at once; beyond it the oldest window is forgotten, so
/// a flood of addresses costs bounded memory (and at worst lets the oldest retry early).
pub const MAX_ADDRESSES: usize = 10_000;

/// The longest case number or check accepted in a query; anything longer is a wrong pair.
const MAX_PARAM_CHARS: usize = 64;

/// Failed look-ups per client address, in fixed windows of [`WINDOW`] from an address's first
/// failure.
#[derive(Debug)]
pub struct Limiter {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    limit: u32,
    window: Duration,
    capacity: usize,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(FAILURES_PER_MINUTE, WINDOW, MAX_ADDRESSES)
    }
}

impl Limiter {
    /// A limiter that turns an address away from its `limit`th failure within `window`,
    /// remembering at most `capacity` addresses.
    pub fn new(limit: u32, window: Duration, capacity: usize) -> Limiter {
        Limiter {
            windows: Mutex::new(HashMap::new()),
            limit: limit.max(1),
            window,
            capacity: capacity.max(1),
        }
    }

    /// An IPv6 client is counted by its /64 (one subscriber's network), an IPv4 one by itself.
    fn key(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut s = v6.segments();
                    s[4..].fill(0);
                    IpAddr::V6(s.into())
                }
            },
            v4 => v4,
        }
    }

    /// How long `ip` must still wait, if it is turned away now.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let (start, failures) = windows.get(&Limiter::key(ip))?;
        let end = *start + self.window;
        (now < end && *failures + 1 >= self.limit).then(|| end - now)
    }

    /// Counts one failure of `ip`; returns true when this failure reaches the limit (the moment
    /// to log).
    pub fn fail(&self, ip: IpAddr, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let key = Limiter::key(ip);
        if !windows.contains_key(&key) && windows.len() >= self.capacity {
            let window = self.window;
            windows.retain(|_, (start, _)| now < *start + window);
            if windows.len() >= self.capacity
                && let Some(oldest) = windows
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(k, _)| *k)
            {
                windows.remove(&oldest);
            }
        }
        let entry = windows.entry(key).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 + 1 == self.limit
    }

    /// How many addresses are remembered now.
    pub fn len(&self) -> usize {
        self.windows.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
struct Shared {
    handle: NodeHandle,
    limiter: Arc<Limiter>,
    /// The network's name, for the page's title.
    title: Arc<str>,
}

/// The progress page's routes on `handle`'s node. `title` heads every page (the network's or
/// the station's name).
pub fn router(handle: NodeHandle, title: &str, limiter: Arc<Limiter>) -> Router {
    Router::new()
        .route("/", get(form))
        .route("/query", get(query))
        .with_state(Shared {
            handle,
            limiter,
            title: title.into(),
        })
}

/// Serves the progress page on `listener` until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

#[derive(Debug, Deserialize)]
struct QueryParams {
    #[serde(default)]
    number: String,
    #[serde(default)]
    check: String,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

async fn form(State(s): State<Shared>) -> Response {
    html(
        StatusCode::OK,
        page(&s.title, "办件查询", &form_html("", None)),
    )
}

async fn query(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<QueryParams>,
) -> Response {
    let json = wants_json(&headers);
    let (number, check) = (
        params.number.trim().to_string(),
        params.check.trim().to_string(),
    );
    let ip = peer.ip();
    if let Some(wait) = s.limiter.blocked(ip, Instant::now()) {
        return too_many(&s.title, wait, json);
    }
    if number.is_empty() || check.is_empty() {
        let msg = "请填写办件编号和查询码（手机号或身份证号后四位）。";
        if json {
            return json_response(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "found": false, "error": "missing_fields", "message": msg }),
            );
        }
        return html(
            StatusCode::BAD_REQUEST,
            page(&s.title, "办件查询", &form_html(&number, Some(msg))),
        );
    }
    let found = if number.chars().count() > MAX_PARAM_CHARS
        || check.chars().count() > MAX_PARAM_CHARS
    {
        Ok(None)
    } else {
        let handle = s.handle.clone();
        let (n, c) = (number.clone(), check);
        match tokio::task::spawn_blocking(move || handle.call(move |node| node.progress(&n, &c)))
            .await
        {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    };
    match found {
        Ok(Some(p)) => {
            if json {
                json_response(
                    StatusCode::OK,
                    &serde_json::json!({ "found": true, "case": p }),
                )
            } else {
                html(
                    StatusCode::OK,
                    page(&s.title, "办理进度", &progress_html(&p)),
                )
            }
        }
        Ok(None) => {
            if s.limiter.fail(ip, Instant::now()) {
                tracing::warn!(
                    client = %ip,
                    "progress page: {FAILURES_PER_MINUTE} failed look-ups within a minute from one address; turning it away for the rest of the minute"
                );
            }
            not_found(&s.title, json)
        }
        Err(e) => {
            tracing::warn!("progress page: the store could not answer: {e}");
            let msg = "暂时无法查询，请稍后再试或到窗口咨询。";
            if json {
                json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &serde_json::json!({ "found": false, "error": "unavailable", "message": msg }),
                )
            } else {
                html(
                    StatusCode::SERVICE_UNAVAILABLE,
                    page(&s.title, "办件查询", &form_html(&number, Some(msg))),
                )
            }
        }
    }
}

/// The one answer to an unknown number and to a wrong check, byte for byte: it repeats neither
/// the number nor the check.
fn not_found(title: &str, json: bool) -> Response {
    let msg = "没有查到该办件：请核对办件编号和查询码（手机号或身份证号后四位）。";
    if json {
        return json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "found": false, "error": "not_found", "message": msg }),
        );
    }
    html(
        StatusCode::NOT_FOUND,
        page(title, "办件查询", &form_html("", Some(msg))),
    )
}

fn too_many(title: &str, wait: Duration, json: bool) -> Response {
    let secs = wait.as_secs().max(1);
    let msg = format!("查询失败次数过多，请 {secs} 秒后再试。");
    let mut r = if json {
        json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &serde_json::json!({ "found": false, "error": "too_many_failures", "retry_after": secs, "message": msg }),
        )
    } else {
        html(
            StatusCode::TOO_MANY_REQUESTS,
            page(title, "办件查询", &form_html("", Some(&msg))),
        )
    };
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Headers every answer carries: nothing cached (a shared terminal), no referrer (the check is
/// in the address), and no resource from anywhere but the page itself.
fn private(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

fn html(status: StatusCode, body: String) -> Response {
    private(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

fn json_response(status: StatusCode, v: &serde_json::Value) -> Response {
    private(
        (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            v.to_string(),
        )
            .into_response(),
    )
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;font-family:system-ui,'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;background:#f4f6f8;color:#222;font-size:17px;line-height:1.6}\
header{background:#b71c1c;color:#fff;padding:14px 16px}header h1{margin:0;font-size:20px}header p{margin:2px 0 0;font-size:14px;opacity:.9}\
main{max-width:640px;margin:0 auto;padding:12px}section{background:#fff;border-radius:8px;padding:14px 16px;margin:12px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}\
h2{font-size:18px;margin:0 0 8px}label{display:block;margin:10px 0 4px;font-weight:600}\
input{width:100%;box-sizing:border-box;font-size:18px;padding:10px;border:1px solid #bbb;border-radius:6px}\
button{width:100%;margin-top:14px;font-size:18px;padding:12px;border:0;border-radius:6px;background:#b71c1c;color:#fff}\
.msg{background:#fff3e0;border-left:4px solid #ef6c00;padding:8px 12px;margin:0 0 8px}\
.status{font-size:20px;font-weight:700;color:#1b5e20}dl{margin:0}dt{color:#666;font-size:14px;margin-top:8px}dd{margin:0}\
ol{list-style:none;padding:0;margin:0}li{border-left:3px solid #b71c1c;padding:2px 0 8px 12px;margin-left:4px}\
li .t{color:#666;font-size:14px}li .d{color:#444;font-size:15px}.hint{color:#666;font-size:14px}";

fn page(title: &str, heading: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{heading} - {title}</title><style>{STYLE}</style></head><body>\
<header><h1>{heading}</h1><p>{title}</p></header><main>{body}</main></body></html>",
        title = escape(title),
        heading = escape(heading),
    )
}

fn form_html(number: &str, message: Option<&str>) -> String {
    let msg = message
        .map(|m| format!("<p class=\"msg\">{}</p>", escape(m)))
        .unwrap_or_default();
    format!(
        "<section>{msg}<form method=\"get\" action=\"/query\">\
<label for=\"number\">办件编号</label>\
<input id=\"number\" name=\"number\" value=\"{number}\" autocomplete=\"off\" placeholder=\"见受理回执，如 C01-260302-1-001\" required>\
<label for=\"check\">查询码</label>\
<input id=\"check\" name=\"check\" inputmode=\"text\" maxlength=\"4\" autocomplete=\"off\" placeholder=\"手机号或身份证号后四位\" required>\
<button type=\"submit\">查询</button></form>\
<p class=\"hint\">查询码为申请时登记的手机号或身份证号的后四位。查询结果不显示个人信息。</p></section>",
        number = escape(number),
    )
}

fn progress_html(p: &Progress) -> String {
    let due = match p.due_on {
        Some(d) if p.due_provisional => format!("{d}（暂定：该年度工作日历尚未公布）"),
        Some(d) => d.to_string(),
        None if p.closed => "—".to_string(),
        None => "受理后计算".to_string(),
    };
    let missing = if p.missing.is_empty() {
        String::new()
    } else {
        let items: String = p
            .missing
            .iter()
            .map(|m| format!("<li>{}</li>", escape(m)))
            .collect();
        format!(
            "<section><h2>需要补充的材料</h2><ol>{items}</ol><p class=\"hint\">请一次带齐以上材料到{}。</p></section>",
            escape(&p.pickup)
        )
    };
    let steps: String = p
        .timeline
        .iter()
        .rev()
        .map(|s| {
            let detail = if s.detail.is_empty() {
                String::new()
            } else {
                format!("<div class=\"d\">{}</div>", escape(&s.detail))
            };
            format!(
                "<li><div>{what}</div><div class=\"t\">{at} · {station}</div>{detail}</li>",
                what = escape(&s.what),
                at = escape(&s.at.replace('T', " ").chars().take(16).collect::<String>()),
                station = escape(&s.station),
            )
        })
        .collect();
    format!(
        "<section><p class=\"status\">{status}</p><dl>\
<dt>办件编号</dt><dd>{number}</dd><dt>办理事项</dt><dd>{item}</dd><dt>申请人</dt><dd>{applicant}</dd>\
<dt>当前办理站点</dt><dd>{station}</dd><dt>承诺办结日期</dt><dd>{due}</dd><dt>结果领取地点</dt><dd>{pickup}</dd>\
</dl></section>{missing}<section><h2>办理过程</h2><ol>{steps}</ol></section>\
<section><form method=\"get\" action=\"/\"><button type=\"submit\">查询其他办件</button></form></section>",
        status = escape(&p.status_text),
        number = escape(&p.number),
        item = escape(&p.item),
        applicant = escape(&p.applicant),
        station = escape(&p.station),
        due = escape(&due),
        pickup = escape(&p.pickup),
    )
}

/// Binds the progress page's listener (before the engine prints its first line, so that a
/// wrong address fails the command at once).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_twentieth_failure_in_a_minute_is_turned_away_and_the_next_minute_is_not() {
        let l = Limiter::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let t0 = Instant::now();
        for i in 1..FAILURES_PER_MINUTE {
            assert!(l.blocked(ip, t0).is_none(), "try {i} is answered");
            let reached = l.fail(ip, t0);
            assert_eq!(reached, i + 1 == FAILURES_PER_MINUTE, "try {i}");
        }
        assert!(l.blocked(ip, t0).is_some(), "the 20th try is turned away");
        assert!(
            l.blocked(ip, t0 + WINDOW).is_none(),
            "a minute later it is not"
        );
        let other: IpAddr = "192.0.2.8".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert!(l.blocked(other, t0).is_none(), "another address is not");
    }

    #[test]
    fn memory_is_bounded_by_the_oldest_window_forgotten() {
        let l = Limiter::new(3, WINDOW, 100);
        let t0 = Instant::now();
        for i in 0..1000u32 {
            l.fail(
                IpAddr::from(i.to_be_bytes()),
                t0 + Duration::from_millis(u64::from(i)),
            );
        }
        assert_eq!(l.len(), 100);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::from([0; 16]));
        let b: IpAddr = "2001:db8:1:2:bbbb::2"
            .parse()
            .unwrap_or(IpAddr::from([0; 16]));
        assert_eq!(Limiter::key(a), Limiter::key(b));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
