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
use yizhan_node::{Clock, Node, NodeHandle};

use super::RunArgs;
use super::county::{self, DAY0, LAYOUT, Probe, Workload};
use crate::link::check::{city_and_invite, delta, join_in_lab, parse_output, stop, wait_event, yz};
use crate::link::{Lab, LabLink, LabUnavailable, LinkCounters, LinkSpec, Shape};
use crate::rng::Rng;

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

/// A city (node 0) and a township (node 1) enrolled through a relay, the township knowing the
/// city as a peer.
struct Pair {
    city: PathBuf,
    town: PathBuf,
    /// The township's node id.
    town_id: String,
    link: LabLink,
    city_serve: Serve,
    join_ms: u128,
    /// Last, so that it is deleted after the processes using it are gone.
    _dir: tempfile::TempDir,
}

impl Pair {
    fn new(lab: &Lab, yizhan: &Path, spec: LinkSpec, seed: u64) -> Result<Pair> {
        let dir = tempfile::Builder::new().prefix("yizhan-netns-").tempdir()?;
        let city = dir.path().join("city");
        let town = dir.path().join("town");
        let link = lab.link(0, Some(CITY_PORT), 1, None, spec, seed)?;
        let ticket = city_and_invite(yizhan, &city, "链路场景网", &link.b_dials.to_string())?;
        let city_serve = Serve::start(lab, 0, yizhan, &city, CITY_PORT, None)?;
        let started = Instant::now();
        let status = join_in_lab(lab, 1, yizhan, &town, &ticket)?;
        let join_ms = started.elapsed().as_millis();
        let town_id = status["node_id"]
            .as_str()
            .ok_or_else(|| anyhow!("join printed no node id"))?
            .to_string();
        yz(
            yizhan,
            &town,
            &[
                "peer",
                "add",
                &city_serve.node_id,
                &link.b_dials.to_string(),
            ],
        )?;
        Ok(Pair {
            city,
            town,
            town_id,
            link,
            city_serve,
            join_ms,
            _dir: dir,
        })
    }

    /// Takes in `n` cases at the township; their ids, as acknowledged by the CLI.
    fn intake(&self, yizhan: &Path, n: usize) -> Result<Vec<String>> {
        let args = [
            "case",
            "new",
            "--item",
            "TS-004",
            "--applicant",
            "王某",
            "--address",
            "山西省太原市某某区某某镇某某村委会东街",
            "--count",
            &n.to_string(),
        ];
        let out = Command::new(yizhan)
            .arg("--data")
            .arg(&self.town)
            .arg("--json")
            .args(args)
            .output()
            .with_context(|| format!("cannot run {}", yizhan.display()))?;
        parse_output(&out, &args)?;
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["event"].as_str() == Some("created"))
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect();
        if ids.len() != n {
            bail!(
                "asked for {n} cases, the township acknowledged {}",
                ids.len()
            );
        }
        Ok(ids)
    }

    /// Stops the city's serve with SIGTERM; its sessions with the township, as it reported them.
    fn stop(mut self) -> Result<Sessions> {
        self.city_serve.terminate()?;
        Ok(Sessions::of(&self.city_serve.sessions(Some(&self.town_id))))
    }
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

fn poor_link(lab: &Lab, yizhan: &Path, args: &RunArgs) -> Result<Value> {
    let started = Instant::now();
    let n = size(args, 200, 40);
    let spec = LinkSpec::poor();
    // Enrolment goes over the poor link too.
    let pair = Pair::new(lab, yizhan, spec.clone(), args.seed)?;
    let result: Result<(Value, LinkCounters, Sessions)> = (|| {
        let acknowledged = pair.intake(yizhan, n)?;
        let before = pair.link.control.counters();
        let sync_started = Instant::now();
        let deadline = Duration::from_secs(if args.quick { 120 } else { 900 });
        let mut passes = Vec::new();
        let mut town = Sessions::default();
        let (mut bytes_out, mut bytes_in, mut docs_out) = (0u64, 0u64, 0u64);
        let mut at_city = 0;
        while sync_started.elapsed() < deadline {
            let pass_started = Instant::now();
            let out = lab.output(
                1,
                Command::new(yizhan).arg("--data").arg(&pair.town).args([
                    "--json",
                    "sync",
                    "--timeout",
                    "300",
                ]),
            )?;
            let summary = parse_output(&out, &["sync"])?;
            let peer = &summary["peers"][0];
            town.add(peer);
            bytes_out += peer["bytes_out"].as_u64().unwrap_or_default();
            bytes_in += peer["bytes_in"].as_u64().unwrap_or_default();
            docs_out += summary["docs_out"].as_u64().unwrap_or_default();
            at_city = count(yizhan, &pair.city)?;
            passes.push(json!({
                "wall_ms": pass_started.elapsed().as_millis(),
                "summary_ms": peer["ms"],
                "bytes_out": peer["bytes_out"],
                "bytes_in": peer["bytes_in"],
                "docs_out": summary["docs_out"],
                "round_trips": peer["round_trips"],
                "error": peer.get("error"),
                "cases_at_city_after": at_city,
            }));
            if at_city >= n as u64 {
                break;
            }
        }
        let sync_ms = sync_started.elapsed().as_millis();
        let relay = delta(pair.link.control.counters(), before);
        let (no_loss, agreement, city_cases) = check_stores(yizhan, &pair, &acknowledged)?;
        let convergence = json!({
            "ok": city_cases == n && at_city == n as u64,
            "cases_at_city": city_cases,
            "sync_passes": passes.len(),
            "time_to_all_at_city_ms": sync_ms,
        });
        let report = pair_report(
            "poor-link",
            args.seed,
            n,
            started,
            [no_loss, agreement, convergence],
            json!({
                "join_over_poor_link_ms": pair.join_ms,
                "relay_including_join": pair.link.control.counters(),
                "sync_wall_ms": sync_ms,
                "summary_bytes_out": bytes_out,
                "summary_bytes_in": bytes_in,
                "summary_docs_out": docs_out,
                "relay_township_to_city": {
                    "forwarded_bytes": relay.b_to_a.forwarded_bytes,
                    "lost_bytes": relay.b_to_a.lost_bytes,
                    "queue_dropped_bytes": relay.b_to_a.queue_dropped_bytes,
                },
                "relay_city_to_township": {
                    "forwarded_bytes": relay.a_to_b.forwarded_bytes,
                    "lost_bytes": relay.a_to_b.lost_bytes,
                    "queue_dropped_bytes": relay.a_to_b.queue_dropped_bytes,
                },
                "uplink_time_at_cap_ms": up_time(&spec, relay.b_to_a.forwarded_bytes),
                "passes": passes,
            }),
        );
        Ok((report, relay, town))
    })();
    // The city's side of the sessions, complete once its serve has stopped.
    let city = pair.stop();
    let (mut report, relay, town) = result?;
    report["links"] = links_report(&spec, relay, &town, &city?);
    Ok(report)
}

fn up_time(spec: &LinkSpec, bytes: u64) -> u128 {
    spec.b_to_a.serialization(bytes).as_millis()
}

fn flapping(lab: &Lab, yizhan: &Path, args: &RunArgs) -> Result<Value> {
    let started = Instant::now();
    let n = size(args, 2_000, 300);
    let spec = LinkSpec::symmetric(Shape::perfect().delay(Duration::from_millis(20)).kbit(512));
    let pair = Pair::new(lab, yizhan, spec.clone(), args.seed)?;
    let mut town_serve: Option<Serve> = None;
    let result: Result<(Value, LinkCounters, Sessions)> = (|| {
        let acknowledged = pair.intake(yizhan, n)?;
        let before = pair.link.control.counters();
        let serve = town_serve.insert(Serve::start(lab, 1, yizhan, &pair.town, 0, None)?);
        let catch_up_started = Instant::now();
        let deadline = Duration::from_secs(if args.quick { 90 } else { 900 });
        let mut rng = Rng::derive(args.seed, 0x666c6170, 0);
        let mut drops = Vec::new();
        let mut at_city = 0u64;
        let target = n as u64;
        // (ms since the township's serve started, cases at the city) whenever the count changed.
        let mut timeline: Vec<(u128, u64)> = Vec::new();
        // Up for 2–3 s, cut for 2–3 s, until the city holds every case or time runs out.
        'flap: while catch_up_started.elapsed() < deadline {
            let up = Duration::from_millis(u64::from(rng.range(2_000, 3_000)));
            let up_started = Instant::now();
            while up_started.elapsed() < up {
                std::thread::sleep(Duration::from_millis(250));
                at_city = count(yizhan, &pair.city)?;
                if timeline.last().is_none_or(|(_, c)| *c != at_city) {
                    timeline.push((catch_up_started.elapsed().as_millis(), at_city));
                }
                if at_city >= target {
                    break 'flap;
                }
            }
            let down = Duration::from_millis(u64::from(rng.range(2_000, 3_000)));
            let at_cut = count(yizhan, &pair.city)?;
            pair.link.control.cut();
            std::thread::sleep(down);
            at_city = count(yizhan, &pair.city)?;
            pair.link.control.restore();
            drops.push(json!({
                "at_ms": catch_up_started.elapsed().as_millis(),
                "up_ms": up.as_millis(),
                "down_ms": down.as_millis(),
                "cases_at_city_at_cut": at_cut,
                "cases_at_city_after_drop": at_city,
            }));
            if at_city >= target {
                break;
            }
        }
        pair.link.control.restore();
        let catch_up_ms = catch_up_started.elapsed().as_millis();
        // SIGTERM: the township's session with the city ends and reports.
        serve.terminate()?;
        let town = Sessions::of(&serve.sessions(Some(&pair.city_serve.node_id)));
        let relay = delta(pair.link.control.counters(), before);
        let after: Vec<u64> = drops
            .iter()
            .filter_map(|d| d["cases_at_city_after_drop"].as_u64())
            .collect();
        let non_decreasing =
            after.windows(2).all(|w| w[0] <= w[1]) && timeline.windows(2).all(|w| w[0].1 <= w[1].1);
        let (no_loss, agreement, city_cases) = check_stores(yizhan, &pair, &acknowledged)?;
        let convergence = json!({
            "ok": city_cases == n && at_city >= target && non_decreasing && !drops.is_empty(),
            "cases_at_city": city_cases,
            "drops_during_catch_up": drops.len(),
            "city_count_non_decreasing_across_drops": non_decreasing,
            "time_to_all_at_city_ms": catch_up_ms,
        });
        let serve_events = serve.events();
        let report = pair_report(
            "flapping",
            args.seed,
            n,
            started,
            [no_loss, agreement, convergence],
            json!({
                "join_ms": pair.join_ms,
                "drops": drops.len(),
                "cases_at_city_after_each_drop": after,
                "drop_log": drops,
                "city_count_timeline_ms_cases": timeline,
                "catch_up_ms": catch_up_ms,
                "township_serve_events": serve_events,
                "relay_township_to_city_forwarded_bytes": relay.b_to_a.forwarded_bytes,
                "relay_cut_bytes": relay.a_to_b.cut_bytes + relay.b_to_a.cut_bytes,
                "uplink_time_at_cap_ms": up_time(&spec, relay.b_to_a.forwarded_bytes),
            }),
        );
        Ok((report, relay, town))
    })();
    drop(town_serve);
    let city = pair.stop();
    let (mut report, relay, town) = result?;
    report["links"] = links_report(&spec, relay, &town, &city?);
    Ok(report)
}

/// The report of a scenario between a township and the city: it passes when its three invariants
/// (no loss, agreement, convergence) hold.
fn pair_report(
    scenario: &str,
    seed: u64,
    cases: usize,
    started: Instant,
    [no_loss, agreement, convergence]: [Value; 3],
    details: Value,
) -> Value {
    let ok = [&no_loss, &agreement, &convergence]
        .iter()
        .all(|v| v["ok"].as_bool() == Some(true));
    json!({
        "scenario": scenario,
        "seed": seed,
        "ok": ok,
        "cases": cases,
        "wall_ms": started.elapsed().as_millis(),
        "invariants": {"no_loss": no_loss, "agreement": agreement, "convergence": convergence},
        "details": details,
    })
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

/// One link of the namespace county: the child station (side b) dials its parent (side a).
struct CountyLink {
    child: usize,
    parent: usize,
    spec: LinkSpec,
    link: LabLink,
}

/// The county of `partition-heal` in the lab: station `LAYOUT[i]` is node `i` in namespace `i`,
/// a `yizhan serve` on its own store, enrolled through a ticket over its relay.
struct NsCounty {
    links: Vec<CountyLink>,
    serves: Vec<Serve>,
    /// The runner's own handles on the stores (the workload and the invariants), the city first.
    probes: Vec<Probe>,
    threads: Vec<yizhan_node::handle::NodeThread>,
    /// Last, so that it is deleted after the processes using it are gone.
    _dir: tempfile::TempDir,
}

impl NsCounty {
    /// Builds the county: relays first (every station to its parent), then the city's store and
    /// serve, then each station invited by its parent's store, joined from inside its namespace
    /// through its relay, and started.
    fn new(lab: &Lab, yizhan: &Path, seed: u64) -> Result<NsCounty> {
        let dir = tempfile::Builder::new()
            .prefix("yizhan-partition-")
            .tempdir()?;
        let data: Vec<PathBuf> = LAYOUT.iter().map(|s| dir.path().join(s.0)).collect();
        let index = |code: &str| {
            LAYOUT
                .iter()
                .position(|s| s.0 == code)
                .ok_or_else(|| anyhow!("no station {code} in the layout"))
        };
        let mut links = Vec::new();
        for (i, &(_, _, tier, parent)) in LAYOUT.iter().enumerate().skip(1) {
            // A township's line to the city is better than a village's to its township.
            let shape = if tier == "township" {
                Shape::perfect()
                    .delay(Duration::from_millis(20))
                    .kbit(4_000)
            } else {
                Shape::perfect()
                    .delay(Duration::from_millis(40))
                    .kbit(1_000)
            };
            let spec = LinkSpec::symmetric(shape);
            let p = index(parent)?;
            let link = lab.link(
                p,
                Some(CITY_PORT),
                i,
                Some(CITY_PORT),
                spec.clone(),
                seed.wrapping_add(i as u64),
            )?;
            links.push(CountyLink {
                child: i,
                parent: p,
                spec,
                link,
            });
        }
        let (city_code, city_name, _, _) = LAYOUT[0];
        yz_day0(
            yizhan,
            &data[0],
            &[
                "init",
                "--network",
                "太原市政务服务网",
                "--code",
                city_code,
                "--name",
                city_name,
            ],
        )?;
        let mut serves = vec![Serve::start(
            lab,
            0,
            yizhan,
            &data[0],
            CITY_PORT,
            Some(DAY0_RFC3339),
        )?];
        for (l, &(code, name, tier, parent)) in links.iter().zip(&LAYOUT[1..]) {
            let invited = yz_day0(
                yizhan,
                &data[l.parent],
                &[
                    "invite",
                    "--code",
                    code,
                    "--name",
                    name,
                    "--tier",
                    tier,
                    "--parent",
                    parent,
                    "--addr",
                    &l.link.b_dials.to_string(),
                ],
            )?;
            let ticket = invited["ticket"]
                .as_str()
                .ok_or_else(|| anyhow!("invite printed no ticket"))?;
            let mut join = Command::new(yizhan);
            join.arg("--data")
                .arg(&data[l.child])
                .args(["--json", "join", ticket])
                .env("YIZHAN_NOW", DAY0_RFC3339);
            parse_output(&lab.output(l.child, &join)?, &["join"])
                .with_context(|| format!("{code} joining at {parent}"))?;
            serves.push(Serve::start(
                lab,
                l.child,
                yizhan,
                &data[l.child],
                CITY_PORT,
                Some(DAY0_RFC3339),
            )?);
        }
        let mut probes = Vec::new();
        let mut threads = Vec::new();
        for (d, &(code, ..)) in data.iter().zip(LAYOUT) {
            let node = Node::open(d, Clock::Fixed(DAY0))?;
            let station = node.identity().station.clone();
            let (handle, thread) = NodeHandle::spawn(node)?;
            probes.push(Probe {
                name: code.to_string(),
                station,
                handle,
            });
            threads.push(thread);
        }
        Ok(NsCounty {
            links,
            serves,
            probes,
            threads,
            _dir: dir,
        })
    }

    /// Moves the runner's clock on every store to simulated day `day`, 09:00.
    fn set_day(&self, day: i64) -> Result<()> {
        let clock = Clock::Fixed(DAY0 + day * county::DAY_MS);
        for p in &self.probes {
            p.handle.call(move |n| {
                n.set_clock(clock);
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Polls until every store holds the city's version of every document in its scope; the
    /// time it took.
    fn wait_converged(&self, limit: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            if county::converged(&self.probes)? {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                let report = county::invariants(&self.probes, &BTreeSet::new())?;
                bail!(
                    "the county did not converge within {limit:?}: {}",
                    report["convergence"]
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls until node `at` holds every one of `ids`; the time it took.
    fn wait_at(&self, at: usize, ids: &[String], limit: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            let probe = ids.to_vec();
            if self.probes[at]
                .handle
                .call(move |n| Ok(probe.iter().all(|id| n.case(id).is_ok())))?
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > limit {
                bail!(
                    "{} cases did not all reach {} within {limit:?}",
                    ids.len(),
                    self.probes[at].name
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One simulated day at every station: intake everywhere (villages forward to their
    /// township), the villages' cases reaching their township over the links that are up, then
    /// a day's handling everywhere. The cases taken in, by station.
    fn work_day(
        &self,
        work: &mut Workload,
        day: i64,
        per_station: usize,
    ) -> Result<Vec<Vec<String>>> {
        self.set_day(day)?;
        let mut taken = Vec::new();
        for (p, &(_, _, tier, _)) in self.probes.iter().zip(LAYOUT) {
            taken.push(work.intake_on(&p.handle, tier, per_station)?);
        }
        for l in self.links.iter().filter(|l| LAYOUT[l.child].2 == "village") {
            self.wait_at(l.parent, &taken[l.child], Duration::from_secs(60))?;
        }
        for p in &self.probes {
            work.handle_day_on(&p.handle, 500)?;
        }
        Ok(taken)
    }

    /// The links whose child is a township (the ones the partition cuts).
    fn township_links(&self) -> impl Iterator<Item = &CountyLink> {
        self.links
            .iter()
            .filter(|l| LAYOUT[l.child].2 == "township")
    }

    /// Session reports on both sides of each township–city link so far: (at the township, at the
    /// city).
    fn township_session_counts(&self) -> Vec<(usize, usize)> {
        self.township_links()
            .map(|l| {
                let (c, p) = (&self.serves[l.child], &self.serves[l.parent]);
                (
                    c.sessions(Some(&p.node_id)).len(),
                    p.sessions(Some(&c.node_id)).len(),
                )
            })
            .collect()
    }

    /// Stops every serve with SIGTERM, leaves first, so that each session ends while the parent
    /// still runs and reports it too.
    fn terminate(&mut self) -> Result<()> {
        for s in self.serves.iter_mut().rev() {
            s.terminate()?;
        }
        Ok(())
    }

    /// Closes the runner's store handles and waits for their threads.
    fn close(&mut self) {
        self.probes.clear();
        for t in self.threads.drain(..) {
            t.join();
        }
    }
}

impl Drop for NsCounty {
    fn drop(&mut self) {
        self.close();
    }
}

fn partition_heal(lab: &Lab, yizhan: &Path, args: &RunArgs) -> Result<Value> {
    let started = Instant::now();
    let n = size(args, 3_000, 210).max(49);
    let days: i64 = 7;
    let per_station = n / days as usize / LAYOUT.len();
    let mut county = NsCounty::new(lab, yizhan, args.seed)?;
    let setup_ms = started.elapsed().as_millis();
    let mut work = Workload::new(args.seed);
    // Every enrolment (certificates, roster) known everywhere before the work starts.
    let enrolled_ms = county.wait_converged(Duration::from_secs(120))?.as_millis();
    // Day 0 with every link up.
    county.work_day(&mut work, 0, per_station)?;
    let day0_ms = county.wait_converged(Duration::from_secs(120))?.as_millis();
    // The cut: both township–city relays drop everything, both ways.
    let sessions_at_cut = county.township_session_counts();
    let at_cut: Vec<LinkCounters> = county
        .township_links()
        .map(|l| {
            l.link.control.cut();
            l.link.control.counters()
        })
        .collect();
    let cut_at = Instant::now();
    // A simulated week of work on both sides of the cut.
    let mut under_townships: Vec<String> = Vec::new();
    for day in 1..days {
        let taken = county.work_day(&mut work, day, per_station)?;
        // Everything but the city's own intake was taken in under a township.
        for ids in taken.into_iter().skip(1) {
            under_townships.extend(ids);
        }
    }
    let week_ms = cut_at.elapsed().as_millis();
    // The partition is real once both ends of each township–city session have given up (QUIC's
    // idle timeout): a cut shorter than that is bridged by the transport itself.
    let deadline = Instant::now() + Duration::from_secs(120);
    let dropped = loop {
        let now = county.township_session_counts();
        if now
            .iter()
            .zip(&sessions_at_cut)
            .all(|(n, c)| n.0 > c.0 && n.1 > c.1)
        {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let sessions_ended_ms = cut_at.elapsed().as_millis();
    if !dropped {
        bail!("the township–city sessions were still up 120 s after the cut");
    }
    let city_cases_while_cut = county.probes[0]
        .handle
        .call(|n| n.count(&Default::default()))?;
    let probe = under_townships.clone();
    let leaked = county.probes[0]
        .handle
        .call(move |n| Ok(probe.iter().filter(|id| n.case(id).is_ok()).count()))?;
    let at_heal: Vec<LinkCounters> = county
        .township_links()
        .map(|l| {
            let c = l.link.control.counters();
            l.link.control.restore();
            c
        })
        .collect();
    let cut_ms = cut_at.elapsed().as_millis();
    let all_at_heal: Vec<LinkCounters> = county
        .links
        .iter()
        .map(|l| l.link.control.counters())
        .collect();
    let heal = county.wait_converged(Duration::from_secs(if args.quick { 240 } else { 900 }))?;
    let all_at_converged: Vec<LinkCounters> = county
        .links
        .iter()
        .map(|l| l.link.control.counters())
        .collect();
    // A village's case reaching the city with every link up again.
    let v11 = 3;
    let one = work.intake_on(&county.probes[v11].handle, "village", 1)?;
    let visible = county.wait_at(0, &one, Duration::from_secs(60))?;
    county.wait_converged(Duration::from_secs(60))?;
    let invariants = county::invariants(&county.probes, &work.acknowledged)?;
    county.terminate()?;
    let mut links = Vec::new();
    let mut clean_sessions = true;
    for (k, l) in county.links.iter().enumerate() {
        let (c, p) = (&county.serves[l.child], &county.serves[l.parent]);
        let child = Sessions::of(&c.sessions(Some(&p.node_id)));
        let parent = Sessions::of(&p.sessions(Some(&c.node_id)));
        // As in the in-process runner: a lost connection (what a cut does) is not a session
        // error; a refusal or a protocol error is.
        clean_sessions &= child
            .errors
            .iter()
            .chain(&parent.errors)
            .all(|e| e.starts_with("connection: "));
        let relay = l.link.control.counters();
        let healed = delta(all_at_converged[k], all_at_heal[k]);
        let mut link = json!({
            "link": format!("{}–{}", LAYOUT[l.child].0, LAYOUT[l.parent].0),
            "spec": l.spec,
            "bytes_up": relay.b_to_a.forwarded_bytes,
            "bytes_down": relay.a_to_b.forwarded_bytes,
            "bytes_up_heal_to_convergence": healed.b_to_a.forwarded_bytes,
            "bytes_down_heal_to_convergence": healed.a_to_b.forwarded_bytes,
            "relay": {"up": relay.b_to_a, "down": relay.a_to_b},
            "sessions": parent.sessions,
            "session_bytes_up": parent.bytes_in,
            "session_bytes_down": parent.bytes_out,
            "messages_up": parent.msgs_in,
            "messages_down": parent.msgs_out,
            "session_errors": child.errors.iter().chain(&parent.errors).collect::<BTreeSet<_>>(),
            "cut": LAYOUT[l.child].2 == "township",
        });
        if let (Some(o), Value::Object(rt)) = (link.as_object_mut(), round_trips(&child, &parent)) {
            o.extend(rt);
        }
        links.push(link);
    }
    let partition: Vec<Value> = county
        .township_links()
        .zip(at_cut.iter().zip(&at_heal))
        .map(|(l, (cut, heal))| {
            let d = delta(*heal, *cut);
            json!({
                "link": format!("{}–{}", LAYOUT[l.child].0, LAYOUT[l.parent].0),
                "forwarded_bytes_while_cut": d.forwarded_bytes(),
                "dropped_bytes_while_cut": d.a_to_b.cut_bytes + d.b_to_a.cut_bytes,
            })
        })
        .collect();
    let partition_held = leaked == 0;
    let ok = partition_held
        && clean_sessions
        && ["convergence", "no_loss", "scope", "agreement"]
            .iter()
            .all(|k| invariants[k]["ok"].as_bool() == Some(true));
    let cases = work.acknowledged.len();
    county.close();
    Ok(json!({
        "scenario": "partition-heal",
        "seed": args.seed,
        "ok": ok,
        "mode": "namespaces: one `yizhan serve` per node, relays between them",
        "cases": cases,
        "actions": work.actions,
        "actions_refused_by_nodes": work.refused_actions,
        "setup_ms": setup_ms,
        "time_to_convergence_ms": heal.as_millis(),
        "village_case_visible_at_city_ms": visible.as_millis(),
        "wall_ms": started.elapsed().as_millis(),
        "invariants": invariants,
        "sessions_without_errors": clean_sessions,
        "links": links,
        "details": {
            "simulated_days": days,
            "days_cut": days - 1,
            "enrolment_known_everywhere_ms": enrolled_ms,
            "day0_to_convergence_ms": day0_ms,
            "week_of_work_while_cut_ms": week_ms,
            "sessions_given_up_after_cut_ms": sessions_ended_ms,
            "cut_ms": cut_ms,
            "city_cases_while_cut": city_cases_while_cut,
            "cases_taken_in_under_townships_while_cut": under_townships.len(),
            "of_them_at_city_before_heal": leaked,
            "partition_held": partition_held,
            "partition": partition,
            "heal_to_convergence_ms": heal.as_millis(),
        },
    }))
}
