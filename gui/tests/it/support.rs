//! Helpers for the end-to-end tests: they run the real `yizhan` binary.
//!
//! [`binary`] is the `yizhan` binary cargo built for this package's tests
//! (`CARGO_BIN_EXE_yizhan`), or the one `YIZHAN_BIN` names (to test a given build).
//!
//! [`Yizhan`] runs the binary on one data directory with a pinned clock and a clean environment,
//! and checks the contract of DESIGN.md section 8: exit 0 and (with `--json`) one JSON document
//! on stdout, or a non-zero exit with one `error: …` line on stderr.

use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

/// The clock the tests pin with `YIZHAN_NOW` (a Monday, a working day).
pub const NOW: &str = "2026-03-02T09:00:00+08:00";

/// The store file inside a data directory.
pub const STORE_FILE: &str = "yizhan.sqlite3";

/// Environment variables the binary reads; removed from every command so that the caller's
/// environment cannot leak into a test.
const YIZHAN_ENV: [&str; 6] = [
    "YIZHAN_DATA",
    "YIZHAN_NOW",
    "YIZHAN_OPERATOR",
    "YIZHAN_LOG",
    "YIZHAN_PASSWORD",
    "YIZHAN_NEW_PASSWORD",
];

/// The path of the `yizhan` binary: `YIZHAN_BIN` if set, else the one cargo built beside these
/// tests.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = std::env::var_os("YIZHAN_BIN")
            .filter(|b| !b.is_empty())
            .map_or_else(
                || PathBuf::from(env!("CARGO_BIN_EXE_yizhan")),
                PathBuf::from,
            );
        assert!(
            bin.is_file(),
            "the yizhan binary {} is not a file",
            bin.display()
        );
        bin
    })
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// The arguments, for messages.
    pub args: Vec<String>,
    /// How it exited.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// A description for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "`yizhan {}` exited with {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }

    /// Panics unless the run exited 0; returns stdout.
    pub fn success(self) -> String {
        assert!(
            self.status.success(),
            "expected success: {}",
            self.describe()
        );
        self.stdout
    }

    /// Panics unless the run failed the way the contract says a refused command fails: a
    /// non-zero exit code (not a crash), nothing on stdout, and exactly one stderr line starting
    /// with `error: `. Returns that line.
    pub fn refused(self) -> String {
        assert!(
            !self.status.success(),
            "expected failure: {}",
            self.describe()
        );
        assert!(
            self.status.code().is_some_and(|c| c != 101),
            "expected an error exit, not a crash or a panic: {}",
            self.describe()
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked: {}",
            self.describe()
        );
        assert!(
            self.stdout.is_empty(),
            "a refused command printed to stdout: {}",
            self.describe()
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("error: "),
            "expected exactly one stderr line `error: …`: {}",
            self.describe()
        );
        lines[0].to_string()
    }
}

/// The binary bound to one data directory.
#[derive(Debug, Clone)]
pub struct Yizhan {
    data: PathBuf,
    env: Vec<(String, String)>,
}

impl Yizhan {
    /// Runs on `data`, with the clock pinned at [`NOW`].
    pub fn new(data: impl Into<PathBuf>) -> Yizhan {
        Yizhan {
            data: data.into(),
            env: vec![("YIZHAN_NOW".into(), NOW.into())],
        }
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// The store file.
    pub fn store_file(&self) -> PathBuf {
        self.data.join(STORE_FILE)
    }

    /// Sets (or replaces) an environment variable for every later command.
    pub fn env(mut self, key: &str, value: &str) -> Yizhan {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes an environment variable set with [`Yizhan::env`] (or the pinned clock).
    pub fn without_env(mut self, key: &str) -> Yizhan {
        self.env.retain(|(k, _)| k != key);
        self
    }

    /// The command `yizhan ARGS` with a clean environment, without `--data`.
    pub fn bare_command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(binary());
        for key in YIZHAN_ENV {
            cmd.env_remove(key);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .args(args);
        cmd
    }

    /// The command `yizhan --data DIR ARGS`.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.bare_command(["--data".as_ref(), self.data.as_os_str()]);
        cmd.args(args);
        cmd
    }

    /// Runs `yizhan --data DIR ARGS` to the end.
    pub fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args), args)
    }

    /// Runs `yizhan --data DIR ARGS`, which must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).success()
    }

    /// Runs `yizhan --data DIR --json ARGS`, which must succeed and print one JSON document.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        parse_json(&self.run(&all))
    }

    /// Runs `yizhan --data DIR ARGS`, which must be refused (see [`Run::refused`]); returns the
    /// error line.
    pub fn refused(&self, args: &[&str]) -> String {
        self.run(args).refused()
    }

    /// `init` a network `测试市` whose city station is `C01`, and nothing else.
    pub fn init_network(&self) -> &Yizhan {
        let status = self.json(&args(
            "init --network 测试市 --code C01 --name 测试市政务服务中心",
        ));
        assert_eq!(status["station"], "C01", "{status}");
        self
    }

    /// `init` a network whose city station is `C01`, with township `T01` and its village `V01`.
    pub fn init_city(&self) -> &Yizhan {
        self.init_network();
        self.json(&args(
            "station add --code T01 --name 测试镇便民服务中心 --tier township --parent C01",
        ));
        self.json(&args(
            "station add --code V01 --name 测试村便民服务站 --tier village --parent T01",
        ));
        self
    }

    /// The store's change sequence (`status --json` field `seq`).
    pub fn seq(&self) -> i64 {
        let status = self.json(&["status"]);
        status["seq"]
            .as_i64()
            .unwrap_or_else(|| panic!("status has no seq: {status}"))
    }

    /// The number of cases (`case list --json` field `total`).
    pub fn case_total(&self) -> u64 {
        let list = self.json(&["case", "list", "--limit", "1"]);
        list["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("case list has no total: {list}"))
    }

    /// What a refused command must leave unchanged.
    pub fn mark(&self) -> Mark {
        Mark {
            seq: self.seq(),
            cases: self.case_total(),
        }
    }

    /// Panics if anything was written since `mark`.
    pub fn assert_unchanged(&self, mark: Mark, what: &str) {
        let now = self.mark();
        assert_eq!(now, mark, "{what} wrote to the store");
    }

    /// Takes in one case of `item` and returns `(id, number)`.
    pub fn new_case(&self, item: &str, applicant: &str) -> (String, String) {
        let created = self.json(&["case", "new", "--item", item, "--applicant", applicant]);
        assert_eq!(created["event"], "created", "{created}");
        (
            created["id"].as_str().expect("created.id").to_string(),
            created["number"]
                .as_str()
                .expect("created.number")
                .to_string(),
        )
    }
}

/// The store's state as far as "nothing was written" is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The change sequence.
    pub seq: i64,
    /// The number of cases.
    pub cases: u64,
}

/// A command line's arguments written as one line, split at whitespace: for arguments that hold
/// none, so that a test reads like the shell.
pub fn args(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Runs a prepared command to the end.
pub fn run_command(mut cmd: Command, args: &[&str]) -> Run {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary().display()));
    Run {
        args: args.iter().map(|a| (*a).to_string()).collect(),
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Checks that a run succeeded and printed exactly one JSON document on one line.
pub fn parse_json(run: &Run) -> Value {
    assert!(run.status.success(), "expected success: {}", run.describe());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line of JSON: {}",
        run.describe()
    );
    serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", run.describe()))
}

/// The lines a child prints on `stdout` (piped), as they come: a thread reads them until the
/// stream ends or the receiver is dropped.
pub fn stdout_lines(
    stdout: impl std::io::Read + Send + 'static,
) -> (Receiver<String>, JoinHandle<()>) {
    use std::io::BufRead as _;
    let (tx, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (lines, reader)
}
