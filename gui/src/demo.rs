//! `yizhan demo`: a whole county on this machine.
//!
//! Seven real nodes (city 清河市政务服务中心, townships 东岭镇 and 西湾乡, two villages under
//! each), built by the county kit ([`yizhan_county::County`]): each with its own SQLite store
//! under one directory, its own `NodeHandle` store thread and its own iroh endpoint on
//! 127.0.0.1, enrolled exactly as stations are in the field, through a ticket redeemed over the
//! network. Every village keeps a continuous session with its township and every township with
//! the city, so a case taken in at a village flows up by itself; a link is cut by stopping the
//! child's session task and restored by starting it again (see the kit for why sessions, not
//! packets). The demo adds its layout's names, its people (each station's accounts, all with the
//! password [`yizhan_county::staff::DEMO_PASSWORD`]; the window opens signed in as the person at
//! each station's window), a few weeks of seeded work at each station, and a stream of
//! applications.
//!
//! The county answers the window from memory ([`County`]): a background task refreshes each
//! station's sync status and case count twice a second. `--headless` prints what flows where
//! and takes commands on stdin (`cut V11`, `restore V11`, `new V11 3`, `stream on`, `quit`).

use crate::app::{County, LinkInfo, StationSyncStatus};
use anyhow::{Context, Result, anyhow, bail};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use yizhan_county::Rng;
use yizhan_county::staff::{self, Staff};
use yizhan_county::workload::{VILLAGE_ITEMS, person_name};
use yizhan_node::case::Action;
use yizhan_node::query::CaseFilter;
use yizhan_node::{Clock, NewCase, Node, NodeHandle};
use yizhan_sync::net::SyncNode;

/// How often the county refreshes its status snapshot.
const STATUS_EVERY: Duration = Duration::from_millis(500);
/// How often the stream of applications brings in a case.
const STREAM_EVERY: Duration = Duration::from_millis(1_500);

/// Options of `yizhan demo`.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Where the stores live; a temporary directory, removed at exit, when absent.
    pub dir: Option<PathBuf>,
    /// Seed of the generated cases.
    pub seed: u64,
}

/// What the background task last saw, for the window and the headless printer.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    status: Vec<StationSyncStatus>,
    cases: Vec<u64>,
}

/// The demo county: seven nodes, six links (the county kit's), a stream of applications.
#[derive(Debug)]
pub struct DemoCounty {
    rt: Option<tokio::runtime::Runtime>,
    county: yizhan_county::County,
    stream: Option<JoinHandle<()>>,
    snapshot: Arc<Mutex<Snapshot>>,
    rng: Arc<Mutex<Rng>>,
    /// Each member's people, in member order.
    staff: Vec<Staff>,
    _tmp: Option<tempfile::TempDir>,
}

/// The materials of an item, as a clerk ticks them when the applicant brought everything
/// (issue #13: what was received is recorded at intake); `but_last` leaves the last one out.
fn materials_of(node: &Node, item: &str, but_last: bool) -> Vec<String> {
    let mut m = node
        .catalog()
        .get(item)
        .map(|i| i.materials.clone())
        .unwrap_or_default();
    if but_last {
        m.pop();
    }
    m
}

/// Takes in a delegated case at a village and forwards it to the village's township; its case
/// number (what the headless demo prints: a clerk reads numbers, not ids).
fn village_intake(node: &mut Node, rng: &mut Rng) -> yizhan_node::Result<String> {
    let township = node.station()?.parent.clone();
    let item = *rng.pick(VILLAGE_ITEMS);
    let view = node.new_case(&NewCase {
        item_code: item.into(),
        applicant_name: person_name(rng),
        delegated: true,
        entrustment: true,
        // One material still to come: the township's one-time notice has something to ask.
        handed_over: materials_of(node, item, true),
        operator: "代办员".into(),
        ..NewCase::default()
    })?;
    node.act(&view.doc.id, &Action::Forward { to: township }, "代办员")?;
    Ok(view.doc.number)
}

/// Takes in a case of `item` for a made-up applicant at `operator`'s window, with the guide's
/// materials handed over (all, or all but the last); its id.
fn window_intake(
    node: &mut Node,
    rng: &mut Rng,
    item: &str,
    operator: &str,
    but_last: bool,
) -> yizhan_node::Result<String> {
    let view = node.new_case(&NewCase {
        item_code: item.into(),
        applicant_name: person_name(rng),
        operator: operator.into(),
        handed_over: materials_of(node, item, but_last),
        ..NewCase::default()
    })?;
    Ok(view.doc.id)
}

/// A few weeks' worth of work at each station, so that every screen has something to show. The
/// node's operator (the person at the window) acts, and each department's reviewer signs off.
fn seed(node: &mut Node, tier: &str, staff: &Staff, rng: &mut Rng) -> yizhan_node::Result<()> {
    match tier {
        "village" => {
            for _ in 0..6 {
                village_intake(node, rng)?;
            }
            for item in ["VL-001", "VL-005", "VL-006"] {
                let id = window_intake(node, rng, item, "代办员", false)?;
                node.act(&id, &Action::Accept, "代办员")?;
                node.act(&id, &Action::Complete, "代办员")?;
            }
        }
        "township" => {
            for i in 0..12 {
                // Completed cases use items without departments; the building permit
                // (TS-006, two departments in parallel) waits on one of them.
                let item = if i % 4 == 3 {
                    *rng.pick(&["TS-003", "TS-004", "TS-007"])
                } else {
                    *rng.pick(&["TS-003", "TS-004", "TS-006", "TS-007"])
                };
                let id = window_intake(node, rng, item, "窗口", i % 4 == 2)?;
                match i % 4 {
                    0 => {}
                    1 => {
                        node.act(&id, &Action::Accept, "窗口")?;
                        if item == "TS-006" {
                            let approve = Action::Approve {
                                dept: "乡镇农业农村办公室".to_string(),
                            };
                            let reviewer = staff.for_action(&approve);
                            node.with_session(reviewer, |n| n.act(&id, &approve, ""))??;
                        }
                    }
                    2 => {
                        node.act(
                            &id,
                            &Action::RequestMaterials {
                                missing: vec!["收入证明".into()],
                            },
                            "窗口",
                        )?;
                    }
                    _ => {
                        node.act(&id, &Action::Accept, "窗口")?;
                        node.act(&id, &Action::Complete, "窗口")?;
                        node.act(&id, &Action::Deliver, "窗口")?;
                        let level = if i % 8 == 3 { 5 } else { 1 };
                        node.act(
                            &id,
                            &Action::Rate {
                                level,
                                comment: String::new(),
                            },
                            "窗口",
                        )?;
                    }
                }
            }
        }
        _ => {
            for i in 0..8 {
                let item = *rng.pick(&["CT-001", "CT-002", "CT-009", "CT-013"]);
                let id = window_intake(node, rng, item, "综合窗口", false)?;
                if i % 2 == 0 {
                    node.act(&id, &Action::Accept, "综合窗口")?;
                }
            }
        }
    }
    Ok(())
}

impl DemoCounty {
    /// Builds the county, seeds it and starts every session.
    pub fn start(opts: &DemoOptions) -> Result<DemoCounty> {
        let (tmp, dir) = match &opts.dir {
            Some(d) => {
                if d.join("C").exists() {
                    bail!(
                        "{} already holds a demo county; give an empty directory",
                        d.display()
                    );
                }
                (None, d.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("yizhan-demo-")
                    .tempdir()
                    .context("cannot create a directory for the demo stores")?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("yizhan-demo")
            .enable_all()
            .build()
            .context("cannot start the demo's runtime")?;
        // Every station enrolled at its parent through a ticket, every link up.
        let county = rt.block_on(yizhan_county::County::build(
            &dir,
            yizhan_county::DEMO_COUNTY,
            "清河市",
            Clock::System,
        ))?;
        // Each station's people, then a few weeks' worth of work at each station; it flows up
        // over the links.
        let rng = Arc::new(Mutex::new(Rng::new(opts.seed)));
        let mut people = Vec::with_capacity(county.members.len());
        for (i, m) in county.members.iter().enumerate() {
            let (tier, rng) = (m.tier.clone(), rng.clone());
            let salt = opts.seed.wrapping_add(i as u64);
            let staff = m.handle.call(move |n| {
                let staff = staff::create(n, salt)?;
                let mut rng = rng
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                seed(n, &tier, &staff, &mut rng)?;
                Ok(staff)
            })?;
            people.push(staff);
        }
        let county = DemoCounty {
            rt: Some(rt),
            county,
            stream: None,
            snapshot: Arc::new(Mutex::new(Snapshot::default())),
            rng,
            staff: people,
            _tmp: tmp,
        };
        county.spawn_status();
        Ok(county)
    }

    fn rt(&self) -> Option<&tokio::runtime::Runtime> {
        self.rt.as_ref()
    }

    /// The window's station slots, in layout order.
    pub fn slots(&self) -> Vec<crate::app::StationSlot> {
        self.county
            .members
            .iter()
            .map(|s| crate::app::StationSlot {
                label: s.label.clone(),
                handle: s.handle.clone(),
                sync: None,
            })
            .collect()
    }

    /// The index of a station by code.
    pub fn station_index(&self, code: &str) -> Option<usize> {
        self.county.index(code).ok()
    }

    /// The link whose child is the station `code`.
    pub fn link_of(&self, code: &str) -> Option<usize> {
        self.county.link_of(code).ok()
    }

    /// A station's store handle.
    pub fn handle(&self, code: &str) -> Option<NodeHandle> {
        Some(
            self.county.members[self.station_index(code)?]
                .handle
                .clone(),
        )
    }

    /// Takes in `n` delegated cases at village `code` and forwards them to its township, as
    /// the village's agent.
    pub fn intake(&self, code: &str, n: usize) -> Result<Vec<String>> {
        let i = self
            .station_index(code)
            .ok_or_else(|| anyhow!("no station {code} in the demo county"))?;
        let handle = self.county.members[i].handle.clone();
        let agent = self.staff[i].window.clone();
        let rng = self.rng.clone();
        Ok(handle.call(move |node| {
            let mut rng = rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            node.with_session(&agent, |node| {
                (0..n).map(|_| village_intake(node, &mut rng)).collect()
            })?
        })?)
    }

    /// The login of the person at station `code`'s window, as the demo signs them in.
    pub fn window_login(&self, code: &str) -> Option<&str> {
        Some(
            self.staff
                .get(self.station_index(code)?)?
                .window_login
                .as_str(),
        )
    }

    /// Each station's case count, as last observed.
    pub fn case_counts(&self) -> Vec<(String, u64)> {
        let snap = self
            .snapshot
            .lock()
            .map(|s| s.cases.clone())
            .unwrap_or_default();
        self.county
            .members
            .iter()
            .zip(snap.into_iter().chain(std::iter::repeat(0)))
            .map(|(s, n)| (s.station.clone(), n))
            .collect()
    }

    fn spawn_status(&self) {
        let Some(rt) = self.rt() else { return };
        let snapshot = self.snapshot.clone();
        let stations: Vec<(String, NodeHandle, Arc<SyncNode>)> = self
            .county
            .members
            .iter()
            .map(|s| (s.label.clone(), s.handle.clone(), s.net.clone()))
            .collect();
        let ids: Vec<String> = self.county.members.iter().map(|s| s.id.clone()).collect();
        rt.spawn(async move {
            let mut tick = tokio::time::interval(STATUS_EVERY);
            loop {
                tick.tick().await;
                let mut snap = Snapshot::default();
                for (label, handle, sync) in &stations {
                    let h = handle.clone();
                    let observed = tokio::task::spawn_blocking(move || {
                        h.call(|node| {
                            let cases = node.count(&CaseFilter::default())?;
                            let peers = node.peers()?;
                            let mut pending = 0;
                            for p in &peers {
                                pending += node.pending_for(p).unwrap_or(0);
                            }
                            Ok((cases, peers, pending))
                        })
                    })
                    .await;
                    let Ok(Ok((cases, peers, pending))) = observed else {
                        continue;
                    };
                    let connected = ids.iter().filter(|id| sync.is_active(id)).count();
                    let last = peers.iter().filter_map(|p| p.last_contact).max();
                    let last_error = peers
                        .iter()
                        .filter(|p| p.last_contact.is_none() || p.last_error.is_some())
                        .find_map(|p| p.last_error.clone());
                    snap.cases.push(cases);
                    snap.status.push(StationSyncStatus {
                        label: label.clone(),
                        connected_peers: connected,
                        pending_docs: pending,
                        last_sync_ms: last,
                        last_error,
                    });
                }
                if let Ok(mut s) = snapshot.lock() {
                    *s = snap;
                }
            }
        });
    }

    /// Stops every session, endpoint and store thread.
    pub fn shutdown(&mut self) {
        self.set_streaming(false);
        if let Some(rt) = self.rt.take() {
            rt.block_on(self.county.shutdown());
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        for t in self.county.stop() {
            t.join();
        }
    }
}

/// The demo county for the window's start screen (seed 1, stores in a temporary directory).
pub fn open_for_window() -> Result<crate::app::AppInit> {
    let county = DemoCounty::start(&DemoOptions { dir: None, seed: 1 })?;
    Ok(crate::app::AppInit {
        stations: county.slots(),
        county: Some(Box::new(county)),
    })
}

impl Drop for DemoCounty {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl County for DemoCounty {
    fn links(&self) -> Vec<LinkInfo> {
        let members = &self.county.members;
        self.county
            .links
            .iter()
            .enumerate()
            .map(|(id, l)| LinkInfo {
                id,
                a: members[l.child].label.clone(),
                b: members[l.parent].label.clone(),
                up: l.is_up(),
            })
            .collect()
    }

    fn set_link(&mut self, id: usize, up: bool) {
        self.county.set_link(id, up);
    }

    fn streaming(&self) -> bool {
        self.stream.is_some()
    }

    fn set_streaming(&mut self, on: bool) {
        match (on, self.stream.take()) {
            (true, None) => {
                let Some(rt) = self.rt() else { return };
                // Each village with its agent's session: locking the window (which signs its
                // person out) does not stop the stream.
                let villages: Vec<(NodeHandle, yizhan_node::Session)> = self
                    .county
                    .members
                    .iter()
                    .zip(&self.staff)
                    .filter(|(m, _)| m.tier == "village")
                    .map(|(m, s)| (m.handle.clone(), s.window.clone()))
                    .collect();
                let rng = self.rng.clone();
                self.stream = Some(rt.spawn(async move {
                    let mut tick = tokio::time::interval(STREAM_EVERY);
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        let i = {
                            let mut r = rng
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            r.below(villages.len().max(1))
                        };
                        let Some((h, agent)) = villages.get(i).cloned() else {
                            return;
                        };
                        let rng = rng.clone();
                        let made = tokio::task::spawn_blocking(move || {
                            h.call(move |n| {
                                let mut r = rng
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                n.with_session(&agent, |n| village_intake(n, &mut r))?
                            })
                        })
                        .await;
                        if let Ok(Err(e)) = made {
                            tracing::warn!("demo intake failed: {e}");
                        }
                    }
                }));
            }
            (true, Some(s)) => self.stream = Some(s),
            (false, Some(s)) => s.abort(),
            (false, None) => {}
        }
    }

    fn sync_status(&self) -> Vec<StationSyncStatus> {
        self.snapshot
            .lock()
            .map(|s| s.status.clone())
            .unwrap_or_default()
    }
}

/// Runs the county without a window: prints each station's case count as it changes and takes
/// commands on stdin until `quit`, end of input, or Ctrl-C.
pub fn run_headless(mut county: DemoCounty, out: &mut dyn std::io::Write) -> Result<()> {
    writeln!(out, "demo county running headless; stores and endpoints:")?;
    for s in &county.county.members {
        let addrs: Vec<String> = s.addrs.iter().map(ToString::to_string).collect();
        writeln!(out, "  {:<4} {}  {}", s.station, s.label, addrs.join(","))?;
    }
    writeln!(
        out,
        "commands: cut CODE | restore CODE | new CODE [N] | stream on|off | counts | quit"
    )?;
    out.flush()?;
    let (tx, mut rx) = mpsc::channel::<String>(16);
    std::thread::Builder::new()
        .name("yizhan-demo-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        })
        .context("cannot read commands")?;
    let mut last: Vec<(String, u64)> = Vec::new();
    let mut stdin_open = true;
    let rt_handle = county
        .rt()
        .map(|r| r.handle().clone())
        .ok_or_else(|| anyhow!("the county is not running"))?;
    loop {
        let command = rt_handle.block_on(async {
            tokio::select! {
                line = rx.recv(), if stdin_open => Some(line),
                _ = tokio::time::sleep(Duration::from_millis(500)) => None,
                _ = tokio::signal::ctrl_c() => Some(Some("quit".to_string())),
            }
        });
        let counts = county.case_counts();
        if counts != last && counts.iter().any(|c| c.1 > 0) {
            let line: Vec<String> = counts
                .iter()
                .map(|(code, n)| {
                    let before = last.iter().find(|c| &c.0 == code).map_or(*n, |c| c.1);
                    if *n > before {
                        format!("{code} {n} (+{})", n - before)
                    } else {
                        format!("{code} {n}")
                    }
                })
                .collect();
            writeln!(
                out,
                "[{}] cases: {}",
                chrono::Local::now().format("%H:%M:%S"),
                line.join("  ")
            )?;
            out.flush()?;
            last = counts;
        }
        let Some(line) = command else { continue };
        let Some(line) = line else {
            stdin_open = false;
            continue;
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            [] => continue,
            ["quit"] | ["exit"] => break,
            ["cut" | "restore", code] => match county.link_of(code) {
                Some(id) => {
                    let up = words[0] == "restore";
                    county.set_link(id, up);
                    format!("link {code} {}", if up { "restored" } else { "cut" })
                }
                None => format!("error: {code} has no link to a parent (try V11, T1 …)"),
            },
            ["new", code] | ["new", code, _] => {
                let n = match words.get(2).map(|w| w.parse::<usize>()) {
                    None => Ok(1),
                    Some(Ok(n)) if (1..=1_000).contains(&n) => Ok(n),
                    Some(_) => Err(format!(
                        "error: {:?} is not a count from 1 to 1000",
                        words[2]
                    )),
                };
                match n {
                    Err(e) => e,
                    Ok(n) => match county.intake(code, n) {
                        Ok(ids) => format!(
                            "{code}: took in {} case(s) and forwarded them: {}",
                            ids.len(),
                            ids.join(" ")
                        ),
                        Err(e) => format!("error: {e:#}"),
                    },
                }
            }
            ["stream", on @ ("on" | "off")] => {
                county.set_streaming(*on == "on");
                format!("stream {on}")
            }
            ["counts"] => {
                let c: Vec<String> = county
                    .case_counts()
                    .iter()
                    .map(|(code, n)| format!("{code} {n}"))
                    .collect();
                c.join("  ")
            }
            _ => format!("error: unknown command {line:?}"),
        };
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    county.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::time::Instant;

    /// Polls `f` until it is true or `secs` pass.
    fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn holds(county: &DemoCounty, code: &str, ids: &[String]) -> bool {
        let h = county.handle(code).unwrap();
        let ids = ids.to_vec();
        h.call(move |n| Ok(ids.iter().all(|id| n.case(id).is_ok())))
            .unwrap()
    }

    fn holds_none(county: &DemoCounty, code: &str, ids: &[String]) -> bool {
        let h = county.handle(code).unwrap();
        let ids = ids.to_vec();
        h.call(move |n| Ok(ids.iter().all(|id| n.case(id).is_err())))
            .unwrap()
    }

    #[test]
    fn a_village_works_offline_and_its_cases_reach_the_city_when_the_link_returns() {
        let tmp = tempfile::tempdir().unwrap();
        let mut county = DemoCounty::start(&DemoOptions {
            dir: Some(tmp.path().to_path_buf()),
            seed: 1,
        })
        .unwrap();
        assert_eq!(county.links().len(), 6);
        let v11 = county.link_of("V11").unwrap();
        county.set_link(v11, false);
        assert!(!county.links()[v11].up);
        let offline = county.intake("V11", 3).unwrap();
        // Another village's case proves the county is syncing meanwhile.
        let online = county.intake("V12", 1).unwrap();
        assert!(
            eventually(60, || holds(&county, "C", &online)),
            "V12's case never reached the city"
        );
        assert!(holds_none(&county, "C", &offline));
        assert!(holds_none(&county, "T1", &offline));
        county.set_link(v11, true);
        assert!(
            eventually(60, || holds(&county, "C", &offline)),
            "V11's cases never reached the city after the link came back"
        );
        assert!(holds(&county, "T1", &offline));
        // Scope: the other township never sees them.
        assert!(holds_none(&county, "T2", &offline));
        county.shutdown();
    }
}
