//! The two-node scenarios, `poor-link` and `flapping`: a city and a township in their own
//! namespaces, the township enrolled over the link.

use super::{CITY_PORT, Serve, Sessions, check_stores, count, links_report, size};
use crate::link::check::{city_and_invite, delta, join_in_lab, parse_output, township_intake, yz};
use crate::link::{Lab, LabLink, LinkCounters, LinkSpec, Shape};
use crate::rng::Rng;
use crate::run::RunArgs;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A city (node 0) and a township (node 1) enrolled through a relay, the township knowing the
/// city as a peer.
pub(super) struct Pair {
    pub(super) city: PathBuf,
    pub(super) town: PathBuf,
    /// The township's node id.
    pub(super) town_id: String,
    pub(super) link: LabLink,
    pub(super) city_serve: Serve,
    pub(super) join_ms: u128,
    /// Last, so that it is deleted after the processes using it are gone.
    pub(super) _dir: tempfile::TempDir,
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
        let count = n.to_string();
        let args = township_intake("山西省太原市某某区某某镇某某村委会东街", &count);
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

pub(super) fn poor_link(lab: &Lab, yizhan: &Path, args: &RunArgs) -> Result<Value> {
    let n = size(args, 200, 40);
    let run = PairRun::start("poor-link", args.seed, n);
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
        let report = run.report(
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

pub(super) fn up_time(spec: &LinkSpec, bytes: u64) -> u128 {
    spec.b_to_a.serialization(bytes).as_millis()
}

pub(super) fn flapping(lab: &Lab, yizhan: &Path, args: &RunArgs) -> Result<Value> {
    let n = size(args, 2_000, 300);
    let run = PairRun::start("flapping", args.seed, n);
    // Since protocol version 3 packs the changes (about a quarter of their Automerge encoding),
    // the quick set's 300 cases crossed 512 kbit/s in about a second, before the first cut: the
    // link is slower now, so that the catch-up lasts several seconds and the cuts land in it.
    let spec = LinkSpec::symmetric(Shape::perfect().delay(Duration::from_millis(20)).kbit(128));
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
        // Up for 2–3 s (the first time 0.5–1 s, so that the first cut falls into the first
        // frame's transfer), cut for 2–3 s, until the city holds every case or time runs out.
        'flap: while catch_up_started.elapsed() < deadline {
            let up = if drops.is_empty() {
                Duration::from_millis(u64::from(rng.range(500, 1_000)))
            } else {
                Duration::from_millis(u64::from(rng.range(2_000, 3_000)))
            };
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
        let report = run.report(
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

/// One run of a scenario between a township and the city: what its report names it by, and
/// when it started.
pub(super) struct PairRun {
    scenario: &'static str,
    seed: u64,
    cases: usize,
    started: Instant,
}

impl PairRun {
    /// Starts the clock of a run of `scenario` over `cases` cases.
    pub(super) fn start(scenario: &'static str, seed: u64, cases: usize) -> PairRun {
        PairRun {
            scenario,
            seed,
            cases,
            started: Instant::now(),
        }
    }

    /// The run's report: it passes when its three invariants (no loss, agreement, convergence)
    /// hold.
    pub(super) fn report(
        &self,
        [no_loss, agreement, convergence]: [Value; 3],
        details: Value,
    ) -> Value {
        let ok = [&no_loss, &agreement, &convergence]
            .iter()
            .all(|v| v["ok"].as_bool() == Some(true));
        json!({
            "scenario": self.scenario,
            "seed": self.seed,
            "ok": ok,
            "cases": self.cases,
            "wall_ms": self.started.elapsed().as_millis(),
            "invariants": {"no_loss": no_loss, "agreement": agreement, "convergence": convergence},
            "details": details,
        })
    }
}
