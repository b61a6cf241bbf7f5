//! The real `yizhan` binary in several processes syncing over loopback: a city, a township and a
//! village enrolled with `invite` / `join`, each with its own `serve`, and a case taken in at the
//! village reaching the city through the township.

use crate::support::{Yizhan, args, stdout_lines};
use serde_json::Value;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest anything here is waited for.
const DEADLINE: Duration = Duration::from_secs(30);
/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(100);

/// A running `yizhan serve`, killed when dropped (a test that panics leaves no process behind).
pub(crate) struct Serve {
    what: String,
    child: Option<Child>,
    lines: Receiver<String>,
    stdout: Vec<String>,
    pub(crate) stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    node_id: String,
    addr: String,
    /// The progress page's address (`serve --http`), from the `listening` line.
    pub(crate) http: Option<String>,
}

impl Serve {
    /// Starts `yizhan --data DIR serve --listen 127.0.0.1:0` and reads its `listening` line.
    pub(crate) fn start(y: &Yizhan, what: &str) -> Serve {
        Serve::start_with(y, what, &["serve", "--listen", "127.0.0.1:0"])
    }

    /// Starts `yizhan --data DIR ARGS` (a `serve`) and reads its `listening` line.
    pub(crate) fn start_with(y: &Yizhan, what: &str, args: &[&str]) -> Serve {
        let mut child = y
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("yizhan serve starts");
        let (lines, reader) = stdout_lines(child.stdout.take().unwrap());
        let mut readers = vec![reader];
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        readers.push(std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }));
        let mut s = Serve {
            what: what.to_string(),
            child: Some(child),
            lines,
            stdout: Vec::new(),
            stderr,
            readers,
            node_id: String::new(),
            addr: String::new(),
            http: None,
        };
        let first = s
            .next_line(DEADLINE)
            .unwrap_or_else(|| panic!("{what}: serve printed no first line\n{}", s.describe()));
        let ev: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("{what}: first line is not JSON ({e}): {first}"));
        assert_eq!(ev["event"], "listening", "{what}: {first}");
        s.node_id = ev["node_id"].as_str().expect("node_id").to_string();
        s.addr = ev["addr"].as_str().expect("addr").to_string();
        s.http = ev["http"].as_str().map(str::to_string);
        assert_eq!(s.node_id.len(), 64, "{what}: {first}");
        assert!(
            s.addr.starts_with("127.0.0.1:") && !s.addr.ends_with(":0"),
            "{what} listens on a loopback port: {first}"
        );
        s
    }

    fn next_line(&mut self, wait: Duration) -> Option<String> {
        match self.lines.recv_timeout(wait) {
            Ok(l) => {
                self.stdout.push(l.clone());
                Some(l)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Everything printed so far, for failure messages.
    pub(crate) fn describe(&mut self) -> String {
        while let Ok(l) = self.lines.try_recv() {
            self.stdout.push(l);
        }
        format!(
            "--- {} stdout:\n{}\n--- stderr:\n{}",
            self.what,
            self.stdout.join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// Sends SIGTERM and waits for the exit; returns the status and every stdout line.
    fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let mut child = self.child.take().unwrap();
        let pid = child.id().to_string();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(kill.success(), "kill -TERM {pid} failed");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve did not stop within {DEADLINE:?} of SIGTERM\n{}",
                    self.describe()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        while let Ok(l) = self.lines.try_recv() {
            self.stdout.push(l);
        }
        (status, std::mem::take(&mut self.stdout))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `probe` every [`POLL`] until it gives a value or [`DEADLINE`] passes.
pub(crate) fn within<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> (T, Duration) {
    let started = Instant::now();
    loop {
        if let Some(v) = probe() {
            return (v, started.elapsed());
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// `case show NUMBER --json` at `y`, if the case is there.
pub(crate) fn show(y: &Yizhan, number: &str) -> Option<Value> {
    let run = y.run(&["--json", "case", "show", number]);
    run.status
        .success()
        .then(|| serde_json::from_str(run.stdout.trim()).expect("case show prints JSON"))
}

pub(crate) fn invite(y: &Yizhan, code: &str, name: &str, tier: &str) -> String {
    let inv = y.json(&["invite", "--code", code, "--name", name, "--tier", tier]);
    assert_eq!(inv["station"], code, "{inv}");
    let ticket = inv["ticket"].as_str().expect("ticket").to_string();
    assert!(ticket.starts_with("yz1"), "{ticket}");
    ticket
}

pub(crate) fn join(y: &Yizhan, ticket: &str, code: &str) -> Value {
    let status = y.json(&["join", ticket]);
    assert_eq!(status["station"], code, "{status}");
    status
}

/// Stops a serve with SIGTERM: exit 0 and a final `stopped` line.
pub(crate) fn stop(serve: Serve) -> Vec<String> {
    let what = serve.what.clone();
    let (status, lines) = serve.terminate();
    assert!(
        status.success(),
        "{what} exited with {status} after SIGTERM:\n{}",
        lines.join("\n")
    );
    let last: Value = serde_json::from_str(lines.last().expect("some output")).unwrap();
    assert_eq!(last, serde_json::json!({ "event": "stopped" }), "{what}");
    for l in &lines {
        let _: Value = serde_json::from_str(l)
            .unwrap_or_else(|e| panic!("{what} printed a line that is not JSON ({e}): {l}"));
    }
    lines
}

/// Three data directories in `tmp` (city `c`, township `t`, village `v`): a new network at the
/// city, served, with the township joined to it; the village has not joined yet.
pub fn served_city_and_township(tmp: &std::path::Path) -> ([Yizhan; 3], Serve) {
    let [c, t, v] = ["c", "t", "v"].map(|name| Yizhan::new(tmp.join(name)));
    c.init_network();
    let c_serve = Serve::start(&c, "city serve");
    join(
        &t,
        &invite(&c, "T01", "测试镇便民服务中心", "township"),
        "T01",
    );
    ([c, t, v], c_serve)
}

#[test]
fn a_village_case_reaches_the_city_through_serving_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let [c, t, v] = ["c", "t", "v"].map(|name| Yizhan::new(tmp.path().join(name)));
    c.init_network();
    // Before `serve` has run there is no address to put in a ticket.
    let err = c.refused(&args("invite --code T01 --name 测试镇 --tier township"));
    assert!(err.contains("serve"), "{err}");

    let c_serve = Serve::start(&c, "city serve");
    let ticket = invite(&c, "T01", "测试镇便民服务中心", "township");
    let t_status = join(&t, &ticket, "T01");
    assert_eq!(t_status["tier"], "township");
    // A ticket works once.
    let again = Yizhan::new(tmp.path().join("t-again"));
    let err = again.refused(&["join", &ticket]);
    assert!(err.contains("already been used"), "{err}");

    let t_serve = Serve::start(&t, "township serve");
    let ticket = invite(&t, "V01", "测试村便民服务站", "village");
    let v_status = join(&v, &ticket, "V01");
    assert_eq!(v_status["tier"], "village");

    // 代办登记 at the village, forwarded (上报) to the township, while the village is offline.
    let created = v.json(&args("case new --item TS-004 --applicant 张三 --delegated"));
    let number = created["number"].as_str().expect("number").to_string();
    assert!(number.starts_with("V01-"), "{number}");
    v.json(&["case", "forward", "--to", "T01", &number]);
    assert!(show(&c, &number).is_none());

    // One pass from the village; the township's serve carries the case on to the city.
    let summary = v.json(&["sync", "--timeout", "20"]);
    assert_eq!(summary["reached"], 1, "{summary}");
    assert!(summary["docs_out"].as_u64().unwrap() >= 1, "{summary}");
    let (at_city, took) = within("the village's case at the city", || show(&c, &number));
    eprintln!("village → township (sync) → city (serve): {took:?}");
    assert_eq!(at_city["number"], number.as_str(), "{at_city}");
    let at_township = show(&t, &number).expect("the township holds the case");
    for key in ["status", "holder", "due_on"] {
        assert_eq!(
            at_city[key], at_township[key],
            "{key}: {at_city} vs {at_township}"
        );
    }

    // The village knows its township, with a last contact.
    let peers = v.json(&["peer", "list"]);
    let township = peers
        .as_array()
        .expect("peer list is an array")
        .iter()
        .find(|p| p["station"] == "T01")
        .unwrap_or_else(|| panic!("T01 not among the village's peers: {peers}"));
    assert_eq!(township["node_id"], t_serve.node_id.as_str());
    assert!(township["last_contact"].is_string(), "{township}");
    assert!(township["last_error"].is_null(), "{township}");

    // With every node serving, an action at the township and a new village case flow by push.
    let v_serve = Serve::start(&v, "village serve");
    t.json(&["case", "accept", &number]);
    let second = v.json(&["case", "new", "--item", "TS-004", "--applicant", "李四"]);
    let second = second["number"].as_str().expect("number").to_string();
    v.json(&["case", "forward", "--to", "T01", &second]);
    let (_, took) = within("the second case at the city", || show(&c, &second));
    eprintln!("village → township → city, all serving: {took:?}");
    let (_, took) = within("the acceptance at the village and the city", || {
        let at_v = show(&v, &number)?;
        let at_c = show(&c, &number)?;
        (at_v["status"] == "accepted" && at_c["status"] == "accepted").then_some(())
    });
    eprintln!("township acceptance → village and city: {took:?}");
    let city_list = c.json(&["case", "list"]);
    assert_eq!(city_list["total"], 2, "{city_list}");

    // SIGTERM: each serve stops cleanly with a final line.
    for s in [v_serve, t_serve, c_serve] {
        let lines = stop(s);
        assert!(lines.len() >= 2, "{lines:?}");
    }
    // The stores are consistent after the stop.
    assert_eq!(show(&c, &second).unwrap()["number"], second.as_str());
}

/// An X server of its own (`Xvfb`), stopped when dropped. `None` when Xvfb is not installed
/// (`.ci/run` installs it, so CI always runs the window tests).
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Option<Xvfb> {
        let mut child = std::process::Command::new("Xvfb")
            .args(args("-displayfd 1 -screen 0 1280x800x24 -nolisten tcp"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // Xvfb writes the display number it chose once it accepts clients.
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("Xvfb's stdout"))
            .read_line(&mut line)
            .expect("Xvfb prints its display");
        let n: u32 = line.trim().parse().expect("a display number");
        Some(Xvfb {
            child,
            display: format!(":{n}"),
        })
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `yizhan --data DIR` with no command: the station window, on the test's X server; killed when
/// dropped.
struct Window {
    child: Child,
}

impl Window {
    fn open(y: &Yizhan, x: &Xvfb) -> Window {
        let child = y
            .command(Vec::<&str>::new())
            .env("DISPLAY", &x.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the window starts");
        Window { child }
    }

    /// Ends the window the hard way (a power cut, a crash): its sync lock goes with it.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `status --json` at `y` says of its peer of station `code`: (pending, last contact).
fn peer_status(y: &Yizhan, code: &str) -> Option<(u64, Option<String>)> {
    let status = y.json(&["status"]);
    let peer = status["peers"]
        .as_array()?
        .iter()
        .find(|p| p["station"] == code)?
        .clone();
    Some((
        peer["pending"].as_u64()?,
        peer["last_contact"].as_str().map(str::to_string),
    ))
}

#[test]
fn stations_that_only_run_the_window_sync_with_the_city() {
    let started = Instant::now();
    let Some(x) = Xvfb::start() else {
        eprintln!("skipped: Xvfb is not installed (apt-get install xvfb)");
        return;
    };
    eprintln!("Xvfb up after {:?}", started.elapsed());
    let tmp = tempfile::tempdir().unwrap();
    let ([c, t, v], c_serve) = served_city_and_township(tmp.path());

    // The township runs only its window. Its engine listens, so it can invite its village.
    let t_window = Window::open(&t, &x);
    let (ticket, took) = within("the township's window listens", || {
        let run = t.run(&args(
            "--json invite --code V01 --name 测试村 --tier village",
        ));
        run.status.success().then(|| {
            let v: Value = serde_json::from_str(run.stdout.trim()).unwrap();
            v["ticket"].as_str().unwrap().to_string()
        })
    });
    eprintln!("the township's window listening after {took:?}");
    join(&v, &ticket, "V01");
    // One engine per data directory: serve beside the window says so and exits non-zero.
    let err = t.refused(&["serve"]);
    assert!(err.contains("already syncs"), "{err}");
    let err = t.refused(&["sync"]);
    assert!(err.contains("already syncs"), "{err}");

    // The village runs only its window too; once its link to the township is up, a case taken
    // in at the village reaches the city through the township's window within 5 s.
    eprintln!("village joined after {:?}", started.elapsed());
    let v_window = Window::open(&v, &x);
    within("the village's window in contact with the township", || {
        peer_status(&v, "T01")?.1.map(|_| ())
    });
    let created = v.json(&args("case new --item TS-004 --applicant 张三 --delegated"));
    let number = created["number"].as_str().expect("number").to_string();
    let (_, took) = within("the village's case at the city", || show(&c, &number));
    eprintln!("village window → township window → city serve: {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // 上报 at the village, accepted at the township (the command line beside its window): the
    // acceptance flows to the village and to the city.
    v.json(&["case", "forward", "--to", "T01", &number]);
    within("the forwarded case at the township", || {
        (show(&t, &number)?["holder"] == "T01").then_some(())
    });
    t.json(&["case", "accept", &number]);
    let (_, took) = within(
        "the township's acceptance at the village and the city",
        || {
            (show(&v, &number)?["status"] == "accepted"
                && show(&c, &number)?["status"] == "accepted")
                .then_some(())
        },
    );
    eprintln!("township window → village window and city serve: {took:?}");

    // After the exchanges nothing is pending on any link, in either direction, and every side
    // has a last contact (the clocks are pinned at NOW).
    for (at, code) in [(&c, "T01"), (&t, "C01"), (&t, "V01"), (&v, "T01")] {
        let (state, _) = within(
            &format!("nothing pending at {} for {code}", at.data().display()),
            || {
                peer_status(at, code)
                    .filter(|(pending, contact)| *pending == 0 && contact.is_some())
            },
        );
        assert_eq!(state.0, 0);
    }

    eprintln!("nothing pending after {:?}", started.elapsed());
    // A window that dies leaves no lock behind: serve starts on the township at once.
    t_window.kill();
    // Without --listen, serve listens where the window did: the village's address stays true.
    let t_serve = Serve::start_with(&t, "township serve after the window", &["serve"]);
    // (The village's window notices that the township's old process is gone only at QUIC's idle
    // timeout, 30 s, and then redials; the township's own case shows that serve took over.)
    let second = t.json(&["case", "new", "--item", "TS-004", "--applicant", "李四"]);
    let second = second["number"].as_str().expect("number").to_string();
    within("the township's case at the city", || show(&c, &second));
    v_window.kill();
    stop(t_serve);
    stop(c_serve);
}

/// Issue #11: a revoked node's `sync` says in one line that it was refused as revoked — not that
/// nothing could be reached, and with no log lines around it.
#[test]
fn a_revoked_node_is_told_so_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let [c, t] = ["c", "t"].map(|name| Yizhan::new(tmp.path().join(name)));
    c.init_network();
    let c_serve = Serve::start(&c, "city serve");
    let status = join(
        &t,
        &invite(&c, "T01", "测试镇便民服务中心", "township"),
        "T01",
    );
    let node_id = status["node_id"].as_str().expect("node id").to_string();
    c.json(&["revoke", &node_id, "--reason", "电脑丢失"]);
    let err = t.refused(&["sync", "--timeout", "20"]);
    assert!(err.contains("revoked"), "{err}");
    assert!(!err.contains("could not be reached"), "{err}");
    stop(c_serve);
}
