//! Notices end to end (issue #15): the real `yizhan serve` delivers its outbox to a real HTTP
//! gateway run by the test on loopback.
//!
//! - Killed with SIGKILL after the gateway got a notice but before it was recorded as sent
//!   (the `notice-after-send` failpoint), the node sends it again after a restart: the gateway
//!   sees the same idempotency key twice, and the notice ends `sent`, once. Killed before the
//!   send (`notice-before-send`), the gateway sees it once.
//! - A gateway answering 500 is retried with a doubling backoff until it accepts.
//! - A village without a sender names its township's node: the notice of a case made while the
//!   village was offline is queued at the township when the case arrives, and sent once, however
//!   often it syncs afterwards.
//!
//! Phones never reach the logs: the serving processes run with `RUST_LOG=debug` and their
//! output is searched for the phone.

use crate::support::Yizhan;
use crate::sync_e2e::{Serve, invite, join, served_city_and_township, show, within};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PHONE: &str = "13912345678";

/// One request the gateway received.
#[derive(Debug, Clone)]
struct Hit {
    idempotency_key: String,
    api_key: String,
    body: Value,
    at: Instant,
}

/// A tiny HTTP/1.1 SMS gateway: records every POST and answers 500 while `fail_next` is above
/// zero, 200 otherwise.
#[derive(Debug, Clone)]
struct Gateway {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    fail_next: Arc<AtomicUsize>,
}

impl Gateway {
    fn start() -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the gateway");
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        let g = Gateway {
            url,
            hits: Arc::default(),
            fail_next: Arc::default(),
        };
        let shared = g.clone();
        std::thread::Builder::new()
            .name("test-gateway".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { break };
                    let g = shared.clone();
                    std::thread::spawn(move || g.connection(stream));
                }
            })
            .unwrap();
        g
    }

    /// Answers the requests of one (keep-alive) connection.
    fn connection(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        loop {
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let line = line.trim_end().to_string();
                if line.is_empty() {
                    break;
                }
                headers.push(line);
            }
            let header = |name: &str| {
                headers
                    .iter()
                    .filter_map(|h| h.split_once(':'))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_default()
            };
            let len: usize = header("content-length").parse().unwrap_or(0);
            let mut body = vec![0u8; len];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            self.hits.lock().unwrap().push(Hit {
                idempotency_key: header("idempotency-key"),
                api_key: header("x-api-key"),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                at: Instant::now(),
            });
            let failing = self
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            let status = if failing {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\n\r\n{{}}");
            if out.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    }

    /// The requests carrying one idempotency key.
    fn hits_for(&self, key: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.idempotency_key == key)
            .cloned()
            .collect()
    }
}

/// The same data directory, with the environment a serving process of these tests runs with:
/// short backoff and polling, debug logs (searched for the phone).
fn serving(dir: &std::path::Path, failpoint: Option<&str>) -> Yizhan {
    serving_with_backoff(dir, failpoint, 200)
}

/// [`serving`] with the backoff after a failed or interrupted attempt, in milliseconds.
fn serving_with_backoff(dir: &std::path::Path, failpoint: Option<&str>, backoff_ms: u64) -> Yizhan {
    let y = Yizhan::new(dir)
        .env("YIZHAN_NOTICE_BACKOFF_MS", &backoff_ms.to_string())
        .env("YIZHAN_NOTICE_POLL_MS", "100")
        .env("RUST_LOG", "debug");
    match failpoint {
        Some(f) => y.env("YIZHAN_FAILPOINT", f),
        None => y.without_env("YIZHAN_FAILPOINT"),
    }
}

/// The notices of a case as `case show --json` prints them.
fn notices(y: &Yizhan, number: &str) -> Vec<Value> {
    show(y, number)
        .map(|v| v["notices"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
}

/// Waits until the case's notice of `kind` is sent; returns it.
fn sent(y: &Yizhan, number: &str, kind: &str) -> Value {
    within(&format!("the {kind} notice of {number} sent"), || {
        notices(y, number)
            .into_iter()
            .find(|n| n["kind"] == kind && n["state"] == "sent")
    })
    .0
}

/// Waits until a serving process reaches a failpoint (it says so on stderr and stops there).
fn reached(serve: &mut Serve, failpoint: &str) {
    let line = format!("failpoint {failpoint} reached");
    within(&line, || {
        serve.stderr.lock().unwrap().contains(&line).then_some(())
    });
}

fn assert_no_phone(serve: &mut Serve) {
    let all = serve.describe();
    assert!(!all.contains(PHONE), "a phone in the logs:\n{all}");
}

#[test]
fn each_notice_is_sent_once_through_kills_and_failing_gateways() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let y = Yizhan::new(&dir);
    y.init_city();
    let gateway = Gateway::start();
    y.json(&[
        "notice",
        "sender",
        "--gateway",
        &gateway.url,
        "--key",
        "k-123",
    ]);

    // Killed after the gateway got the notice, before it was recorded: sent again, same key.
    let case = y.json(&[
        "case",
        "new",
        "--item",
        "CT-001",
        "--applicant",
        "张三",
        "--phone",
        PHONE,
    ]);
    let number = case["number"].as_str().unwrap().to_string();
    let queued = notices(&y, &number);
    assert_eq!(
        queued.len(),
        1,
        "the intake notice is queued with the case: {queued:?}"
    );
    assert_eq!(queued[0]["state"], "queued");
    assert_eq!(queued[0]["phone"], "139****5678", "masked on output");
    let key = queued[0]["id"].as_str().unwrap().to_string();
    // Its attempt moves the notice's next try 5 s on: the process started next (killed before
    // sending) then finds only the acceptance notice due, however slowly it starts on a loaded
    // machine (with 200 ms the intake notice was due again first now and then, and counted a
    // third attempt).
    let mut serve = Serve::start(
        &serving_with_backoff(&dir, Some("notice-after-send"), 5_000),
        "serve stopped after sending",
    );
    reached(&mut serve, "notice-after-send");
    assert_no_phone(&mut serve);
    drop(serve); // SIGKILL
    assert_eq!(gateway.hits_for(&key).len(), 1);
    let after_kill = &notices(&y, &number)[0];
    assert_eq!(after_kill["state"], "queued", "{after_kill}");
    assert_eq!(
        after_kill["attempts"], 1,
        "the attempt was counted before sending"
    );

    // Killed before sending: the gateway never saw the next notice; it goes out after restart.
    y.json(&["case", "accept", &number]);
    let accepted_key = notices(&y, &number)
        .into_iter()
        .find(|n| n["kind"] == "accepted")
        .expect("an acceptance notice")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut serve = Serve::start(
        &serving(&dir, Some("notice-before-send")),
        "serve stopped before sending",
    );
    reached(&mut serve, "notice-before-send");
    drop(serve); // SIGKILL
    let before_send = gateway.hits_for(&accepted_key).len();

    let mut serve = Serve::start(&serving(&dir, None), "serve");
    let received = sent(&y, &number, "received");
    let accepted = sent(&y, &number, "accepted");
    let hits = gateway.hits_for(&key);
    assert_eq!(
        hits.len(),
        2,
        "the gateway saw the key at most twice: {hits:?}"
    );
    assert_eq!(received["attempts"], 2, "{received}");
    assert_eq!(hits[1].api_key, "k-123");
    assert_eq!(hits[1].body["to"], PHONE);
    assert_eq!(hits[1].body["case"], number.as_str());
    assert!(
        hits[1].body["text"].as_str().unwrap().contains(&number),
        "the template filled in: {:?}",
        hits[1].body
    );
    assert_eq!(
        gateway.hits_for(&accepted_key).len(),
        before_send + 1,
        "one delivery of the acceptance after the restart"
    );
    assert!(before_send <= 1, "the kill came before the send");
    assert_eq!(accepted["state"], "sent");

    // A failing gateway: three 500s, each retry later than the one before, then 200.
    gateway.fail_next.store(3, Ordering::SeqCst);
    let second = y.json(&[
        "case",
        "new",
        "--item",
        "TS-004",
        "--applicant",
        "李四",
        "--phone",
        PHONE,
    ]);
    let second = second["number"].as_str().unwrap().to_string();
    let done = sent(&y, &second, "received");
    let key2 = done["id"].as_str().unwrap().to_string();
    let hits = gateway.hits_for(&key2);
    assert_eq!(hits.len(), 4, "three failures and a success: {hits:?}");
    assert_eq!(done["attempts"], 4, "{done}");
    let gaps: Vec<Duration> = hits.windows(2).map(|w| w[1].at - w[0].at).collect();
    // Backoff 200 ms doubling: 200, 400, 800 (poll granularity aside).
    assert!(gaps[0] >= Duration::from_millis(180), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(700), "{gaps:?}");
    assert!(gaps[2] > gaps[0], "the backoff grows: {gaps:?}");
    assert_no_phone(&mut serve);
    crate::sync_e2e::stop(serve);

    // Every notice of both cases ends sent exactly once.
    for n in notices(&y, &number).into_iter().chain(notices(&y, &second)) {
        assert_eq!(n["state"], "sent", "{n}");
    }
    let listed = y.json(&["notice", "list"]);
    assert!(!listed.to_string().contains(PHONE), "{listed}");
}

#[test]
fn a_notice_of_a_case_made_while_the_village_was_offline_is_sent_once_by_its_township() {
    let tmp = tempfile::tempdir().unwrap();
    let ([c, t, v], c_serve) = served_city_and_township(tmp.path());
    let gateway = Gateway::start();
    t.json(&[
        "notice",
        "sender",
        "--gateway",
        &gateway.url,
        "--key",
        "t-key",
    ]);
    let mut t_serve = Serve::start(&serving(t.data(), None), "township serve");
    join(&v, &invite(&t, "V01", "测试村便民服务站", "village"), "V01");

    // The village, offline and without a sender, takes a case in and forwards it.
    let created = v.json(&[
        "case",
        "new",
        "--item",
        "TS-004",
        "--applicant",
        "王五",
        "--phone",
        PHONE,
        "--delegated",
    ]);
    let number = created["number"].as_str().unwrap().to_string();
    v.json(&["case", "forward", "--to", "T01", &number]);
    assert!(
        notices(&v, &number).is_empty(),
        "the village holds no notice"
    );
    assert!(gateway.hits.lock().unwrap().is_empty());

    // One sync: the township queues the notice with the case and sends it.
    let summary = v.json(&["sync", "--timeout", "20"]);
    assert_eq!(summary["reached"], 1, "{summary}");
    let notice = sent(&t, &number, "received");
    let key = notice["id"].as_str().unwrap().to_string();
    assert_eq!(gateway.hits_for(&key).len(), 1);

    // More syncs, the case at the city too: nobody sends it again.
    v.json(&["sync", "--timeout", "20"]);
    let (_, _) = within("the case at the city", || show(&c, &number));
    assert!(notices(&c, &number).is_empty(), "the city holds no notice");
    assert!(
        notices(&v, &number).is_empty(),
        "the village holds no notice"
    );
    let first = gateway.hits_for(&key)[0].at;
    // Give the township's sender a few of its 100 ms polls to misbehave, by polling the
    // gateway until a deadline rather than sleeping.
    let until = first + Duration::from_millis(1500);
    while Instant::now() < until {
        assert_eq!(gateway.hits_for(&key).len(), 1, "sent once");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(gateway.hits.lock().unwrap().len(), 1);
    assert_eq!(notices(&t, &number).len(), 1);
    assert_no_phone(&mut t_serve);
    crate::sync_e2e::stop(t_serve);
    crate::sync_e2e::stop(c_serve);
}
