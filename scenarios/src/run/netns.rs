//! The link-quality scenarios, `poor-link`, `flapping` and `partition-heal`: real `yizhan`
//! processes, each node in its own network namespace, with the link emulator's relays as the only
//! paths between them (see [`crate::link`]).
//!
//! - `poor-link`: a city and a township; 150 ms each way, 5 % loss, 64 kbit/s from the township
//!   to the city and 256 kbit/s back. The township takes in cases with the CLI, then `yizhan
//!   sync` passes run until the city holds them all.
//! - `flapping`: a city and a township; 20 ms each way, 512 kbit/s, no loss; the township takes
//!   in a large catch-up, then both sides run `yizhan serve` (the township dials the city and
//!   keeps redialing) while the link is cut and restored every 2–3 s. The city's case count after
//!   each drop must never go down, and must reach every case.
//! - `partition-heal`: the whole county (a city, two townships, two villages under each), every
//!   node a `yizhan serve` enrolled through tickets over its relay. After a day of work with every
//!   link up, both township–city relays are cut for a simulated week: villages keep taking in
//!   cases and forwarding them to their township, townships handle them, the city approves its
//!   own cases. The cut holds until both ends of each township–city session have given up (QUIC's
//!   idle timeout), so the partition is a real one; then the relays are restored and the time
//!   until every store holds the city's version of every document in its scope is measured.
//!
//! The two-node scenarios check no loss (every case the township acknowledged is at the city)
//! and agreement (the two stores give each case the same status, due date and holder);
//! `partition-heal` checks the county runner's four invariants on the stores themselves
//! ([`super::county::invariants`]). The workload of `partition-heal` is written by this process
//! into each node's store through the node library, as the CLI does, beside the node's running
//! `yizhan serve` (several processes on one store are supported). Every report carries the
//! relay's counters per link and direction, and the round trips of each link's sessions as both
//! sides counted them (`yizhan sync --json` and the `session` lines of `yizhan serve`, stopped
//! with SIGTERM so that the last sessions report too). Without a lab (not root, no `ip netns`)
//! or without the `yizhan` binary the scenarios report themselves skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use super::RunArgs;
use super::county::LAYOUT;
use crate::link::check::{parse_output, stop, wait_event, yz};
use crate::link::{Lab, LabUnavailable, LinkCounters, LinkSpec};

mod partition;
mod two_nodes;

use partition::partition_heal;
use two_nodes::{Pair, flapping, poor_link};

/// The city's UDP port inside its namespace (every node of `partition-heal` listens on it too).
const CITY_PORT: u16 = 7000;

/// Day 0 of the county runner ([`DAY0`]) as `YIZHAN_NOW` takes it: the clock of every `yizhan`
/// process of `partition-heal`, so that invitations, enrolments and the runner's own writes share
/// one calendar.
const DAY0_RFC3339: &str = "2026-03-02T09:00:00+08:00";

/// Runs a namespace scenario on a blocking thread (processes, sleeps and polling).
pub async fn run(name: &str, args: &RunArgs) -> Result<Value> {
    let name = name.to_string();
    let args = args.clone();
    tokio::task::spawn_blocking(move || run_blocking(&name, &args))
        .await
        .context("the namespace scenario's thread panicked")?
}

fn skipped(name: &str, why: impl std::fmt::Display) -> Value {
    json!({"scenario": name, "ok": false, "skipped": why.to_string()})
}

fn run_blocking(name: &str, args: &RunArgs) -> Result<Value> {
    if let Err(why) = crate::link::check_available() {
        return Ok(skipped(name, why));
    }
    let Some(yizhan) = yizhan_binary() else {
        return Ok(skipped(
            name,
            "build the yizhan binary first (cargo build -p yizhan)",
        ));
    };
    let nodes = if name == "partition-heal" {
        LAYOUT.len()
    } else {
        2
    };
    let lab = match Lab::new(nodes) {
        Ok(lab) => lab,
        Err(e) => match e.downcast_ref::<LabUnavailable>() {
            Some(why) => return Ok(skipped(name, why)),
            None => return Err(e),
        },
    };
    match name {
        "poor-link" => poor_link(&lab, &yizhan, args),
        "flapping" => flapping(&lab, &yizhan, args),
        "partition-heal" => partition_heal(&lab, &yizhan, args),
        other => bail!("no namespace scenario {other:?}"),
    }
}

/// `yizhan` beside this executable, or in the target directory when this is a test binary in
/// `target/<profile>/deps`.
fn yizhan_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let mut candidates = vec![dir.join("yizhan")];
    if dir.file_name().is_some_and(|n| n == "deps")
        && let Some(target) = dir.parent()
    {
        candidates.push(target.join("yizhan"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// A `yizhan serve` running in a namespace, every JSON line it prints collected by a thread (so
/// its pipe never fills). Killed when dropped; [`Serve::terminate`] stops it with SIGTERM so that
/// its running sessions end and report.
struct Serve {
    child: Option<Child>,
    /// The node's id, from its `listening` line.
    node_id: String,
    lines: Arc<Mutex<Vec<Value>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Serve {
    /// Starts `yizhan --data DATA --json serve --listen 0.0.0.0:PORT` in node `n`'s namespace,
    /// with `YIZHAN_NOW` set when `now` is given, and waits for its `listening` line.
    fn start(
        lab: &Lab,
        n: usize,
        yizhan: &Path,
        data: &Path,
        port: u16,
        now: Option<&str>,
    ) -> Result<Serve> {
        let mut cmd = Command::new(yizhan);
        cmd.arg("--data").arg(data).args([
            "--json",
            "serve",
            "--listen",
            &format!("0.0.0.0:{port}"),
        ]);
        if let Some(now) = now {
            cmd.env("YIZHAN_NOW", now);
        }
        let mut child = lab.spawn(n, &cmd)?;
        let out = child.stdout.take();
        let mut serve = Serve {
            child: Some(child),
            node_id: String::new(),
            lines: Arc::new(Mutex::new(Vec::new())),
            reader: None,
        };
        let mut out = BufReader::new(out.ok_or_else(|| anyhow!("serve without stdout"))?);
        let listening = wait_event(&mut out, "listening")?;
        serve.node_id = listening["node_id"]
            .as_str()
            .ok_or_else(|| anyhow!("serve printed no node id"))?
            .to_string();
        let lines = serve.lines.clone();
        serve.reader = Some(
            std::thread::Builder::new()
                .name("yz-serve-out".into())
                .spawn(move || {
                    for line in out.lines().map_while(Result::ok) {
                        let v = serde_json::from_str::<Value>(&line)
                            .unwrap_or_else(|_| json!({"event": "other", "line": line}));
                        if let Ok(mut l) = lines.lock() {
                            l.push(v);
                        }
                    }
                })?,
        );
        Ok(serve)
    }

    /// The session reports printed so far (`"event": "session"`), with `peer` when given.
    fn sessions(&self, peer: Option<&str>) -> Vec<Value> {
        self.lines
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|v| v["event"].as_str() == Some("session"))
                    .filter(|v| peer.is_none_or(|p| v["peer"].as_str() == Some(p)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Lines printed so far, counted by their `event`.
    fn events(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        if let Ok(l) = self.lines.lock() {
            for v in l.iter() {
                let kind = v["event"].as_str().unwrap_or("other").to_string();
                *out.entry(kind).or_default() += 1;
            }
        }
        out
    }

    /// Stops the process with SIGTERM (its sessions end and report, then it prints `stopped`) and
    /// waits for its output to end; SIGKILL if it has not exited within 20 s.
    fn terminate(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let exited = loop {
            if child.try_wait()?.is_some() {
                break true;
            }
            if Instant::now() > deadline || !sent.as_ref().is_ok_and(|s| s.success()) {
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if !exited {
            stop(child);
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if !exited {
            bail!("yizhan serve (pid {pid}) did not stop within 20 s of SIGTERM");
        }
        Ok(())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child);
        }
    }
}

/// Sums what a set of session reports (JSON, as `yizhan serve` and `yizhan sync --json` print
/// them) say: sessions, bytes, messages, round trips, errors.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Sessions {
    sessions: u64,
    bytes_in: u64,
    bytes_out: u64,
    msgs_in: u64,
    msgs_out: u64,
    round_trips: u64,
    errors: BTreeSet<String>,
}

impl Sessions {
    fn add(&mut self, report: &Value) {
        let n = |k: &str| report[k].as_u64().unwrap_or_default();
        self.sessions += 1;
        self.bytes_in += n("bytes_in");
        self.bytes_out += n("bytes_out");
        self.msgs_in += n("msgs_in");
        self.msgs_out += n("msgs_out");
        self.round_trips += n("round_trips");
        if let Some(e) = report["error"].as_str() {
            self.errors.insert(e.to_string());
        }
    }

    fn of(reports: &[Value]) -> Sessions {
        let mut s = Sessions::default();
        for r in reports {
            s.add(r);
        }
        s
    }
}

/// The round trips of a link as both sides counted them.
fn round_trips(child: &Sessions, parent: &Sessions) -> Value {
    json!({
        "round_trips": child.round_trips + parent.round_trips,
        "round_trips_child_waited": child.round_trips,
        "round_trips_parent_waited": parent.round_trips,
    })
}

/// Cases in a store (`case list` total; works while a `serve` holds the store).
fn count(yizhan: &Path, data: &Path) -> Result<u64> {
    let v = yz(yizhan, data, &["case", "list", "--limit", "1"])?;
    v["total"]
        .as_u64()
        .ok_or_else(|| anyhow!("case list printed no total"))
}

/// Every case of a store: id → (status, due date, holder).
fn cases(yizhan: &Path, data: &Path) -> Result<BTreeMap<String, Value>> {
    let v = yz(
        yizhan,
        data,
        &["case", "list", "--limit", "1000000", "--sort", "oldest"],
    )?;
    let list = v["cases"]
        .as_array()
        .ok_or_else(|| anyhow!("case list printed no cases"))?;
    let total = v["total"].as_u64().unwrap_or_default();
    if list.len() as u64 != total {
        bail!("case list gave {} of {total} cases", list.len());
    }
    Ok(list
        .iter()
        .filter_map(|c| {
            let id = c["id"].as_str()?.to_string();
            Some((
                id,
                json!({"status": c["status"], "due_on": c["due_on"], "holder": c["holder"]}),
            ))
        })
        .collect())
}

/// The no-loss and agreement invariants between the township and the city.
fn check_stores(
    yizhan: &Path,
    pair: &Pair,
    acknowledged: &[String],
) -> Result<(Value, Value, usize)> {
    let city = cases(yizhan, &pair.city)?;
    let town = cases(yizhan, &pair.town)?;
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !city.contains_key(*id))
        .collect();
    let no_loss = json!({
        "ok": missing.is_empty(),
        "acknowledged_at_township": acknowledged.len(),
        "at_city": city.len(),
        "missing_at_city": missing.len(),
        "missing_examples": missing.iter().take(5).collect::<Vec<_>>(),
    });
    let mut compared = 0usize;
    let mut disagreeing = Vec::new();
    for (id, t) in &town {
        if let Some(c) = city.get(id) {
            compared += 1;
            if c != t {
                disagreeing.push(json!({"id": id, "city": c, "township": t}));
            }
        }
    }
    let agreement = json!({
        "ok": disagreeing.is_empty() && compared == town.len(),
        "compared": compared,
        "at_township": town.len(),
        "disagreeing": disagreeing.len(),
        "examples": disagreeing.into_iter().take(5).collect::<Vec<_>>(),
    });
    Ok((no_loss, agreement, city.len()))
}

/// The one link of a two-node scenario: its spec, the relay's counters per direction, and what
/// the sessions over it reported on each side.
fn links_report(
    spec: &LinkSpec,
    counters: LinkCounters,
    town: &Sessions,
    city: &Sessions,
) -> Value {
    let mut link = json!({
        "link": "T1–C0",
        "a": "C0 (city, node 0)",
        "b": "T1 (township, node 1)",
        "spec": spec,
        "bytes_up": counters.b_to_a.forwarded_bytes,
        "bytes_down": counters.a_to_b.forwarded_bytes,
        "city_to_township": counters.a_to_b,
        "township_to_city": counters.b_to_a,
        "sessions_township": town,
        "sessions_city": city,
    });
    if let (Some(l), Value::Object(rt)) = (link.as_object_mut(), round_trips(town, city)) {
        l.extend(rt);
    }
    json!([link])
}

fn size(args: &RunArgs, default: usize, quick: usize) -> usize {
    args.scale
        .unwrap_or(if args.quick { quick } else { default })
        .max(1)
}

/// Runs `yizhan --data DATA --json ARGS` outside the lab (store-only commands) on day 0.
fn yz_day0(yizhan: &Path, data: &Path, args: &[&str]) -> Result<Value> {
    let out = Command::new(yizhan)
        .arg("--data")
        .arg(data)
        .arg("--json")
        .args(args)
        .env("YIZHAN_NOW", DAY0_RFC3339)
        .output()
        .with_context(|| format!("cannot run {}", yizhan.display()))?;
    parse_output(&out, args)
}
