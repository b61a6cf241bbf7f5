//! The link-quality scenarios, `poor-link` and `flapping`: a city and a township as real `yizhan`
//! processes, each in its own network namespace, with the link emulator's relay as the only path
//! between them (see [`crate::link`]).
//!
//! - `poor-link`: 150 ms each way, 5 % loss, 64 kbit/s from the township to the city and 256
//!   kbit/s back. The township takes in cases with the CLI, then `yizhan sync` passes run until
//!   the city holds them all.
//! - `flapping`: 20 ms each way, 512 kbit/s, no loss; the township takes in a large catch-up,
//!   then both sides run `yizhan serve` (the township dials the city and keeps redialing) while
//!   the link is cut and restored every 2–3 s. The city's case count after each drop must never
//!   go down, and must reach every case.
//!
//! Both check no loss (every case the township acknowledged is at the city) and agreement (the
//! two stores give each case the same status, due date and holder), and report the relay's
//! counters per direction. Without a lab (not root, no `ip netns`) or without the `yizhan`
//! binary they report themselves skipped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use super::RunArgs;
use crate::link::check::{city_and_invite, delta, parse_output, stop, wait_event, yz};
use crate::link::{Lab, LabLink, LabUnavailable, LinkCounters, LinkSpec, Shape};
use crate::rng::Rng;

/// The city's UDP port inside its namespace.
const CITY_PORT: u16 = 7000;

/// Runs `poor-link` or `flapping` on a blocking thread (processes, sleeps and polling).
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
    let lab = match Lab::new(2) {
        Ok(lab) => lab,
        Err(e) => match e.downcast_ref::<LabUnavailable>() {
            Some(why) => return Ok(skipped(name, why)),
            None => return Err(e),
        },
    };
    match name {
        "poor-link" => poor_link(&lab, &yizhan, args),
        "flapping" => flapping(&lab, &yizhan, args),
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

/// A city (node 0) and a township (node 1) enrolled through a relay, the township knowing the
/// city as a peer.
struct Pair {
    _dir: tempfile::TempDir,
    city: PathBuf,
    town: PathBuf,
    link: LabLink,
    city_serve: Child,
    join_ms: u128,
}

impl Pair {
    fn new(lab: &Lab, yizhan: &Path, spec: LinkSpec, seed: u64) -> Result<Pair> {
        let dir = tempfile::Builder::new().prefix("yizhan-netns-").tempdir()?;
        let city = dir.path().join("city");
        let town = dir.path().join("town");
        let link = lab.link(0, Some(CITY_PORT), 1, None, spec, seed)?;
        let ticket = city_and_invite(yizhan, &city, "链路场景网", &link.b_dials.to_string())?;
        let mut city_serve = lab.spawn(
            0,
            Command::new(yizhan).arg("--data").arg(&city).args([
                "--json",
                "serve",
                "--listen",
                &format!("0.0.0.0:{CITY_PORT}"),
            ]),
        )?;
        let set_up = (|| {
            let mut out = BufReader::new(
                city_serve
                    .stdout
                    .take()
                    .ok_or_else(|| anyhow!("serve without stdout"))?,
            );
            let listening = wait_event(&mut out, "listening")?;
            let city_id = listening["node_id"]
                .as_str()
                .ok_or_else(|| anyhow!("serve printed no node id"))?
                .to_string();
            drain(out, None)?;
            let started = Instant::now();
            let joined = lab.output(
                1,
                Command::new(yizhan)
                    .arg("--data")
                    .arg(&town)
                    .args(["--json", "join", &ticket]),
            )?;
            parse_output(&joined, &["join"])?;
            let join_ms = started.elapsed().as_millis();
            yz(
                yizhan,
                &town,
                &["peer", "add", &city_id, &link.b_dials.to_string()],
            )?;
            Ok(join_ms)
        })();
        match set_up {
            Ok(join_ms) => Ok(Pair {
                _dir: dir,
                city,
                town,
                link,
                city_serve,
                join_ms,
            }),
            Err(e) => {
                stop(city_serve);
                Err(e)
            }
        }
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

    fn stop(self) {
        stop(self.city_serve);
    }
}

/// Reads a child's stdout to the end on a thread (so its pipe never fills), counting the JSON
/// lines by their `event` (or `"other"`) into `events` when given.
fn drain(
    out: BufReader<std::process::ChildStdout>,
    events: Option<Arc<Mutex<BTreeMap<String, u64>>>>,
) -> Result<()> {
    std::thread::Builder::new()
        .name("yz-serve-out".into())
        .spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if let Some(events) = &events {
                    let kind = serde_json::from_str::<Value>(&line)
                        .ok()
                        .and_then(|v| v["event"].as_str().map(str::to_string))
                        .unwrap_or_else(|| "other".into());
                    if let Ok(mut e) = events.lock() {
                        *e.entry(kind).or_default() += 1;
                    }
                }
            }
        })?;
    Ok(())
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

fn links_report(spec: &LinkSpec, counters: LinkCounters) -> Value {
    json!([{
        "a": "C0 (city, node 0)",
        "b": "T1 (township, node 1)",
        "spec": spec,
        "city_to_township": counters.a_to_b,
        "township_to_city": counters.b_to_a,
    }])
}

fn size(args: &RunArgs, default: usize, quick: usize) -> usize {
    args.scale
        .unwrap_or(if args.quick { quick } else { default })
        .max(1)
}

fn poor_link(lab: &Lab, yizhan: &Path, args: &RunArgs) -> Result<Value> {
    let started = Instant::now();
    let n = size(args, 200, 40);
    let up = Shape::perfect()
        .delay(Duration::from_millis(150))
        .loss(0.05)
        .kbit(64);
    let down = Shape::perfect()
        .delay(Duration::from_millis(150))
        .loss(0.05)
        .kbit(256);
    let spec = LinkSpec {
        a_to_b: down,
        b_to_a: up,
    };
    // Enrolment goes over the poor link too.
    let pair = Pair::new(lab, yizhan, spec.clone(), args.seed)?;
    let result = (|| {
        let acknowledged = pair.intake(yizhan, n)?;
        let before = pair.link.control.counters();
        let sync_started = Instant::now();
        let deadline = Duration::from_secs(if args.quick { 120 } else { 900 });
        let mut passes = Vec::new();
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
        let ok = [&no_loss, &agreement, &convergence]
            .iter()
            .all(|v| v["ok"].as_bool() == Some(true));
        Ok(json!({
            "scenario": "poor-link",
            "seed": args.seed,
            "ok": ok,
            "cases": n,
            "wall_ms": started.elapsed().as_millis(),
            "invariants": {"no_loss": no_loss, "agreement": agreement, "convergence": convergence},
            "links": links_report(&spec, relay),
            "details": {
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
            },
        }))
    })();
    pair.stop();
    result
}

fn up_time(spec: &LinkSpec, bytes: u64) -> u128 {
    spec.b_to_a.serialization(bytes).as_millis()
}

fn flapping(lab: &Lab, yizhan: &Path, args: &RunArgs) -> Result<Value> {
    let started = Instant::now();
    let n = size(args, 2_000, 300);
    let spec = LinkSpec::symmetric(Shape::perfect().delay(Duration::from_millis(20)).kbit(512));
    let pair = Pair::new(lab, yizhan, spec.clone(), args.seed)?;
    let mut town_serve: Option<Child> = None;
    let result = (|| {
        let acknowledged = pair.intake(yizhan, n)?;
        let before = pair.link.control.counters();
        let events = Arc::new(Mutex::new(BTreeMap::new()));
        let mut child = lab.spawn(
            1,
            Command::new(yizhan).arg("--data").arg(&pair.town).args([
                "--json",
                "serve",
                "--listen",
                "0.0.0.0:0",
            ]),
        )?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("serve without stdout"))?;
        town_serve = Some(child);
        drain(BufReader::new(out), Some(events.clone()))?;
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
        if let Some(c) = town_serve.take() {
            stop(c);
        }
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
        let ok = [&no_loss, &agreement, &convergence]
            .iter()
            .all(|v| v["ok"].as_bool() == Some(true));
        let serve_events = events.lock().map(|e| e.clone()).unwrap_or_default();
        Ok(json!({
            "scenario": "flapping",
            "seed": args.seed,
            "ok": ok,
            "cases": n,
            "wall_ms": started.elapsed().as_millis(),
            "invariants": {"no_loss": no_loss, "agreement": agreement, "convergence": convergence},
            "links": links_report(&spec, relay),
            "details": {
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
            },
        }))
    })();
    if let Some(c) = town_serve {
        stop(c);
    }
    pair.stop();
    result
}
