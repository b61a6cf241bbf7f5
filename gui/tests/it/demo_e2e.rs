//! `yizhan demo --headless` with the real binary: seven real nodes in one process, driven through
//! its stdin commands; a village's link is cut, cases are taken in there, the link is restored,
//! and the cases are read back from the city's store with the real command line.

use crate::support::{Yizhan, stdout_lines};
use std::io::Write as _;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// The longest anything here is waited for.
const DEADLINE: Duration = Duration::from_secs(60);

/// A running headless demo, killed when dropped.
struct Demo {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Demo {
    fn start(y: &Yizhan, args: &[&str], strip_display: bool) -> Demo {
        let mut cmd = y.bare_command(args);
        if strip_display {
            cmd.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("yizhan demo starts");
        let (lines, _reader) = stdout_lines(child.stdout.take().unwrap());
        let stdin = child.stdin.take().unwrap();
        Demo {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stdout line containing `what`; returns it.
    fn expect(&mut self, what: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(what) {
                        return l;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line with {what:?}; stdout so far:\n{}",
            self.seen.join("\n")
        );
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends `quit` and waits for a clean exit; returns stderr.
    fn quit(mut self) -> String {
        self.send("quit");
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    std::io::Read::read_to_string(&mut e, &mut err).unwrap();
                }
                assert!(status.success(), "demo exited with {status}: {err}");
                return err;
            }
            assert!(Instant::now() < deadline, "demo did not exit after quit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn headless_demo_cut_a_village_take_in_cases_restore_and_see_them_at_the_city() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("county");
    let y = Yizhan::new(tmp.path().join("unused")).without_env("YIZHAN_NOW");
    let mut demo = Demo::start(
        &y,
        &["demo", "--headless", "--dir", dir.to_str().unwrap()],
        false,
    );
    demo.expect("commands:");
    demo.send("cut V11");
    demo.expect("link V11 cut");
    demo.send("new V11 2");
    let took = demo.expect("V11: took in 2 case(s)");
    let ids: Vec<String> = took
        .rsplit(": ")
        .next()
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 2, "{took}");
    // Case numbers, not UUIDs (issue #13).
    assert!(
        ids.iter().all(|n| n.starts_with("V11-") && n.len() < 30),
        "{took}"
    );
    // Bad commands are answered with a clear error and change nothing.
    demo.send("new V99 1");
    demo.expect("error: no station V99");
    demo.send("new V11 many");
    demo.expect("error: \"many\" is not a count");
    demo.send("fly");
    demo.expect("error: unknown command");

    // The demo's stations have accounts (issue #12): the command line signs in as the city's
    // window clerk, with the demo password.
    let city = Yizhan::new(dir.join("C"))
        .without_env("YIZHAN_NOW")
        .env("YIZHAN_OPERATOR", "chuangkou")
        .env("YIZHAN_PASSWORD", yizhan_county::staff::DEMO_PASSWORD);
    for id in &ids {
        city.refused(&["case", "show", id]);
    }
    demo.send("restore V11");
    demo.expect("link V11 restored");
    let deadline = Instant::now() + DEADLINE;
    for id in &ids {
        while !city.run(&["case", "show", id]).status.success() {
            assert!(
                Instant::now() < deadline,
                "case {id} never reached the city; demo said:\n{}",
                demo.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    demo.quit();
}

#[test]
fn the_demo_without_a_display_says_so_and_runs_headless() {
    let tmp = tempfile::tempdir().unwrap();
    let y = Yizhan::new(tmp.path().join("unused")).without_env("YIZHAN_NOW");
    let mut demo = Demo::start(&y, &["demo"], true);
    demo.expect("commands:");
    demo.send("counts");
    demo.expect("C ");
    let err = demo.quit();
    assert!(err.contains("no display found"), "stderr: {err}");
}
