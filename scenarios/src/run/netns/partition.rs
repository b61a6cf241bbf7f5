//! `partition-heal`: the whole county, every node a `yizhan serve` in its own namespace, the
//! township–city links cut for a simulated week and then restored.

use super::{CITY_PORT, DAY0_RFC3339, Serve, Sessions, round_trips, size, yz_day0};
use crate::link::check::{delta, parse_output};
use crate::link::{Lab, LabLink, LinkCounters, LinkSpec, Shape};
use crate::run::RunArgs;
use crate::run::county::{self, DAY0, LAYOUT, Probe, Workload};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use yizhan_node::{Clock, Node, NodeHandle};

/// One link of the namespace county: the child station (side b) dials its parent (side a).
pub(super) struct CountyLink {
    pub(super) child: usize,
    pub(super) parent: usize,
    pub(super) spec: LinkSpec,
    pub(super) link: LabLink,
}

/// The county of `partition-heal` in the lab: station `LAYOUT[i]` is node `i` in namespace `i`,
/// a `yizhan serve` on its own store, enrolled through a ticket over its relay.
pub(super) struct NsCounty {
    pub(super) links: Vec<CountyLink>,
    pub(super) serves: Vec<Serve>,
    /// The runner's own handles on the stores (the workload and the invariants), the city first.
    pub(super) probes: Vec<Probe>,
    pub(super) threads: Vec<yizhan_node::handle::NodeThread>,
    /// Last, so that it is deleted after the processes using it are gone.
    pub(super) _dir: tempfile::TempDir,
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

pub(super) fn partition_heal(lab: &Lab, yizhan: &Path, args: &RunArgs) -> Result<Value> {
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
